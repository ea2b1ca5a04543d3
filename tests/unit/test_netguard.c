/* services/netguard.c: which addresses a webhook may reach, and its URLs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <string.h>

#include "../../services/netguard.h"

static int is_public(const char *text)
{
    struct sockaddr_storage ss = {0};
    if (strchr(text, ':') != NULL) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, text, &a->sin6_addr), 1);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, text, &a->sin_addr), 1);
    }
    return ztp_netguard_addr_public((struct sockaddr *)&ss);
}

static void addresses_are_classified(void **state)
{
    static const struct {
        const char *addr;
        int public;
    } cases[] = {
        {"10.0.0.1", 0},        {"10.255.255.255", 0}, {"172.16.0.1", 0},      {"172.31.255.254", 0},
        {"172.15.255.255", 1},  {"172.32.0.1", 1},     {"192.168.1.1", 0},     {"192.169.0.1", 1},
        {"127.0.0.1", 0},       {"127.255.0.7", 0},    {"169.254.169.254", 0}, {"100.64.0.1", 0},
        {"100.127.255.255", 0}, {"100.128.0.1", 1},    {"0.0.0.0", 0},         {"0.1.2.3", 0},
        {"224.0.0.1", 0},       {"255.255.255.255", 0}, {"192.0.2.10", 0},     {"198.18.0.1", 0},
        {"8.8.8.8", 1},         {"93.184.216.34", 1},  {"1.1.1.1", 1},
        {"::1", 0},             {"::", 0},             {"fe80::1", 0},         {"febf::1", 0},
        {"fc00::1", 0},         {"fdff:ffff::1", 0},   {"ff02::1", 0},         {"2001:db8::1", 0},
        {"::ffff:10.0.0.1", 0}, {"::ffff:127.0.0.1", 0}, {"::ffff:8.8.8.8", 1}, {"::127.0.0.1", 0},
        {"64:ff9b::a00:1", 0},  {"64:ff9b::808:808", 1}, {"2002:0a00:0001::1", 0}, {"2002:0808:0808::1", 1},
        {"2001::1", 0},         {"2606:4700:4700::1111", 1}, {"2a00:1450:4001::1", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (is_public(cases[i].addr) != cases[i].public)
            fail_msg("%s: expected %s", cases[i].addr, cases[i].public ? "public" : "not public");
    }
}

static void urls_are_parsed(void **state)
{
    ztp_netguard_url_t u;
    char err[128];

    assert_int_equal(ztp_netguard_parse_url("https://hooks.example.com/x?y=1", 0, &u, err, sizeof(err)), 0);
    assert_string_equal(u.scheme, "https");
    assert_string_equal(u.host, "hooks.example.com");
    assert_string_equal(u.port, "443");
    assert_int_equal(ztp_netguard_parse_url("https://[2001:db8::1]:8443/", 0, &u, err, sizeof(err)), 0);
    assert_string_equal(u.host, "2001:db8::1");
    assert_string_equal(u.port, "8443");
    assert_int_equal(ztp_netguard_parse_url("http://10.0.0.1:8080/", 1, &u, err, sizeof(err)), 0);
    assert_string_equal(u.port, "8080");

    static const char *const bad[] = {"http://example.com/", "ftp://example.com/", "file:///etc/passwd",
                                      "gopher://example.com/", "https://user:pw@example.com/", "https:///x",
                                      "example.com/x", "https://exa mple.com/", "https://example.com/\n",
                                      "https://1.1.1.1:0/", "https://example.com:00/", "https://example.com:65536/",
                                      ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (ztp_netguard_parse_url(bad[i], 0, &u, err, sizeof(err)) == 0)
            fail_msg("accepted %s", bad[i]);
}

static void hosts_that_resolve_inward_are_refused(void **state)
{
    char err[256];
    /* literal addresses need no resolver: inet_aton's forms included */
    assert_int_equal(ztp_netguard_check_host("127.0.0.1", "443", 0, err, sizeof(err)), -1);
    assert_int_equal(ztp_netguard_check_host("2130706433", "443", 0, err, sizeof(err)), -1);
    assert_int_equal(ztp_netguard_check_host("0x7f000001", "443", 0, err, sizeof(err)), -1);
    assert_int_equal(ztp_netguard_check_host("::ffff:10.0.0.1", "443", 0, err, sizeof(err)), -1);
    assert_int_equal(ztp_netguard_check_host("93.184.216.34", "443", 0, err, sizeof(err)), 0);
    assert_int_equal(ztp_netguard_check_host("127.0.0.1", "443", 1, err, sizeof(err)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(addresses_are_classified),
        cmocka_unit_test(urls_are_parsed),
        cmocka_unit_test(hosts_that_resolve_inward_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

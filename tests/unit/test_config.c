/* services/config.c and admin-api/auth.c: parsing what operators and clients type. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "../../admin-api/auth.h"
#include "../../services/config.h"
#include "../../services/secret.h"

static void hostport_parses_v4_v6_and_rejects_junk(void **state)
{
    char host[64];
    int port;
    assert_int_equal(ztp_config_parse_hostport("127.0.0.1:8080", host, sizeof(host), &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8080);
    assert_int_equal(ztp_config_parse_hostport("[::1]:443", host, sizeof(host), &port), 0);
    assert_string_equal(host, "::1");
    static const char *const bad[] = {"", "8080", ":80", "h:", "h:99999", "h:-1", "h:80x", "[::1]443"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(ztp_config_parse_hostport(bad[i], host, sizeof(host), &port), -1);
}

static void secret_must_be_64_hex(void **state)
{
    unsigned char out[32];
    assert_int_equal(
        ztp_config_parse_secret("00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF", out), 0);
    assert_int_equal(out[31], 0xff);
    assert_int_equal(ztp_config_parse_secret("0011", out), -1);
    assert_int_equal(
        ztp_config_parse_secret("zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", out), -1);
    assert_int_equal(ztp_config_parse_secret(NULL, out), -1);
}

static void trusted_proxies_match_by_prefix(void **state)
{
    char err[256];
    unsigned char a[16] = {0};
    setenv("DATABASE_URL", "x", 1);
    setenv("ZTP_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.5", 1);
    assert_int_equal(ztp_config_load(&ztp_config, 0, err, sizeof(err)), 0);
    a[10] = a[11] = 0xff;
    a[12] = 10, a[13] = 200;
    assert_true(ztp_config_is_trusted(&ztp_config, a));
    a[12] = 11;
    assert_false(ztp_config_is_trusted(&ztp_config, a));
    a[12] = 192, a[13] = 168, a[14] = 1, a[15] = 5;
    assert_true(ztp_config_is_trusted(&ztp_config, a));
    setenv("ZTP_TRUSTED_PROXIES", "nonsense", 1);
    assert_int_equal(ztp_config_load(&ztp_config, 0, err, sizeof(err)), -1);
    unsetenv("ZTP_TRUSTED_PROXIES");
}

static void public_url_is_an_origin_in_lower_case(void **state)
{
    char out[512], err[256];
    static const char *const good[][2] = {
        {"https://ztp.example.net", "https://ztp.example.net"},
        {"https://ZTP.Example.NET/", "https://ztp.example.net"},
        {"http://127.0.0.1:8080//", "http://127.0.0.1:8080"},
        {"https://[2001:db8::1]", "https://[2001:db8::1]"},
        {"https://[2001:db8::1]:8443", "https://[2001:db8::1]:8443"},
    };
    static const char *const bad[] = {
        "", "ztp.example.net", "ftp://ztp.example.net", "https://", "https:///", "https://ztp.example.net/ztp",
        "https://ztp.example.net?x=1", "https://ztp.example.net#x", "https://user@ztp.example.net",
        "https://ztp.example.net:", "https://ztp.example.net:99999", "https://ztp.example.net:0",
        "https://a:b:80", "https://[::1", "https://[]", "https://ztp.example.net\r\nX-Evil: 1",
        "https://ztp.example.net\t", "https://ztp\".example.net", "https://ztp<x>.net", "https://ztp%2e.net",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(ztp_config_parse_public_url(good[i][0], out, sizeof(out)), 0);
        assert_string_equal(out, good[i][1]);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (ztp_config_parse_public_url(bad[i], out, sizeof(out)) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
    /* unset: the plain listener's address */
    setenv("DATABASE_URL", "x", 1);
    unsetenv("ZTP_PUBLIC_URL");
    setenv("ZTP_LISTEN", "[::1]:9090", 1);
    assert_int_equal(ztp_config_load(&ztp_config, 0, err, sizeof(err)), 0);
    assert_string_equal(ztp_config.public_url, "http://[::1]:9090");
    setenv("ZTP_PUBLIC_URL", "https://ztp.example.net/console", 1);
    assert_int_equal(ztp_config_load(&ztp_config, 0, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "ZTP_PUBLIC_URL"));
    unsetenv("ZTP_PUBLIC_URL");
    unsetenv("ZTP_LISTEN");
}

static void device_ca_must_be_readable_and_needs_the_https_listener(void **state)
{
    char err[256];
    setenv("DATABASE_URL", "x", 1);
    setenv("ZTP_DEVICE_CA", "/proc/self/status", 1);
    assert_int_equal(ztp_config_load(&ztp_config, 0, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "ZTP_DEVICE_CA needs the HTTPS listener"));
    setenv("ZTP_TLS_LISTEN", "127.0.0.1:8443", 1);
    setenv("ZTP_TLS_CERT", "/c.pem", 1);
    setenv("ZTP_TLS_KEY", "/k.pem", 1);
    assert_int_equal(ztp_config_load(&ztp_config, 0, err, sizeof(err)), 0);
    assert_string_equal(ztp_config.device_ca, "/proc/self/status");
    setenv("ZTP_DEVICE_CA", "/nonexistent/ca.pem", 1);
    assert_int_equal(ztp_config_load(&ztp_config, 0, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "ZTP_DEVICE_CA: cannot read /nonexistent/ca.pem"));
    unsetenv("ZTP_DEVICE_CA");
    assert_int_equal(ztp_config_load(&ztp_config, 0, err, sizeof(err)), 0);
    assert_null(ztp_config.device_ca);
    unsetenv("ZTP_TLS_LISTEN");
    unsetenv("ZTP_TLS_CERT");
    unsetenv("ZTP_TLS_KEY");
}

static void api_keys_round_trip_and_verify(void **state)
{
    unsigned char master[32] = {1};
    char key[ZTP_APIKEY_LEN + 1], id[ZTP_APIKEY_ID_LEN + 1], hash[65], parsed[ZTP_APIKEY_ID_LEN + 1];
    ztp_secret_init(master, NULL);
    ztp_apikey_generate(key, id, hash);
    assert_int_equal(strlen(key), ZTP_APIKEY_LEN);
    assert_int_equal(ztp_apikey_parse(key, strlen(key), parsed), 0);
    assert_string_equal(parsed, id);
    assert_true(ztp_apikey_verify(key, strlen(key), hash));
    /* after a rotation the key still works while the old secret is the previous one */
    unsigned char next[32] = {2};
    ztp_secret_init(next, master);
    assert_true(ztp_apikey_verify(key, strlen(key), hash));
    ztp_secret_init(next, NULL);
    assert_false(ztp_apikey_verify(key, strlen(key), hash));
    ztp_secret_init(master, NULL);
    key[40] = key[40] == 'A' ? 'B' : 'A';
    assert_false(ztp_apikey_verify(key, strlen(key), hash));
    assert_int_equal(ztp_apikey_parse("ztp_xyz", 7, parsed), -1);
    assert_int_equal(ztp_apikey_parse(key, strlen(key) - 1, parsed), -1);
    key[5] = 'G';
    assert_int_equal(ztp_apikey_parse(key, strlen(key), parsed), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hostport_parses_v4_v6_and_rejects_junk),
        cmocka_unit_test(secret_must_be_64_hex),
        cmocka_unit_test(trusted_proxies_match_by_prefix),
        cmocka_unit_test(public_url_is_an_origin_in_lower_case),
        cmocka_unit_test(device_ca_must_be_readable_and_needs_the_https_listener),
        cmocka_unit_test(api_keys_round_trip_and_verify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* redirect/useragent.c: real phones' User-Agents, and hostile ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "../../redirect/useragent.h"

typedef struct {
    const char *ua, *vendor, *model, *firmware, *mac, *serial;
} ua_case_t;

static const ua_case_t cases[] = {
    {"Cisco-CP-8845-3PCC/11.3.1 (00562b043615)", "cisco", "CP-8845-3PCC", "11.3.1", "00562b043615", ""},
    {"Cisco-CP8832-3PCC/11.3.7_MPP_0001", "cisco", "CP8832-3PCC", "11.3.7_MPP_0001", "", ""},
    {"Cisco-CP-7841-3PCC/11.3.7 (00562B043615)(FCH12345ABC)", "cisco", "CP-7841-3PCC", "11.3.7",
     "00562b043615", "FCH12345ABC"},
    {"Cisco/SPA504G-7.6.2 (88755a1b2c3d)(CCQ1234567)", "cisco", "SPA504G", "7.6.2", "88755a1b2c3d",
     "CCQ1234567"},
    {"Yealink SIP-T54W 96.86.0.70 00:15:65:aa:bb:cc", "yealink", "SIP-T54W", "96.86.0.70", "001565aabbcc",
     ""},
    {"FileTransport PolycomVVX-VVX_450-UA/6.4.3.5018 Type/Application", "polycom", "VVX_450", "6.4.3.5018",
     "", ""},
    {"Mozilla/4.0 (compatible; snom D785 10.1.152.12 000413aabbcc)", "snom", "D785", "10.1.152.12",
     "000413aabbcc", ""},
    {"Grandstream Model HW GXP2170 SW 1.0.11.3 DevId 000b82aabbcc", "grandstream", "GXP2170", "1.0.11.3",
     "000b82aabbcc", ""},
    {"curl/8.0", "unknown", "", "", "", ""},
    {"", "unknown", "", "", "", ""},
    {"Cisco-", "cisco", "", "", "", ""},
    {"Cisco-CP-8845-3PCC/11.3.1 (00562b043615", "cisco", "CP-8845-3PCC", "11.3.1", "00562b043615", ""},
    {"Yealink", "unknown", "", "", "", ""},
};

static void parses_real_phones(void **state)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ztp_ua_t ua;
        ztp_ua_parse(cases[i].ua, strlen(cases[i].ua), &ua);
        assert_string_equal(ua.vendor, cases[i].vendor);
        assert_string_equal(ua.model, cases[i].model);
        assert_string_equal(ua.firmware, cases[i].firmware);
        assert_string_equal(ua.mac, cases[i].mac);
        assert_string_equal(ua.serial, cases[i].serial);
    }
}

static void hostile_input_is_bounded_and_printable(void **state)
{
    size_t n = 1 << 20;
    char *big = malloc(n);
    ztp_ua_t ua;
    for (size_t i = 0; i < n; i++)
        big[i] = (char)(i * 7919 % 256);
    memcpy(big, "Cisco-", 6);
    ztp_ua_parse(big, n, &ua);
    assert_string_equal(ua.vendor, "cisco");
    for (const char *p = ua.model; *p; p++)
        assert_true(*p >= 0x20 && *p < 0x7f);
    assert_true(strlen(ua.model) < sizeof(ua.model));
    memset(big, '(', n);
    ztp_ua_parse(big, n, &ua);
    assert_string_equal(ua.vendor, "unknown");
    ztp_ua_parse(NULL, 0, &ua);
    assert_string_equal(ua.vendor, "unknown");
    free(big);
}

static void clean_replaces_non_printables_and_cuts(void **state)
{
    char out[ZTP_UA_MAX + 1];
    assert_int_equal(ztp_ua_clean("a\x01\xff"
                                  "b",
                                  4, out),
                     4);
    assert_string_equal(out, "a??b");
    char big[2000];
    memset(big, 'x', sizeof(big));
    assert_int_equal(ztp_ua_clean(big, sizeof(big), out), ZTP_UA_MAX);
}

static void series_strips_the_cp_prefix(void **state)
{
    char out[48];
    ztp_ua_series("CP-8845-3PCC", out, sizeof(out));
    assert_string_equal(out, "8845-3PCC");
    ztp_ua_series("CP8832-3PCC", out, sizeof(out));
    assert_string_equal(out, "8832-3PCC");
    ztp_ua_series("SIP-T54W", out, sizeof(out));
    assert_string_equal(out, "SIP-T54W");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_real_phones),
        cmocka_unit_test(hostile_input_is_bounded_and_printable),
        cmocka_unit_test(clean_replaces_non_printables_and_cuts),
        cmocka_unit_test(series_strips_the_cp_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

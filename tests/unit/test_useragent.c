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
    {"FileTransport PolycomVVX-VVX_450-UA/6.4.3.5018 Type/Application", "poly", "VVX_450", "6.4.3.5018", "",
     ""},
    {"Mozilla/4.0 (compatible; snom D785 10.1.152.12 000413aabbcc)", "snom", "D785", "10.1.152.12",
     "000413aabbcc", ""},
    {"Grandstream Model HW GXP2170 SW 1.0.11.3 DevId 000b82aabbcc", "grandstream", "GXP2170", "1.0.11.3",
     "000b82aabbcc", ""},
    /* the seven vendors of /boot, as their phones send it */
    {"Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37", "yealink", "SIP-T46G", "28.72.0.1", "0015654aa937", ""},
    {"FileTransport PolycomVVX-VVX_400-UA/4.1.4.7430 Type/Application", "poly", "VVX_400", "4.1.4.7430", "",
     ""},
    {"Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 000413922D24 SXM:0 UXM:0)",
     "snom", "D785", "10.1.33.33", "000413922d24", ""},
    {"Mozilla/4.0 (compatible; snom320-SIP 8.7.3.25 1.1.3-s)", "snom", "320", "8.7.3.25", "", ""},
    {"Grandstream Model HW GXP1628 SW 1.0.4.138 DevId c074ad2bd859", "grandstream", "GXP1628", "1.0.4.138",
     "c074ad2bd859", ""},
    {"Fanvil X4 2.10.2.6887 0c383e07e16c", "fanvil", "X4", "2.10.2.6887", "0c383e07e16c", ""},
    {"Gigaset N720 DM PRO/70.089.00.000.000;7C2F80CA21E4", "gigaset", "N720 DM PRO", "70.089.00.000.000",
     "7c2f80ca21e4", ""},
    /* hostile or half-told ones: never more than the text says */
    {"Fanvil", "unknown", "", "", "", ""},
    {"Fanvil X4", "fanvil", "X4", "", "", ""},
    {"Fanvil X4 1 ff:ff:ff:ff:ff:ff", "fanvil", "X4", "1", "", ""},
    {"Gigaset N720;;;", "gigaset", "N720", "", "", ""},
    {"Gigaset /;", "gigaset", "", "", "", ""},
    {"Gigaset N720 DM PRO/1.0;0100.5e00.0001", "gigaset", "N720 DM PRO", "1.0", "", ""},
    {"Mozilla/5.0 (X11; Linux) Firefox/120.0 snomelike", "unknown", "", "", "", ""},
    {"Mozilla/4.0 (compatible; snom", "snom", "", "", "", ""},
    {"Mozilla/4.0 (compatible; snomD785-SIP 1 2 3 4 5 6 7 8 9 000413922D24)", "snom", "D785", "1",
     "000413922d24", ""},
    {"Grandstream DevId 01005e000001", "grandstream", "", "", "", ""},
    {"Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9", "yealink", "SIP-T46G", "28.72.0.1", "", ""},
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
    /* a cut never splits a character: "é" (2 bytes), "€" (3) at the edge go whole */
    char small[6];
    ztp_ua_series("abcd\xc3\xa9", small, sizeof(small));
    assert_string_equal(small, "abcd");
    ztp_ua_series("abc\xc3\xa9", small, sizeof(small));
    assert_string_equal(small, "abc\xc3\xa9");
    ztp_ua_series("ab\xe2\x82\xac!", small, sizeof(small));
    assert_string_equal(small, "ab\xe2\x82\xac");
    ztp_ua_series("abc\xe2\x82\xac", small, sizeof(small));
    assert_string_equal(small, "abc");
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

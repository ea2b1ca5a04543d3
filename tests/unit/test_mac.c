/* redirect/mac.c: every accepted spelling, and the rejection of the rest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "../../redirect/mac.h"

static void parse_accepts_the_five_spellings(void **state)
{
    static const char *const good[] = {"00562b043615",      "00562B043615",   "00:56:2b:04:36:15",
                                       "00-56-2B-04-36-15", "0056.2b04.3615", "00:56:2B:04:36:15",
                                       "0056.2B04.3615"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        uint8_t mac[6];
        char text[13];
        assert_int_equal(ztp_mac_parse(good[i], strlen(good[i]), mac), 0);
        ztp_mac_format(mac, text);
        assert_string_equal(text, "00562b043615");
    }
}

static void parse_rejects_other_spellings_and_group_addresses(void **state)
{
    static const char *const bad[] = {"",
                                      "00562b04361",
                                      "00562b0436155",
                                      "00562b04361g",
                                      "00:56:2b:04:36-15",
                                      "00-56-2b:04:36:15",
                                      "0056.2b04-3615",
                                      "00:56:2b:04:36:1",
                                      "0:56:2b:04:36:15",
                                      "00562b04 3615",
                                      "01562b043615",
                                      "ffffffffffffffff",
                                      "ff:ff:ff:ff:ff:ff",
                                      "01:00:5e:00:00:01",
                                      "0x562b043615",
                                      "00.56.2b.04.36.15",
                                      "00562b.043615",
                                      "0056:2b04:3615",
                                      "00:562b:04:36:15",
                                      " 00562b043615"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t mac[6];
        assert_int_equal(ztp_mac_parse(bad[i], strlen(bad[i]), mac), -1);
    }
}

static void parse_reads_only_len_bytes(void **state)
{
    uint8_t mac[6];
    assert_int_equal(ztp_mac_parse("00562b043615.xml", 12, mac), 0);
    assert_int_equal(ztp_mac_parse("00562b043615", 11, mac), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_accepts_the_five_spellings),
        cmocka_unit_test(parse_rejects_other_spellings_and_group_addresses),
        cmocka_unit_test(parse_reads_only_len_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

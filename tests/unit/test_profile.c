/* redirect/profile.c: the flat profile, the JSON answer, macros, rule checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "../../redirect/profile.h"

static const char *test_lookup(void *ctx, const char *name, size_t len)
{
    static const char *const table[][2] = {
        {"MA", "00562b043615"}, {"MAU", "00562B043615"}, {"$", "$"}, {"PN", "CP-8845-3PCC"}};
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (strlen(table[i][0]) == len && memcmp(table[i][0], name, len) == 0)
            return table[i][1];
    return NULL;
}

static char *expand(const char *in)
{
    ztp_buf_t b = {0};
    ztp_macro_expand(&b, in, test_lookup, NULL);
    return b.p ? b.p : strdup("");
}

static void macros_expand_longest_first_and_leave_unknown_ones(void **state)
{
    static const char *const cases[][2] = {
        {"http://x/$MA.xml", "http://x/00562b043615.xml"},
        {"http://x/$MAU", "http://x/00562B043615"},
        {"http://x/$(MA)x", "http://x/00562b043615x"},
        {"http://x/$MAX", "http://x/00562b043615X"},
        {"http://x/$UNKNOWN/$", "http://x/$UNKNOWN/$"},
        {"a$$b", "a$b"},
        {"$(NOPE)", "$(NOPE)"},
        {"$(MA", "$(MA"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out = expand(cases[i][0]);
        assert_string_equal(out, cases[i][1]);
        free(out);
    }
}

static void xml_is_escaped_and_has_upgrade_and_params(void **state)
{
    ztp_buf_t b = {0};
    json_t *params = json_pack("{s:s}", "Resync_Periodic", "3600<&>");
    ztp_profile_xml(&b, "https://p/a?x=1&y=\"2\"", "http://u/fw'", params);
    assert_string_equal(b.p, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<flat-profile>\n"
                             "  <Profile_Rule ua=\"na\">https://p/a?x=1&amp;y=&quot;2&quot;</Profile_Rule>\n"
                             "  <Upgrade_Rule ua=\"na\">http://u/fw&apos;</Upgrade_Rule>\n"
                             "  <Resync_Periodic ua=\"na\">3600&lt;&amp;&gt;</Resync_Periodic>\n"
                             "</flat-profile>\n");
    ztp_buf_free(&b);
    ztp_profile_xml(&b, "http://p/", NULL, NULL);
    assert_null(strstr(b.p, "Upgrade_Rule"));
    ztp_buf_free(&b);
    json_decref(params);
}

static void json_url_expands_the_server_macros(void **state)
{
    ztp_phone_facts_t f = {"00562b043615", "CP-8845-3PCC", "FCH123"};
    json_t *o =
        ztp_profile_json(&f, "[--key abc] https://p/$PSN/$PN/$MA/$MAU/$MAC/$SN/$(MA)/$X.xml", NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(o, "url")),
                        "https://p/8845-3PCC/CP-8845-3PCC/00562b043615/00562B043615/00:56:2b:04:36:15/FCH123/"
                        "00562b043615/$X.xml");
    assert_true(json_is_null(json_object_get(o, "upgrade_rule")));
    assert_true(json_is_object(json_object_get(o, "params")));
    assert_string_equal(json_string_value(json_object_get(o, "profile_rule")),
                        "[--key abc] https://p/$PSN/$PN/$MA/$MAU/$MAC/$SN/$(MA)/$X.xml");
    json_decref(o);
}

static void rules_are_checked(void **state)
{
    static const char *const good[] = {"https://p.example/$MA.xml", "http://10.0.0.1:8080/x",
                                       "tftp://tftp.example/$PSN.cfg", "[--key $B] https://p/x",
                                       "[--uid a --pwd b] [--key c] http://h/"};
    static const char *const bad[] = {"",
                                      "ftp://x/",
                                      "https://",
                                      "https:///path",
                                      "p.example/x",
                                      "[key] https://p/",
                                      "[--key x https://p/",
                                      "https://p/a b",
                                      "https://p/\x01",
                                      "javascript:alert(1)"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_null(ztp_rule_check(good[i]));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_non_null(ztp_rule_check(bad[i]));
    char longrule[1100] = "https://p/";
    memset(longrule + 10, 'a', 1050);
    longrule[1060] = '\0';
    assert_non_null(ztp_rule_check(longrule));
    /* characters, not bytes: 1024 of them two bytes each are a rule */
    char wide[2200] = "https://a.example/";
    size_t at = strlen(wide);
    for (int i = 0; i < 1024 - 18; i++, at += 2)
        memcpy(wide + at, "\xc3\xa9", 2);
    wide[at] = '\0';
    assert_null(ztp_rule_check(wide));
    memcpy(wide + at, "\xc3\xa9", 3);
    assert_non_null(ztp_rule_check(wide));
    /* C1 control characters (NEL) are control characters too; a line separator is not one */
    assert_non_null(ztp_rule_check("https://p/a\xc2\x85"));
    assert_non_null(ztp_vendor_url_check("https://p/a\xc2\x9f"));
    assert_null(ztp_rule_check("https://p/a\xc2\xa0\xe2\x80\xa8"));
    assert_string_equal(ztp_rule_url("[--key a] [--x] http://h/"), "http://h/");
}

static void param_names_are_checked(void **state)
{
    assert_true(ztp_param_name_ok("Resync_Periodic"));
    assert_false(ztp_param_name_ok("Profile_Rule"));
    assert_false(ztp_param_name_ok("Upgrade_Rule"));
    assert_false(ztp_param_name_ok("a-b"));
    assert_false(ztp_param_name_ok(""));
    assert_false(ztp_param_name_ok("x y"));
    assert_false(ztp_param_name_ok("1st_Line")); /* no XML element's name */
    assert_true(ztp_param_name_ok("_1st_Line"));
}

static void url_token_is_keyed_blake2b_128_of_the_mac(void **state)
{
    unsigned char key[32];
    char token[33];
    ztp_buf_t b = {0};
    for (int i = 0; i < 32; i++)
        key[i] = (unsigned char)i;
    /* hashlib.blake2b(b"00562b043615", key=bytes(range(32)), digest_size=16).hexdigest() */
    ztp_profile_token(key, "00562b043615", token);
    assert_string_equal(token, "e1bbcc7d1794e74048dbef27a619efef");
    ztp_profile_expand_token(&b, "https://p/$MA/$(ZTP_TOKEN)?t=$(ZTP_TOKEN)&$(ZTP_TOKEN", token);
    assert_string_equal(b.p,
                        "https://p/$MA/e1bbcc7d1794e74048dbef27a619efef?t=e1bbcc7d1794e74048dbef27a619efef"
                        "&$(ZTP_TOKEN");
    ztp_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(macros_expand_longest_first_and_leave_unknown_ones),
        cmocka_unit_test(xml_is_escaped_and_has_upgrade_and_params),
        cmocka_unit_test(json_url_expands_the_server_macros),
        cmocka_unit_test(rules_are_checked),
        cmocka_unit_test(param_names_are_checked),
        cmocka_unit_test(url_token_is_keyed_blake2b_128_of_the_mac),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

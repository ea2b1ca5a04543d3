/* tools/ztp-phone/rule.c: the phone's rule, macros, delays and answer table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/buf.h"
#include "../../tools/ztp-phone/rule.h"

static void rules_parse_options_and_url(void **state)
{
    ztp_rule_t r;
    assert_int_equal(ztp_rule_parse("[--uid alice --pwd s3cret] https://p.example/$MA.xml", &r), 0);
    assert_string_equal(r.uid, "alice");
    assert_string_equal(r.pwd, "s3cret");
    assert_string_equal(r.url, "https://p.example/$MA.xml");
    assert_false(r.tftp);
    assert_int_equal(ztp_rule_parse("[--key $B] http://p/", &r), 0);
    assert_string_equal(r.uid, "");
    assert_int_equal(ztp_rule_parse("tftp://t/x.cfg", &r), 0);
    assert_true(r.tftp);
    assert_int_equal(ztp_rule_parse("10.0.0.1/x.cfg", &r), 0);
    assert_true(r.tftp);
    assert_int_equal(ztp_rule_parse("[--uid a", &r), -1);
    assert_int_equal(ztp_rule_parse("", &r), -1);
    assert_int_equal(ztp_rule_parse("[nope] http://p/", &r), -1);
}

static void macros_expand_as_a_phone_does(void **state)
{
    ztp_phone_id_t id = {"00562b043615", "CP-8845-3PCC", "11.3.7MPP", "FCH2B043615", 0};
    ztp_buf_t b = {0};
    ztp_rule_expand(&b, "http://p/$MA/$MAU/$MAC/$PN/$PSN/$SN/$SWVER/$PRVST/$$/$(MA)x/$NOPE", &id);
    assert_string_equal(b.p, "http://p/00562b043615/00562B043615/00:56:2b:04:36:15/CP-8845-3PCC/8845-3PCC/"
                             "FCH2B043615/11.3.7MPP/0/$/00562b043615x/$NOPE");
    ztp_buf_free(&b);
    /* not recursive: a value holding a macro stays as it is */
    ztp_phone_id_t odd = {"00562b043615", "$MA", "x", "y", 0};
    ztp_rule_expand(&b, "$PN", &odd);
    assert_string_equal(b.p, "$MA");
    ztp_buf_free(&b);
}

static void delays_repeat_the_last_and_add_jitter(void **state)
{
    ztp_delays_t d;
    assert_int_equal(ztp_delays_parse("30,60", &d), 0);
    assert_true(ztp_delays_at(&d, 1, 0.5) == 30);
    assert_true(ztp_delays_at(&d, 2, 0.5) == 60);
    assert_true(ztp_delays_at(&d, 7, 0.5) == 60);
    assert_int_equal(ztp_delays_parse("0.5,10+4", &d), 0);
    assert_true(ztp_delays_at(&d, 1, 0.9) == 0.5);
    assert_true(ztp_delays_at(&d, 2, 0.5) == 12);
    static const char *const bad[] = {"", "a", "1,", ",1", "-1", "1+", "1,,2", "1;2", "nan", "1+nan", "inf"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(ztp_delays_parse(bad[i], &d), -1);
}

static void answers_follow_the_table(void **state)
{
    assert_int_equal(ztp_answer_next(302, 0, 0, "r", NULL), ZTP_NEXT_FOLLOW);
    assert_int_equal(ztp_answer_next(301, 4, 0, "r", NULL), ZTP_NEXT_FOLLOW);
    assert_int_equal(ztp_answer_next(302, 5, 0, "r", NULL), ZTP_NEXT_WAIT);
    assert_int_equal(ztp_answer_next(401, 0, 0, "r", NULL), ZTP_NEXT_AUTH);
    assert_int_equal(ztp_answer_next(407, 0, 1, "r", NULL), ZTP_NEXT_AUTH);
    assert_int_equal(ztp_answer_next(401, 0, 2, "r", NULL), ZTP_NEXT_WAIT);
    assert_int_equal(ztp_answer_next(200, 0, 0, "r", "s"), ZTP_NEXT_RESYNC);
    assert_int_equal(ztp_answer_next(200, 0, 0, "r", "r"), ZTP_NEXT_PROVISIONED);
    assert_int_equal(ztp_answer_next(200, 0, 0, "r", NULL), ZTP_NEXT_PROVISIONED);
    for (int s = 100; s < 600; s++)
        if (s != 200 && s != 301 && s != 302 && s != 401 && s != 407)
            assert_int_equal(ztp_answer_next(s, 0, 0, "r", NULL), ZTP_NEXT_WAIT);
}

static void flat_profiles_are_read_or_refused(void **state)
{
    char *rule;
    const char *ok =
        "<?xml version=\"1.0\"?><flat-profile><Profile_Rule ua=\"na\"> http://p/$MA.xml?a=1&amp;b=2 "
        "</Profile_Rule><X>y</X></flat-profile>";
    assert_int_equal(ztp_flat_profile_rule(ok, strlen(ok), &rule), 0);
    assert_string_equal(rule, "http://p/$MA.xml?a=1&b=2");
    free(rule);
    assert_int_equal(ztp_flat_profile_rule("<flat-profile/>", 15, &rule), 0);
    assert_null(rule);
    static const char *const bad[] = {"<flat-profile><Profile_Rule>x", "not xml", "", "\x01\x02\x03"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(ztp_flat_profile_rule(bad[i], strlen(bad[i]), &rule), -1);
    /* a rule longer than a phone holds is refused, not cut: 4,000 characters,
     * an entity, then 200 more (expat gives them as three pieces) */
    ztp_buf_t b = {0};
    ztp_buf_puts(&b, "<flat-profile><Profile_Rule>http://h/");
    for (int i = 0; i < 4000; i++)
        ztp_buf_puts(&b, "A");
    ztp_buf_puts(&b, "&amp;");
    for (int i = 0; i < 200; i++)
        ztp_buf_puts(&b, "B");
    ztp_buf_puts(&b, "&amp;tail</Profile_Rule></flat-profile>");
    assert_int_equal(ztp_flat_profile_rule(b.p, b.len, &rule), -1);
    ztp_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rules_parse_options_and_url),
        cmocka_unit_test(macros_expand_as_a_phone_does),
        cmocka_unit_test(delays_repeat_the_last_and_add_jitter),
        cmocka_unit_test(answers_follow_the_table),
        cmocka_unit_test(flat_profiles_are_read_or_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* admin-api/sessions.c and users.c: the cookie, the cross-site guard, emails and passwords. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "../../admin-api/sessions.h"
#include "../../admin-api/users.h"

#define TOK "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123-_Z"

static int find(const char *header, char out[ZTP_TOKEN_LEN + 1])
{
    return ztp_session_cookie_find(header, strlen(header), out);
}

static void cookie_is_found_among_others(void **state)
{
    static const char *ok[] = {
        "ztp_session=" TOK,
        "a=1; ztp_session=" TOK,
        "a=1;ztp_session=" TOK "; b=2",
        "  ztp_session=\"" TOK "\"  ",
        "xztp_session=bad; ztp_session=" TOK,
    };
    char out[ZTP_TOKEN_LEN + 1];
    assert_int_equal(strlen(TOK), ZTP_TOKEN_LEN);
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        memset(out, 0, sizeof(out));
        assert_int_equal(find(ok[i], out), 0);
        assert_string_equal(out, TOK);
    }
}

static void malformed_or_absent_cookie_is_refused(void **state)
{
    static const char *absent[] = {
        "", ";", "ztp_session", "xztp_session=" TOK, "ztp_sessionx=" TOK, "ZTP_SESSION=" TOK, "ztp_session =" TOK,
    };
    static const char *malformed[] = {
        "ztp_session=",
        "ztp_session=short",
        "ztp_session=" TOK "X",
        "ztp_session=" TOK "!",
        "ztp_session=\"" TOK,
    };
    char out[ZTP_TOKEN_LEN + 1];
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
        assert_int_equal(find(absent[i], out), -1);
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++)
        assert_int_equal(find(malformed[i], out), -2);
    /* the first cookie of that name decides; no later one is tried */
    assert_int_equal(find("ztp_session=bad; ztp_session=" TOK, out), -2);
}

static void cross_site_changes_are_told_apart(void **state)
{
    const char *own = "http://127.0.0.1:8080", *pub = "https://ztp.example";
    assert_true(ztp_session_same_origin("1", NULL, own, pub));
    assert_true(ztp_session_same_origin(NULL, own, own, pub));
    assert_true(ztp_session_same_origin(NULL, pub, own, pub));
    assert_false(ztp_session_same_origin(NULL, NULL, own, pub));
    assert_false(ztp_session_same_origin("0", NULL, own, pub));
    assert_false(ztp_session_same_origin("", "null", own, pub));
    assert_false(ztp_session_same_origin(NULL, "https://evil.example", own, pub));
    assert_false(ztp_session_same_origin(NULL, "https://ztp.example.evil.example", own, pub));
    assert_false(ztp_session_same_origin(NULL, "http://127.0.0.1:8080.evil", own, pub));
}

static void emails_are_normalised_and_checked(void **state)
{
    char out[300];
    ztp_user_email_normalise("  Ann@Example.COM \t", out, sizeof(out));
    assert_string_equal(out, "ann@example.com");
    assert_true(ztp_user_email_ok("a@b"));
    assert_true(ztp_user_email_ok("first.last+tag@example.co.uk"));
    static const char *bad[] = {"",        "ab",      "a@",    "@b",    "a@b@c", "a b@c",
                                "a\x01@b", "a@b\x7f", "<a@b>", "a,b@c", "a;b@c"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(ztp_user_email_ok(bad[i]));
    char longest[300];
    memset(longest, 'x', 254);
    longest[254] = '\0';
    longest[10] = '@';
    assert_true(ztp_user_email_ok(longest));
    longest[254] = 'x';
    longest[255] = '\0';
    assert_false(ztp_user_email_ok(longest));
}

static void passwords_need_twelve_characters(void **state)
{
    char big[300];
    assert_null(ztp_user_password_problem("twelve chars", 12));
    assert_non_null(ztp_user_password_problem("eleven char", 11));
    /* characters, not bytes: eleven two-byte letters are too few, twelve are enough */
    assert_non_null(ztp_user_password_problem("ééééééééééé", strlen("ééééééééééé")));
    assert_null(ztp_user_password_problem("éééééééééééé", strlen("éééééééééééé")));
    assert_non_null(ztp_user_password_problem("twelve\0chars", 12));
    memset(big, 'x', sizeof(big));
    assert_null(ztp_user_password_problem(big, ZTP_PASSWORD_MAX));
    assert_non_null(ztp_user_password_problem(big, ZTP_PASSWORD_MAX + 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cookie_is_found_among_others),
        cmocka_unit_test(malformed_or_absent_cookie_is_refused),
        cmocka_unit_test(cross_site_changes_are_told_apart),
        cmocka_unit_test(emails_are_normalised_and_checked),
        cmocka_unit_test(passwords_need_twelve_characters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* services/copytext.c: COPY text format for hostile fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/copytext.h"

/* What PostgreSQL's COPY text reader makes of one field (the subset of its
 * rules the encoder may produce): backslash escapes, \xHH, \N. */
static size_t decode(const char *s, size_t len, char *out, int *is_null)
{
    size_t n = 0;
    *is_null = len == 2 && s[0] == '\\' && s[1] == 'N';
    for (size_t i = 0; i < len && !*is_null; i++) {
        if (s[i] != '\\') {
            assert_true(s[i] != '\t' && s[i] != '\n' && s[i] != '\r');
            out[n++] = s[i];
            continue;
        }
        assert_true(i + 1 < len);
        switch (s[++i]) {
        case '\\': out[n++] = '\\'; break;
        case 't': out[n++] = '\t'; break;
        case 'n': out[n++] = '\n'; break;
        case 'r': out[n++] = '\r'; break;
        case 'x': {
            assert_true(i + 2 < len);
            char hex[3] = {s[i + 1], s[i + 2], 0};
            out[n++] = (char)strtol(hex, NULL, 16);
            i += 2;
            break;
        }
        default: fail_msg("unexpected escape \\%c", s[i]);
        }
    }
    return n;
}

static void fields_round_trip_whatever_they_hold(void **state)
{
    static const struct {
        const char *s;
        size_t len;
    } cases[] = {
        {"plain", sizeof("plain") - 1},
        {"tab\there", sizeof("tab\there") - 1},
        {"new\nline\r\n", sizeof("new\nline\r\n") - 1},
        {"back\\slash\\N", sizeof("back\\slash\\N") - 1},
        {"\\N", sizeof("\\N") - 1},
        {"\\", sizeof("\\") - 1},
        {"ctl\x01\x1b\x7f", sizeof("ctl\x01\x1b\x7f") - 1},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x9e",
         sizeof("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x9e") - 1},
        {"", sizeof("") - 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ztp_buf_t b = {0};
        char out[64];
        int is_null;
        assert_int_equal(ztp_copy_field(&b, 1, cases[i].s, cases[i].len, 0), 0);
        /* one field: no raw tab or newline may split it */
        assert_null(memchr(b.p, '\t', b.len));
        assert_null(memchr(b.p, '\n', b.len));
        size_t n = decode(b.p, b.len, out, &is_null);
        assert_false(is_null);
        assert_int_equal(n, cases[i].len);
        assert_memory_equal(out, cases[i].s, n);
        ztp_buf_free(&b);
    }
}

static void nulls_and_rows(void **state)
{
    ztp_buf_t b = {0};
    assert_int_equal(ztp_copy_field(&b, 1, "7", 1, 1), 0);
    assert_int_equal(ztp_copy_field(&b, 0, "", 0, 1), 0);
    assert_int_equal(ztp_copy_field(&b, 0, NULL, 0, 0), 0);
    assert_int_equal(ztp_copy_field(&b, 0, "", 0, 0), 0);
    assert_int_equal(ztp_copy_field(&b, 0, "\\N", 2, 1), 0);
    ztp_copy_end_row(&b);
    assert_string_equal(b.p, "7\t\\N\t\\N\t\t\\\\N\n");
    ztp_buf_free(&b);
}

static void refuses_what_no_text_column_holds(void **state)
{
    static const struct {
        const char *s;
        size_t len;
    } bad[] = {
        {"a\0b", 3},             /* NUL */
        {"\xff", 1},             /* never UTF-8 */
        {"\x80x", 2},            /* a continuation byte first */
        {"\xc3", 1},             /* truncated */
        {"\xc3(", 2},            /* bad continuation */
        {"\xc0\xaf", 2},         /* overlong '/' */
        {"\xe0\x80\xaf", 3},     /* overlong, 3 bytes */
        {"\xed\xa0\x80", 3},     /* a surrogate */
        {"\xf4\x90\x80\x80", 4}, /* past U+10FFFF */
        {"ok\xf0\x9f\x93", 5},   /* truncated at the end */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ztp_buf_t b = {0};
        ztp_buf_append(&b, "x", 1);
        if (ztp_copy_field(&b, 0, bad[i].s, bad[i].len, 0) != -1)
            fail_msg("case %zu accepted", i);
        assert_int_equal(b.len, 1); /* nothing appended */
        assert_false(ztp_copy_text_ok(bad[i].s, bad[i].len));
        ztp_buf_free(&b);
    }
    assert_true(ztp_copy_text_ok("\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF itself */
    assert_true(ztp_copy_text_ok("\xef\xbf\xbd", 3));
}

/* One character at a time, as ztp-phone writes what servers send it. */
static void reads_one_utf8_character(void **state)
{
    static const struct {
        const char *s;
        size_t n, want;
    } cases[] = {
        {"a", 1, 1},
        {"\xc3\xa9", 2, 2},             /* é */
        {"\xe2\x82\xac", 3, 3},         /* € */
        {"\xf0\x9f\x98\x80", 4, 4},     /* an emoji */
        {"\xe2\x82\xac", 2, 0},         /* cut short */
        {"\x80", 1, 0},                 /* a continuation byte first */
        {"\xc0\xaf", 2, 0},             /* overlong */
        {"\xe0\x80\xaf", 3, 0},         /* overlong */
        {"\xed\xa0\x80", 3, 0},         /* a surrogate */
        {"\xf4\x90\x80\x80", 4, 0},     /* past U+10FFFF */
        {"\xe2\x28\xa1", 3, 0},         /* not a continuation */
        {"", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (ztp_utf8_char(cases[i].s, cases[i].n) != cases[i].want)
            fail_msg("case %zu: %zu, not %zu", i, ztp_utf8_char(cases[i].s, cases[i].n), cases[i].want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fields_round_trip_whatever_they_hold),
        cmocka_unit_test(nulls_and_rows),
        cmocka_unit_test(refuses_what_no_text_column_holds),
        cmocka_unit_test(reads_one_utf8_character),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

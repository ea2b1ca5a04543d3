/* services/pgarray.c: literals PostgreSQL reads back as exactly the elements given. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../../services/pgarray.h"

/* A reader of one-dimensional literals by PostgreSQL's rules (array_in):
 * elements separated by commas, quoted ones with backslash escapes, an
 * unquoted NULL (any case) is the SQL NULL. Returns the count, or -1. */
static int parse(const char *lit, char out[][256], int isnull[], int max)
{
    const char *p = lit;
    int n = 0;
    if (*p++ != '{')
        return -1;
    if (*p == '}')
        return p[1] == '\0' ? 0 : -1;
    for (;;) {
        char *o = out[n];
        size_t len = 0;
        if (n == max)
            return -1;
        isnull[n] = 0;
        if (*p == '"') {
            for (p++; *p != '"'; p++) {
                if (*p == '\0')
                    return -1;
                if (*p == '\\')
                    p++;
                o[len++] = *p;
            }
            p++;
        } else {
            const char *start = p;
            while (*p != ',' && *p != '}' && *p != '\0')
                p++;
            if ((size_t)(p - start) != 4 || strncasecmp(start, "NULL", 4) != 0)
                return -1; /* the encoder never writes an unquoted value */
            isnull[n] = 1;
        }
        o[len] = '\0';
        n++;
        if (*p == '}')
            return p[1] == '\0' ? n : -1;
        if (*p++ != ',')
            return -1;
    }
}

static const char *const hostile[] = {
    "",      "NULL",   "null",   " ",         "{",        "}",           "{}",
    ",",     "\"",     "\\",     "\\\"",      "a\"b\\c",  "\"NULL\"",    "{1,2}",
    "a,b",   " lead",  "trail ", "tab\there", "\n",       "caf\xc3\xa9", "$1::text[]",
    "'; --", "\\\\\\", "\"\"",   "x}\",\"{y", "ARRAY[1]", "(1,2)",       "[1:2]={a}",
};
#define NHOSTILE (sizeof(hostile) / sizeof(hostile[0]))

static void hostile_text_round_trips(void **state)
{
    ztp_pgarray_t a = {0};
    static char out[64][256];
    int isnull[64];

    for (size_t i = 0; i < NHOSTILE; i++)
        ztp_pgarray_add(&a, hostile[i]);
    ztp_pgarray_add(&a, NULL);
    assert_int_equal(parse(ztp_pgarray_text(&a), out, isnull, 64), (int)NHOSTILE + 1);
    for (size_t i = 0; i < NHOSTILE; i++) {
        assert_false(isnull[i]);
        assert_string_equal(out[i], hostile[i]);
    }
    assert_true(isnull[NHOSTILE]);
    ztp_pgarray_free(&a);
}

static void exact_literals(void **state)
{
    ztp_pgarray_t a = {0};
    assert_string_equal(ztp_pgarray_text(&a), "{}");
    assert_string_equal(ztp_pgarray_text(&a), "{}");
    ztp_pgarray_add(&a, "NULL");
    ztp_pgarray_add(&a, NULL);
    ztp_pgarray_add(&a, "a\"b\\");
    assert_string_equal(ztp_pgarray_text(&a), "{\"NULL\",NULL,\"a\\\"b\\\\\"}");
    /* more after reading it: the literal reopens */
    ztp_pgarray_add(&a, "");
    assert_string_equal(ztp_pgarray_text(&a), "{\"NULL\",NULL,\"a\\\"b\\\\\",\"\"}");
    ztp_pgarray_reset(&a);
    assert_string_equal(ztp_pgarray_text(&a), "{}");
    ztp_pgarray_add(&a, "x");
    assert_string_equal(ztp_pgarray_text(&a), "{\"x\"}");
    ztp_pgarray_free(&a);
}

static void a_nul_byte_ends_the_element(void **state)
{
    ztp_pgarray_t a = {0};
    ztp_pgarray_addn(&a, "ab\0\"cd", 6);
    ztp_pgarray_addn(&a, "xyz", 2);
    assert_string_equal(ztp_pgarray_text(&a), "{\"ab\",\"xy\"}");
    ztp_pgarray_free(&a);
}

static void many_elements(void **state)
{
    ztp_pgarray_t a = {0};
    static char out[4096][256];
    static int isnull[4096];
    char text[32];

    for (int i = 0; i < 4096; i++) {
        snprintf(text, sizeof(text), "%d\"%d", i, i);
        ztp_pgarray_add(&a, i % 7 == 0 ? NULL : text);
    }
    assert_int_equal(parse(ztp_pgarray_text(&a), out, isnull, 4096), 4096);
    for (int i = 0; i < 4096; i++) {
        snprintf(text, sizeof(text), "%d\"%d", i, i);
        assert_int_equal(isnull[i], i % 7 == 0);
        if (i % 7 != 0)
            assert_string_equal(out[i], text);
    }
    ztp_pgarray_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hostile_text_round_trips),
        cmocka_unit_test(exact_literals),
        cmocka_unit_test(a_nul_byte_ends_the_element),
        cmocka_unit_test(many_elements),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

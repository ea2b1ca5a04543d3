/* admin-api/import.c: the CSV and JSON parsers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "../../admin-api/import.h"

static void csv_reads_quotes_crlf_and_any_column_order(void **state)
{
    ztp_import_t im;
    const char *csv =
        "serial,mac,model\r\n\"S,1\",00:56:2b:04:36:15,\"CP \"\"8845\"\"\"\r\n,0056.2b04.3616,\n\n";
    ztp_import_init(&im);
    ztp_import_parse_csv(&im, csv, strlen(csv));
    assert_int_equal(im.nerrors, 0);
    assert_int_equal(im.rows, 2);
    /* line, mac, profile_name, profile_in, model, serial */
    assert_string_equal(im.copy.p, "2\t00562b043615\t\\N\t\\N\tCP \"8845\"\tS,1\n"
                                   "3\t00562b043616\t\\N\t\\N\t\\N\t\\N\n");
    assert_true(im.has_model && im.has_serial && !im.has_profile);
    ztp_import_free(&im);
}

static void csv_reports_errors_with_lines(void **state)
{
    ztp_import_t im;
    const char *csv = "mac,profile\n00562b043615,a\nzz,b\n00562b043616\n00562b043617,\"x\x01\"\n\"open\n";
    ztp_import_init(&im);
    ztp_import_parse_csv(&im, csv, strlen(csv));
    assert_int_equal(im.rows, 1);
    assert_int_equal(im.nerrors, 4);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(im.errors, 0), "line")), 3);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(im.errors, 1), "line")), 4);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(im.errors, 2), "line")), 5);
    ztp_import_free(&im);
}

static void csv_header_must_name_known_columns(void **state)
{
    static const char *const bad[] = {"", "model\nx\n", "mac,mac\n00562b043615,00562b043615\n",
                                      "mac,colour\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ztp_import_t im;
        ztp_import_init(&im);
        ztp_import_parse_csv(&im, bad[i], strlen(bad[i]));
        assert_true(im.nerrors > 0);
        ztp_import_free(&im);
    }
}

static void csv_bounds_long_fields(void **state)
{
    char csv[2000] = "mac,model\n00562b043615,";
    memset(csv + strlen(csv), 'x', 1000);
    ztp_import_t im;
    ztp_import_init(&im);
    ztp_import_parse_csv(&im, csv, strlen(csv));
    assert_int_equal(im.rows, 0);
    assert_int_equal(im.nerrors, 1);
    ztp_import_free(&im);
}

static void json_reads_devices_and_rejects_junk(void **state)
{
    ztp_import_t im;
    const char *doc = "[{\"mac\":\"00562b043615\",\"profile\":\"p\"},"
                      "{\"mac\":\"00562b043616\",\"profile_id\":\"6f1c2b3a-0000-4000-8000-000000000001\"},"
                      "{\"mac\":5},3,{\"mac\":\"00562b043617\",\"profile\":\"p\",\"profile_id\":\"x\"}]";
    ztp_import_init(&im);
    ztp_import_parse_json(&im, doc, strlen(doc));
    assert_int_equal(im.rows, 2);
    assert_int_equal(im.nerrors, 3);
    assert_string_equal(im.copy.p, "1\t00562b043615\tp\t\\N\t\\N\t\\N\n"
                                   "2\t00562b043616\t\\N\t6f1c2b3a-0000-4000-8000-000000000001\t\\N\t\\N\n");
    ztp_import_free(&im);
    ztp_import_init(&im);
    ztp_import_parse_json(&im, "{}", 2);
    assert_int_equal(im.nerrors, 1);
    ztp_import_free(&im);
}

/* The item-by-item reader on awkward and hostile documents: rows read and
 * errors counted must be what a whole-document parser would find. */
static void json_items_are_split_only_at_the_top_level(void **state)
{
    static const struct {
        const char *doc;
        size_t rows, errors;
    } cases[] = {
        {"[]", 0, 0},
        {" \n[ ]\r\n", 0, 0},
        {"[{\"mac\":\"00562b043615\"}]", 1, 0},
        {" [ {\"mac\" : \"00562b043615\"} , {\"mac\":\"00562b043616\"} ] ", 2, 0},
        /* brackets, commas and escaped quotes inside strings */
        {"[{\"mac\":\"00562b043615\",\"model\":\"a,]}[{\\\"b\"}]", 1, 0},
        /* a nested value is an error of its item only */
        {"[{\"mac\":\"00562b043615\",\"model\":[1,{\"x\":[]}]},{\"mac\":\"00562b043616\"}]", 1, 1},
        {"[{\"mac\":\"00562b043615\"},]", 1, 1},
        {"[,{\"mac\":\"00562b043615\"}]", 1, 1},
        {"[{\"mac\":\"00562b043615\"} {\"mac\":\"00562b043616\"}]", 0, 1},
        {"[{\"mac\":\"00562b043615\"}", 1, 1},
        {"[{\"mac\":\"00562b043615\"}] x", 1, 1},
        {"[{\"mac\":\"00562b043615\"}}]", 1, 1},
        {"[\"unterminated]", 0, 2},
        {"[", 0, 2},
        {"", 0, 1},
        {"]", 0, 1},
        {"[null, true, \"s\", 1]", 0, 4},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ztp_import_t im;
        ztp_import_init(&im);
        ztp_import_parse_json(&im, cases[i].doc, strlen(cases[i].doc));
        if (im.rows != cases[i].rows || im.nerrors != cases[i].errors)
            fail_msg("%s: %zu rows, %zu errors", cases[i].doc, im.rows, im.nerrors);
        ztp_import_free(&im);
    }
}

/* Bytes no text column holds are errors of their line; a backslash is
 * escaped, so that COPY reads back the field as sent. */
static void hostile_bytes_are_refused_or_escaped(void **state)
{
    static const char csv[] = "mac,model,serial\n"
                              "00562b043615,a\\b,\\N\n"        /* line 2: kept, escaped */
                              "00562b043616,x\0y,s\n"            /* 3: NUL */
                              "00562b043617,\xff\xfe,s\n"         /* 4: not UTF-8 */
                              "00562b043618,\xc0\xaf,s\n"         /* 5: overlong */
                              "00562b043619,caf\xc3\xa9,\\\n"   /* 6: kept */
                              "00562b04361a,\"t\tb\",s\n";     /* 7: a tab (control character) */
    ztp_import_t im;
    ztp_import_init(&im);
    ztp_import_parse_csv(&im, csv, sizeof(csv) - 1);
    assert_int_equal(im.rows, 2);
    assert_int_equal(im.nerrors, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(json_integer_value(json_object_get(json_array_get(im.errors, i), "line")), 3 + i + (i == 3));
    assert_string_equal(im.copy.p, "2\t00562b043615\t\\N\t\\N\ta\\\\b\t\\\\N\n"
                                   "6\t00562b043619\t\\N\t\\N\tcaf\xc3\xa9\t\\\\\n");
    ztp_import_free(&im);

    /* JSON: a NUL escaped in a string, or invalid UTF-8, is refused too */
    static const char doc[] = "[{\"mac\":\"00562b043615\",\"model\":\"a\\u0000b\"},"
                              "{\"mac\":\"00562b043616\",\"model\":\"\xff\"},"
                              "{\"mac\":\"00562b043617\",\"serial\":\"\\\\\"}]";
    ztp_import_init(&im);
    ztp_import_parse_json(&im, doc, sizeof(doc) - 1);
    assert_int_equal(im.rows, 1);
    assert_int_equal(im.nerrors, 2);
    assert_string_equal(im.copy.p, "3\t00562b043617\t\\N\t\\N\t\\N\t\\\\\n");
    ztp_import_free(&im);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(csv_reads_quotes_crlf_and_any_column_order),
        cmocka_unit_test(csv_reports_errors_with_lines),
        cmocka_unit_test(csv_header_must_name_known_columns),
        cmocka_unit_test(csv_bounds_long_fields),
        cmocka_unit_test(json_reads_devices_and_rejects_junk),
        cmocka_unit_test(json_items_are_split_only_at_the_top_level),
        cmocka_unit_test(hostile_bytes_are_refused_or_escaped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

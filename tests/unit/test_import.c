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
    assert_string_equal(im.macs.p, "00562b043615\n00562b043616");
    assert_string_equal(im.serials.p, "S,1\n");
    assert_string_equal(im.models.p, "CP \"8845\"\n");
    assert_string_equal(im.lines.p, "2\n3");
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
    assert_string_equal(im.profile_ids.p, "\n6f1c2b3a-0000-4000-8000-000000000001");
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(csv_reads_quotes_crlf_and_any_column_order),
        cmocka_unit_test(csv_reports_errors_with_lines),
        cmocka_unit_test(csv_header_must_name_known_columns),
        cmocka_unit_test(csv_bounds_long_fields),
        cmocka_unit_test(json_reads_devices_and_rejects_junk),
        cmocka_unit_test(json_items_are_split_only_at_the_top_level),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

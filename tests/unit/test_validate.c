/* admin-api/profiles.c and admin-api/devices.c: field-by-field validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "../../admin-api/devices.h"
#include "../../admin-api/profiles.h"

/* The sorted, comma-joined fields the validator complained about. */
static void fields_of(json_t *errors, char *out, size_t cap)
{
    size_t i;
    json_t *e;
    out[0] = '\0';
    json_array_foreach(errors, i, e)
    {
        if (out[0])
            strncat(out, ",", cap - strlen(out) - 1);
        strncat(out, json_string_value(json_object_get(e, "field")), cap - strlen(out) - 1);
    }
}

static void check(void (*validate)(json_t *, json_t *), const char *body, const char *want)
{
    json_t *b = json_loads(body, 0, NULL), *errors = json_array();
    char got[256];
    assert_non_null(b);
    validate(b, errors);
    fields_of(errors, got, sizeof(got));
    assert_string_equal(got, want);
    json_decref(b);
    json_decref(errors);
}

static void validate_profile_create(json_t *b, json_t *e)
{
    ztp_profiles_validate(b, 0, e);
}

static void validate_profile_patch(json_t *b, json_t *e)
{
    ztp_profiles_validate(b, 1, e);
}

static void profiles_are_checked_field_by_field(void **state)
{
    check(validate_profile_create, "{\"name\":\"a\",\"profile_rule\":\"https://p/$MA\"}", "");
    check(validate_profile_create, "{}", "name,profile_rule");
    check(validate_profile_patch, "{}", "");
    check(validate_profile_patch, "{\"profile_rule\":\"ftp://x\"}", "profile_rule");
    check(validate_profile_create,
          "{\"name\":\"\",\"profile_rule\":1,\"upgrade_rule\":\"x\",\"short_code\":\"12a\",\"params\":[]}",
          "name,profile_rule,upgrade_rule,short_code,params");
    check(validate_profile_create,
          "{\"name\":\"a\",\"profile_rule\":\"http://p/\",\"upgrade_rule\":null,\"short_code\":null,"
          "\"params\":{\"Ok_1\":\"v\",\"Upgrade_Rule\":\"x\",\"b-c\":\"v\",\"n\":1,\"t\":\"a\\u0001\"}}",
          "params.Upgrade_Rule,params.b-c,params.n,params.t");
}

static void devices_are_checked_field_by_field(void **state)
{
    check(ztp_devices_validate, "{}", "");
    check(ztp_devices_validate, "{\"profile_id\":null,\"model\":null,\"serial\":\"S1\"}", "");
    check(ztp_devices_validate,
          "{\"profile_id\":\"6f1c2b3a-0000-4000-8000-000000000001\",\"model\":\"CP-8845\"}", "");
    check(ztp_devices_validate, "{\"profile_id\":\"x\",\"model\":5,\"serial\":\"\"}",
          "profile_id,model,serial");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(profiles_are_checked_field_by_field),
        cmocka_unit_test(devices_are_checked_field_by_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

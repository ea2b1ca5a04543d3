/* admin-api/roles.c: the order of roles that the role table relies on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../admin-api/roles.h"

static void names_parse_both_ways(void **state)
{
    const char *names[] = {"viewer", "operator", "admin"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ztp_role_parse(names[i]), i + 1);
        assert_string_equal(ztp_role_name(ztp_role_parse(names[i])), names[i]);
    }
    const char *bad[] = {"", "Admin", "root", "admin ", "none", NULL};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(ztp_role_parse(bad[i]), ZTP_ROLE_NONE);
    assert_string_equal(ztp_role_name(ZTP_ROLE_NONE), "none");
    assert_string_equal(ztp_role_name((ztp_role_t)42), "none");
}

static void each_role_includes_the_ones_below(void **state)
{
    /* have x need: viewer, operator, admin */
    static const int table[3][3] = {{1, 0, 0}, {1, 1, 0}, {1, 1, 1}};
    for (int have = 1; have <= 3; have++)
        for (int need = 1; need <= 3; need++)
            assert_int_equal(ztp_role_allows((ztp_role_t)have, (ztp_role_t)need), table[have - 1][need - 1]);
}

static void nothing_is_allowed_without_a_role_on_either_side(void **state)
{
    assert_false(ztp_role_allows(ZTP_ROLE_NONE, ZTP_ROLE_VIEWER));
    /* a route registered with no role is closed, not open */
    assert_false(ztp_role_allows(ZTP_ROLE_ADMIN, ZTP_ROLE_NONE));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_parse_both_ways),
        cmocka_unit_test(each_role_includes_the_ones_below),
        cmocka_unit_test(nothing_is_allowed_without_a_role_on_either_side),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

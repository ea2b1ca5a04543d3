/* redirect/status.c: the whole transition table, pair by pair. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../redirect/status.h"

#define N ZTP_STATUS_NONE
#define O ZTP_STATUS_OPEN
#define P ZTP_STATUS_PENDING
#define C ZTP_STATUS_CUSTOM_PENDING
#define A ZTP_STATUS_ACQUIRED
#define B ZTP_STATUS_ABORTED
#define U ZTP_STATUS_UNAVAILABLE

/* rows: from none, open, pending, custom_pending, acquired, aborted, unavailable
 * columns: claim, ask_with_profile, ask_no_profile, ask_released, report_acquired, report_aborted,
 *          report_open, redeem */
static const ztp_status_t expected[ZTP_STATUS_COUNT + 1][ZTP_EVENT_COUNT] = {
    /* none */ {O, N, N, N, N, N, N, C},
    /* open */ {O, C, P, U, A, B, O, C},
    /* pending */ {O, C, P, U, A, B, O, C},
    /* custom_pending */ {O, C, P, U, A, B, O, C},
    /* acquired: asks again after a factory reset */ {O, C, P, U, A, B, O, C},
    /* aborted: likewise */ {O, C, P, U, A, B, O, C},
    /* unavailable: nobody owns it, so nobody reports */ {O, C, P, U, N, N, N, C},
};

static void every_transition_is_as_the_contract_says(void **state)
{
    for (int from = ZTP_STATUS_NONE; from < ZTP_STATUS_COUNT; from++)
        for (int ev = 0; ev < ZTP_EVENT_COUNT; ev++)
            assert_int_equal(ztp_status_next((ztp_status_t)from, (ztp_event_t)ev), expected[from + 1][ev]);
}

static void names_round_trip(void **state)
{
    for (int s = 0; s < ZTP_STATUS_COUNT; s++)
        assert_int_equal(ztp_status_from_name(ztp_status_name((ztp_status_t)s)), s);
    assert_int_equal(ztp_status_from_name("bogus"), ZTP_STATUS_NONE);
    assert_string_equal(ztp_status_name(ZTP_STATUS_CUSTOM_PENDING), "custom_pending");
    assert_string_equal(ztp_event_name(ZTP_EVENT_REPORT_ACQUIRED), "report_acquired");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_transition_is_as_the_contract_says),
        cmocka_unit_test(names_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

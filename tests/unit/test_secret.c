/* services/secret.c: page cursors sealed for one provider */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "../../services/secret.h"

static const char A[] = "6f1c3a52-0d4e-4b7a-9c1f-2a3b4c5d6e7f", B[] = "0b8e2f14-7c3d-4e5a-8b6c-9d0e1f2a3b4c";

static void a_cursor_opens_to_its_position_for_its_provider_only(void **state)
{
    unsigned char k1[32] = {1};
    unsigned long long pos, samples[] = {0, 1, 2, 41, 42, 1ULL << 32, 9223372036854775807ULL};
    char c[ZTP_CURSOR_LEN + 1], next[ZTP_CURSOR_LEN + 1];

    ztp_secret_init(k1, NULL);
    for (size_t i = 0; i < sizeof(samples) / sizeof(*samples); i++) {
        assert_int_equal(ztp_secret_cursor_seal(A, samples[i], c), 0);
        assert_int_equal(strlen(c), ZTP_CURSOR_LEN);
        assert_int_equal(strspn(c, "0123456789abcdef"), ZTP_CURSOR_LEN);
        assert_int_equal(ztp_secret_cursor_open(A, c, &pos), 0);
        assert_true(pos == samples[i]);
        assert_int_equal(ztp_secret_cursor_open(B, c, &pos), -1);
    }
    /* neighbours share nothing visible: no digit in common at the start */
    ztp_secret_cursor_seal(A, 41, c);
    ztp_secret_cursor_seal(A, 42, next);
    assert_int_not_equal(memcmp(c, next, 8), 0);
    /* any altered digit, length or character is refused */
    for (int i = 0; i < ZTP_CURSOR_LEN; i++) {
        char bad[ZTP_CURSOR_LEN + 1];
        memcpy(bad, c, sizeof(bad));
        bad[i] = bad[i] == '0' ? '1' : '0';
        assert_int_equal(ztp_secret_cursor_open(A, bad, &pos), -1);
    }
    assert_int_equal(ztp_secret_cursor_open(A, "", &pos), -1);
    assert_int_equal(ztp_secret_cursor_open(A, "41", &pos), -1);
    c[5] = 'G';
    assert_int_equal(ztp_secret_cursor_open(A, c, &pos), -1);
}

static void a_cursor_outlives_one_rotation(void **state)
{
    unsigned char k1[32] = {1}, k2[32] = {2}, k3[32] = {3};
    unsigned long long pos = 0;
    char c[ZTP_CURSOR_LEN + 1];

    ztp_secret_init(k1, NULL);
    ztp_secret_cursor_seal(A, 1234, c);
    ztp_secret_init(k2, k1);
    assert_int_equal(ztp_secret_cursor_open(A, c, &pos), 0);
    assert_true(pos == 1234);
    ztp_secret_init(k3, k2);
    assert_int_equal(ztp_secret_cursor_open(A, c, &pos), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_cursor_opens_to_its_position_for_its_provider_only),
        cmocka_unit_test(a_cursor_outlives_one_rotation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

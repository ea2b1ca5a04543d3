/* activation/code.c and activation/limiter.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "../../activation/code.h"
#include "../../activation/limiter.h"
#include "../../services/secret.h"

static void normalise_accepts_codes_with_separators(void **state)
{
    char out[ZTP_CODE_DIGITS + 1];
    assert_int_equal(ztp_code_normalise("1234 5678-9012 3456", 19, out), ZTP_CODE_ACTIVATION);
    assert_string_equal(out, "1234567890123456");
    assert_int_equal(ztp_code_normalise("#123", 4, out), ZTP_CODE_SHORT);
    assert_string_equal(out, "123");
    assert_int_equal(ztp_code_normalise(" #1234567890123456", 18, out), ZTP_CODE_SHORT);
}

static void normalise_rejects_everything_else(void **state)
{
    static const char *const bad[] = {"",
                                      "123456789012345",
                                      "12345678901234567",
                                      "#12",
                                      "#12345678901234567",
                                      "1234x67890123456",
                                      "##123",
                                      "12#3456789012345",
                                      "+1234567890123456",
                                      "１２３4567890123456"};
    char out[ZTP_CODE_DIGITS + 1];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(ztp_code_normalise(bad[i], strlen(bad[i]), out), ZTP_CODE_INVALID);
    char big[100];
    memset(big, '1', sizeof(big));
    assert_int_equal(ztp_code_normalise(big, sizeof(big), out), ZTP_CODE_INVALID);
}

static void derived_codes_are_16_uniform_digits_and_repeatable(void **state)
{
    int counts[10] = {0};
    unsigned char master[32] = {7}, nonce[ZTP_CODE_NONCE_LEN] = {1, 2, 3};
    char a[ZTP_CODE_DIGITS + 1], b[ZTP_CODE_DIGITS + 1];
    ztp_secret_init(master, NULL);
    ztp_code_derive(ZTP_SECRET_CURRENT, nonce, 5, a);
    ztp_code_derive(ZTP_SECRET_CURRENT, nonce, 5, b);
    assert_string_equal(a, b);
    ztp_code_derive(ZTP_SECRET_CURRENT, nonce, 6, b);
    assert_string_not_equal(a, b);
    nonce[0] = 9;
    ztp_code_derive(ZTP_SECRET_CURRENT, nonce, 5, b);
    assert_string_not_equal(a, b);
    for (int n = 0; n < 2000; n++) {
        char code[ZTP_CODE_DIGITS + 1];
        ztp_code_derive(ZTP_SECRET_CURRENT, nonce, (unsigned)n, code);
        assert_int_equal(strlen(code), 16);
        for (int i = 0; i < 16; i++) {
            assert_true(code[i] >= '0' && code[i] <= '9');
            counts[code[i] - '0']++;
        }
    }
    /* 32000 digits: each value near 3200; 2800..3600 is over 7 sigma */
    for (int d = 0; d < 10; d++)
        assert_true(counts[d] > 2800 && counts[d] < 3600);
}

static void hash_is_keyed(void **state)
{
    unsigned char k1[32] = {1}, k2[32] = {2};
    char h1[65], h2[65], h3[65];
    char hp[65];
    ztp_secret_init(k1, NULL);
    assert_int_equal(ztp_code_hash_hex(ZTP_SECRET_CURRENT, "1234567890123456", h1), 0);
    ztp_code_hash_hex(ZTP_SECRET_CURRENT, "1234567890123457", h3);
    assert_int_equal(ztp_code_hash_hex(ZTP_SECRET_PREVIOUS, "1234567890123456", hp), -1);
    ztp_secret_init(k2, k1);
    ztp_code_hash_hex(ZTP_SECRET_CURRENT, "1234567890123456", h2);
    assert_string_not_equal(h1, h2);
    assert_string_not_equal(h1, h3);
    assert_int_equal(strlen(h1), 64);
    /* while rotating, the previous secret gives the old hash */
    assert_int_equal(ztp_code_hash_hex(ZTP_SECRET_PREVIOUS, "1234567890123456", hp), 0);
    assert_string_equal(hp, h1);
}

static void limiter_blocks_after_ten_failures_per_address_or_mac(void **state)
{
    ztp_limiter_t *l = ztp_limiter_new(1024);
    unsigned char a1[16] = {1}, a2[16] = {2};
    unsigned char mac[6] = {0, 0x56, 0x2b, 4, 0x36, 0x15};
    uint64_t now = 1000000;
    for (int i = 0; i < 9; i++)
        ztp_limiter_fail(l, a1, NULL, now + (uint64_t)i);
    assert_int_equal(ztp_limiter_check(l, a1, NULL, now + 10), 0);
    ztp_limiter_fail(l, a1, NULL, now + 10);
    uint64_t wait = ztp_limiter_check(l, a1, NULL, now + 11);
    assert_true(wait >= ZTP_LIMIT_MIN_BLOCK_MS);
    assert_int_equal(ztp_limiter_check(l, a2, NULL, now + 11), 0);
    assert_int_equal(ztp_limiter_check(l, a1, NULL, now + ZTP_LIMIT_WINDOW_MS + 1000), 0);
    /* per MAC, across addresses */
    for (int i = 0; i < 10; i++) {
        unsigned char a[16] = {9, (unsigned char)i};
        ztp_limiter_fail(l, a, mac, now);
    }
    assert_true(ztp_limiter_check(l, a2, mac, now + 1) > 0);
    ztp_limiter_free(l);
}

static void limiter_memory_is_bounded_under_a_flood(void **state)
{
    ztp_limiter_t *l = ztp_limiter_new(64);
    unsigned char a[16] = {0};
    for (int i = 0; i < 100000; i++) {
        memcpy(a, &i, sizeof(i));
        ztp_limiter_fail(l, a, NULL, 5000);
    }
    ztp_limiter_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(normalise_accepts_codes_with_separators),
        cmocka_unit_test(normalise_rejects_everything_else),
        cmocka_unit_test(derived_codes_are_16_uniform_digits_and_repeatable),
        cmocka_unit_test(hash_is_keyed),
        cmocka_unit_test(limiter_blocks_after_ten_failures_per_address_or_mac),
        cmocka_unit_test(limiter_memory_is_bounded_under_a_flood),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

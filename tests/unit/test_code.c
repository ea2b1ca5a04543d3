/* activation/code.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "../../activation/code.h"
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

static void kept_nonce_names_the_secret_it_was_made_under(void **state)
{
    unsigned char k1[32] = {1}, k2[32] = {2}, k3[32] = {3}, nonce[ZTP_CODE_NONCE_LEN],
                  back[ZTP_CODE_NONCE_LEN];
    char kept[ZTP_CODE_KEPT_LEN];
    ztp_secret_gen_t gen;

    for (int i = 0; i < ZTP_CODE_NONCE_LEN; i++)
        nonce[i] = (unsigned char)(i * 17);
    ztp_secret_init(k1, NULL);
    ztp_code_kept_format(nonce, kept);
    assert_int_equal(strlen(kept), ZTP_CODE_KEPT_LEN - 1);
    assert_int_equal(ztp_code_kept_parse(kept, back, &gen), 0);
    assert_int_equal(gen, ZTP_SECRET_CURRENT);
    assert_memory_equal(back, nonce, sizeof(nonce));
    /* after a rotation it is the previous secret's; once that is gone, nobody's */
    ztp_secret_init(k2, k1);
    assert_int_equal(ztp_code_kept_parse(kept, back, &gen), 0);
    assert_int_equal(gen, ZTP_SECRET_PREVIOUS);
    ztp_secret_init(k3, k2);
    assert_int_equal(ztp_code_kept_parse(kept, back, &gen), -2);
    assert_int_equal(ztp_code_kept_parse(NULL, back, &gen), -1);
    assert_int_equal(ztp_code_kept_parse("zz:00", back, &gen), -1);
    assert_int_equal(ztp_code_kept_parse("00ff:0011223344556677", back, &gen), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(normalise_accepts_codes_with_separators),
        cmocka_unit_test(normalise_rejects_everything_else),
        cmocka_unit_test(derived_codes_are_16_uniform_digits_and_repeatable),
        cmocka_unit_test(hash_is_keyed),
        cmocka_unit_test(kept_nonce_names_the_secret_it_was_made_under),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

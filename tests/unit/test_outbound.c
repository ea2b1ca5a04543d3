/* services/outbound.c: the Standard Webhooks signature and the retry schedule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sodium.h>
#include <string.h>

#include "../../services/outbound.h"

/* The example of the Standard Webhooks reference libraries. */
static void signature_matches_the_reference_vector(void **state)
{
    unsigned char key[64];
    size_t len;
    char sig[128];
    const char *body = "{\"test\": 2432232314}";

    assert_int_equal(sodium_base642bin(key, sizeof(key), "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 32, NULL, &len, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    ztp_outbound_sign(key, len, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body), sig, sizeof(sig));
    assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    /* one byte of the body more, another signature */
    ztp_outbound_sign(key, len, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body) - 1, sig,
                      sizeof(sig));
    assert_string_not_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

static void secret_text_is_whsec_and_base64_of_the_key(void **state)
{
    unsigned char key[ZTP_OUTBOUND_KEY_LEN], back[ZTP_OUTBOUND_KEY_LEN];
    char text[ZTP_OUTBOUND_SECRET_LEN + 1];
    size_t len;

    for (int i = 0; i < ZTP_OUTBOUND_KEY_LEN; i++)
        key[i] = (unsigned char)(i * 7);
    ztp_outbound_secret_text(key, text);
    assert_int_equal(strlen(text), ZTP_OUTBOUND_SECRET_LEN);
    assert_memory_equal(text, "whsec_", 6);
    assert_int_equal(sodium_base642bin(back, sizeof(back), text + 6, strlen(text + 6), NULL, &len, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    assert_int_equal(len, ZTP_OUTBOUND_KEY_LEN);
    assert_memory_equal(back, key, len);
}

static void retries_grow_and_stop_after_a_day(void **state)
{
    assert_true(ztp_outbound_retry_delay(1, 0, 1) == 5);
    assert_true(ztp_outbound_retry_delay(2, 5, 1) == 30);
    assert_true(ztp_outbound_retry_delay(3, 35, 1) == 120);
    assert_true(ztp_outbound_retry_delay(6, 4000, 1) == 3600);
    assert_true(ztp_outbound_retry_delay(20, 3600, 1) == 28800); /* the last one repeats */
    assert_true(ztp_outbound_retry_delay(20, 80000, 1) < 0);      /* past 24 hours */
    assert_true(ztp_outbound_retry_delay(1, 0, 100) == 0.05);
    assert_true(ztp_outbound_retry_delay(20, 800, 100) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(signature_matches_the_reference_vector),
        cmocka_unit_test(secret_text_is_whsec_and_base64_of_the_key),
        cmocka_unit_test(retries_grow_and_stop_after_a_day),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

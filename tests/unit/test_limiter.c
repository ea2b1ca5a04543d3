/* services/limiter.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <string.h>

#include "../../services/limiter.h"

#define WINDOW (15 * 60 * 1000)
#define MIN_BLOCK (60 * 1000)
#define T0 1000000
/* an attempt is forgotten a window and at most a slice (a fifteenth) after it came */
#define SPAN (WINDOW + WINDOW / 15)

static ztp_limiter_t *ten(unsigned capacity)
{
    return ztp_limiter_new(capacity, 16, 10, WINDOW, MIN_BLOCK);
}

static void key_of(unsigned n, unsigned char key[16])
{
    memset(key, 0, 16);
    memcpy(key, &n, sizeof(n));
}

static void the_eleventh_attempt_is_refused_until_the_window_ends(void **state)
{
    ztp_limiter_t *l = ten(1024);
    unsigned char a[16], b[16];
    key_of(1, a);
    key_of(2, b);
    for (int i = 0; i < 10; i++)
        assert_int_equal(ztp_limiter_reserve(l, a, T0 + (uint64_t)i), 0);
    uint64_t wait = ztp_limiter_reserve(l, a, T0 + 10);
    assert_true(wait >= MIN_BLOCK);
    assert_true(ztp_limiter_wait(l, a, T0 + 11) > 0);
    assert_int_equal(ztp_limiter_wait(l, b, T0 + 11), 0);
    /* a refused attempt counts nothing: the window still ends on time */
    for (int i = 0; i < 100; i++)
        ztp_limiter_reserve(l, a, T0 + 100 + (uint64_t)i);
    assert_true(ztp_limiter_wait(l, a, T0 + WINDOW - 1) > 0);
    assert_int_equal(ztp_limiter_wait(l, a, T0 + SPAN + 1), 0);
    assert_int_equal(ztp_limiter_reserve(l, a, T0 + SPAN + 1), 0);
    ztp_limiter_free(l);
}

/* Windows began at a key's first attempt: 9 attempts at the end of one and
 * 10 at the start of the next got 19 through within seconds. */
static void the_limit_holds_across_the_end_of_a_window(void **state)
{
    ztp_limiter_t *l = ten(1024);
    unsigned char a[16];
    int through = 0;
    key_of(7, a);
    through += ztp_limiter_reserve(l, a, T0) == 0;
    for (int i = 0; i < 8; i++)
        through += ztp_limiter_reserve(l, a, T0 + WINDOW - 2000) == 0;
    for (int i = 0; i < 10; i++)
        through += ztp_limiter_reserve(l, a, T0 + WINDOW + 1000) == 0;
    assert_true(through <= 11); /* the first may be forgotten by then, the 8 are not */
    ztp_limiter_free(l);
}

/* Whenever attempts come, no span of a window's length lets more than the
 * threshold through. */
static void no_window_ever_holds_more_than_the_threshold(void **state)
{
    enum { N = 20000 };
    static uint64_t ok[N];
    ztp_limiter_t *l = ten(1024);
    unsigned char a[16];
    uint64_t t = T0, seed = 12345;
    size_t n = 0;
    key_of(8, a);
    for (int i = 0; i < N; i++) {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        t += (seed >> 33) % 200000; /* 0 to 200 s apart */
        if (ztp_limiter_reserve(l, a, t) == 0)
            ok[n++] = t;
        if ((seed >> 20) % 7 == 0 && n > 0) /* now and then one succeeds and is given back */
            ztp_limiter_refund(l, a, ok[--n], t);
    }
    for (size_t i = 0, j = 0; i < n; i++) {
        while (ok[j] + WINDOW <= ok[i])
            j++;
        if (i - j + 1 > 10)
            fail_msg("%zu attempts through between %llu and %llu", i - j + 1, (unsigned long long)ok[j],
                     (unsigned long long)ok[i]);
    }
    assert_true(n > 500); /* and the limit let attempts through all along */
    ztp_limiter_free(l);
}

/* A reservation whose clock was read before another thread moved the key
 * into the next slice was counted in the new slice, and its refund, naming
 * its own, gave nothing back. Used as a count of checks in flight (min
 * block 0, every attempt given back), a source lost a slot for good. */
static void a_refund_finds_its_attempt_across_a_slice_boundary(void **state)
{
    ztp_limiter_t *l = ztp_limiter_new(1024, 16, 4, WINDOW, 0);
    unsigned char a[16];
    uint64_t boundary = (uint64_t)(WINDOW / 15) * 20, t1 = boundary - 1, t2 = boundary + 1;
    key_of(9, a);
    assert_int_equal(ztp_limiter_reserve(l, a, t2), 0);
    ztp_limiter_refund(l, a, t2, t2);
    assert_int_equal(ztp_limiter_reserve(l, a, t1), 0); /* its clock read before t2 */
    ztp_limiter_refund(l, a, t1, t2);
    for (int i = 0; i < 4; i++)
        assert_int_equal(ztp_limiter_reserve(l, a, t2 + 1), 0);
    assert_true(ztp_limiter_reserve(l, a, t2 + 1) > 0);
    ztp_limiter_free(l);
}

/* A table whose candidates are all blocked refuses a new key: with a minimum
 * block of 0 the refusal said 0, which means allowed. */
static void a_full_table_refuses_even_without_a_minimum_block(void **state)
{
    ztp_limiter_t *l = ztp_limiter_new(16, 16, 1, WINDOW, 0);
    unsigned char k[16];
    for (unsigned i = 0; i < 16; i++) {
        key_of(i, k);
        ztp_limiter_reserve(l, k, T0);
    }
    key_of(100, k);
    assert_true(ztp_limiter_reserve(l, k, T0 + 1) > 0);
    ztp_limiter_free(l);
}

static void a_block_lasts_at_least_the_minimum(void **state)
{
    ztp_limiter_t *l = ten(1024);
    unsigned char a[16];
    key_of(3, a);
    ztp_limiter_reserve(l, a, T0);
    for (int i = 1; i < 10; i++)
        ztp_limiter_reserve(l, a, T0 + WINDOW - 10);
    assert_true(ztp_limiter_wait(l, a, T0 + WINDOW - 9) >= MIN_BLOCK - 1);
    ztp_limiter_free(l);
}

static void a_refund_gives_the_slot_back_and_lifts_its_block(void **state)
{
    ztp_limiter_t *l = ten(1024);
    unsigned char a[16];
    key_of(4, a);
    for (int i = 0; i < 9; i++)
        ztp_limiter_reserve(l, a, T0);
    /* the tenth attempt is in flight: the key is full meanwhile */
    assert_int_equal(ztp_limiter_reserve(l, a, T0 + 1), 0);
    assert_true(ztp_limiter_wait(l, a, T0 + 2) > 0);
    assert_true(ztp_limiter_reserve(l, a, T0 + 2) > 0);
    /* it succeeded */
    ztp_limiter_refund(l, a, T0 + 1, T0 + 3);
    assert_int_equal(ztp_limiter_wait(l, a, T0 + 3), 0);
    assert_int_equal(ztp_limiter_reserve(l, a, T0 + 4), 0);
    assert_true(ztp_limiter_reserve(l, a, T0 + 5) > 0);
    ztp_limiter_free(l);
}

static void a_refund_from_an_earlier_window_changes_nothing(void **state)
{
    ztp_limiter_t *l = ten(1024);
    unsigned char a[16];
    key_of(5, a);
    ztp_limiter_reserve(l, a, T0);
    for (int i = 0; i < 10; i++)
        ztp_limiter_reserve(l, a, T0 + SPAN + 5);
    ztp_limiter_refund(l, a, T0, T0 + SPAN + 6);
    assert_true(ztp_limiter_wait(l, a, T0 + SPAN + 7) > 0);
    ztp_limiter_free(l);
}

static void parallel_attempts_get_at_most_the_threshold_through(void **state)
{
    ztp_limiter_t *l = ten(1024);
    unsigned char a[16];
    int through = 0;
    key_of(6, a);
    for (int i = 0; i < 60; i++) /* 60 arrive before any answer */
        through += ztp_limiter_reserve(l, a, T0) == 0;
    assert_int_equal(through, 10);
    ztp_limiter_free(l);
}

static void a_flood_never_evicts_a_blocked_key(void **state)
{
    ztp_limiter_t *l = ten(64);
    unsigned char a[16], k[16];
    key_of(0xfffffff, a);
    for (int i = 0; i < 10; i++)
        ztp_limiter_reserve(l, a, T0);
    assert_true(ztp_limiter_wait(l, a, T0) > 0);
    /* 100,000 other keys, each with one attempt, through a table of 64 */
    for (unsigned i = 0; i < 100000; i++) {
        key_of(i, k);
        ztp_limiter_reserve(l, k, T0 + 1);
    }
    assert_true(ztp_limiter_wait(l, a, T0 + 2) > 0);
    assert_true(ztp_limiter_reserve(l, a, T0 + 2) > 0);
    ztp_limiter_free(l);
}

static void a_table_full_of_blocked_keys_refuses_new_ones(void **state)
{
    ztp_limiter_t *l = ztp_limiter_new(16, 16, 1, WINDOW, MIN_BLOCK);
    unsigned char k[16];
    unsigned blocked = 0;
    for (unsigned i = 0; i < 1000; i++) {
        key_of(i, k);
        if (ztp_limiter_reserve(l, k, T0) == 0)
            blocked++; /* threshold 1: the first attempt blocks its key */
    }
    assert_int_equal(blocked, 16); /* memory stays bounded: the rest were refused, none evicted */
    key_of(5000, k);
    assert_true(ztp_limiter_reserve(l, k, T0 + 1) > 0);
    /* once the window ends, the slots are free again */
    assert_int_equal(ztp_limiter_reserve(l, k, T0 + SPAN + 1), 0);
    ztp_limiter_free(l);
}

static void ipv6_counts_by_its_64_and_ipv4_by_address(void **state)
{
    unsigned char v6a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8};
    unsigned char v6b[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 9, 9, 9, 9, 9, 9, 9, 9};
    unsigned char v6c[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8};
    unsigned char v4a[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
    unsigned char v4b[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 2};
    unsigned char ka[16], kb[16];

    ztp_limiter_addr_key(v6a, ka);
    ztp_limiter_addr_key(v6b, kb);
    assert_memory_equal(ka, kb, 16);
    ztp_limiter_addr_key(v6c, kb);
    assert_memory_not_equal(ka, kb, 16);
    ztp_limiter_addr_key(v4a, ka);
    ztp_limiter_addr_key(v4b, kb);
    assert_memory_not_equal(ka, kb, 16);
    assert_memory_equal(ka, v4a, 16);

    /* ten attempts spread over one /64 block all of it */
    ztp_limiter_t *l = ten(1024);
    for (int i = 0; i < 10; i++) {
        v6a[15] = (unsigned char)i;
        ztp_limiter_addr_key(v6a, ka);
        assert_int_equal(ztp_limiter_reserve(l, ka, T0), 0);
    }
    ztp_limiter_addr_key(v6b, kb);
    assert_true(ztp_limiter_wait(l, kb, T0 + 1) > 0);
    ztp_limiter_free(l);

    /* the network: an IPv6 address's /48, none for IPv4 */
    assert_int_equal(ztp_limiter_net_key(v6a, ka), 1);
    assert_int_equal(ztp_limiter_net_key(v6c, kb), 1);
    assert_memory_equal(ka, kb, 16); /* 2001:db8:1:2:: and 2001:db8:1:3:: share 2001:db8:1::/48 */
    assert_int_equal(ka[5], 1);
    for (int i = 6; i < 16; i++)
        assert_int_equal(ka[i], 0);
    v6c[5] = 2;
    ztp_limiter_net_key(v6c, kb);
    assert_memory_not_equal(ka, kb, 16);
    assert_int_equal(ztp_limiter_net_key(v4a, ka), 0);

    /* NAT64 (64:ff9b::/96): each IPv4 client its own, as if it came over IPv4; they shared one /64 and /48 */
    unsigned char n1[16] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 192, 0, 2, 1};
    unsigned char n2[16] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 192, 0, 2, 2};
    ztp_limiter_addr_key(n1, ka);
    ztp_limiter_addr_key(n2, kb);
    assert_memory_not_equal(ka, kb, 16);
    assert_memory_equal(ka, v4a, 16);
    assert_int_equal(ztp_limiter_net_key(n1, ka), 0);
}

static void short_keys_such_as_macs_work(void **state)
{
    ztp_limiter_t *l = ztp_limiter_new(1024, 6, 10, WINDOW, MIN_BLOCK);
    unsigned char mac[6] = {0, 0x56, 0x2b, 4, 0x36, 0x15}, other[6] = {0, 0x56, 0x2b, 4, 0x36, 0x16};
    for (int i = 0; i < 10; i++)
        ztp_limiter_reserve(l, mac, T0);
    assert_true(ztp_limiter_wait(l, mac, T0 + 1) > 0);
    assert_int_equal(ztp_limiter_wait(l, other, T0 + 1), 0);
    ztp_limiter_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_eleventh_attempt_is_refused_until_the_window_ends),
        cmocka_unit_test(the_limit_holds_across_the_end_of_a_window),
        cmocka_unit_test(no_window_ever_holds_more_than_the_threshold),
        cmocka_unit_test(a_refund_finds_its_attempt_across_a_slice_boundary),
        cmocka_unit_test(a_full_table_refuses_even_without_a_minimum_block),
        cmocka_unit_test(a_block_lasts_at_least_the_minimum),
        cmocka_unit_test(a_refund_gives_the_slot_back_and_lifts_its_block),
        cmocka_unit_test(a_refund_from_an_earlier_window_changes_nothing),
        cmocka_unit_test(parallel_attempts_get_at_most_the_threshold_through),
        cmocka_unit_test(a_flood_never_evicts_a_blocked_key),
        cmocka_unit_test(a_table_full_of_blocked_keys_refuses_new_ones),
        cmocka_unit_test(ipv6_counts_by_its_64_and_ipv4_by_address),
        cmocka_unit_test(short_keys_such_as_macs_work),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

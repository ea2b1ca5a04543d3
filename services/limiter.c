/*
 * One open-addressing table behind one mutex. Keys are hashed with SipHash
 * under a random key so that nobody can aim collisions at a slot; a key
 * lives in one of PROBES slots from its hash. When they are all taken, the
 * unblocked entry with the fewest attempts gives way: flooding the table
 * from many addresses can reset a neighbour's partial count (which those
 * addresses could have spent themselves) but never lift a block.
 */
#include "limiter.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROBES 16
#define KEY_MAX 16

typedef struct entry {
    unsigned char key[KEY_MAX];
    uint8_t used;
    uint32_t count;
    uint64_t window_start;
    uint64_t blocked_until;
} entry_t;

struct ztp_limiter {
    pthread_mutex_t lock;
    unsigned char hashkey[crypto_shorthash_KEYBYTES];
    unsigned mask;
    size_t keylen;
    uint32_t threshold;
    uint64_t window_ms, min_block_ms;
    entry_t *slots;
};

ztp_limiter_t *ztp_limiter_new(unsigned capacity, size_t keylen, uint32_t threshold, uint64_t window_ms,
                               uint64_t min_block_ms)
{
    ztp_limiter_t *l = calloc(1, sizeof(*l));
    if (l == NULL || capacity == 0 || (capacity & (capacity - 1)) != 0 || keylen > KEY_MAX || threshold == 0)
        abort();
    l->slots = calloc(capacity, sizeof(entry_t));
    if (l->slots == NULL)
        abort();
    pthread_mutex_init(&l->lock, NULL);
    crypto_shorthash_keygen(l->hashkey);
    l->mask = capacity - 1;
    l->keylen = keylen;
    l->threshold = threshold;
    l->window_ms = window_ms;
    l->min_block_ms = min_block_ms;
    return l;
}

void ztp_limiter_free(ztp_limiter_t *l)
{
    if (l == NULL)
        return;
    pthread_mutex_destroy(&l->lock);
    free(l->slots);
    free(l);
}

static int window_over(const ztp_limiter_t *l, const entry_t *e, uint64_t now)
{
    return now - e->window_start >= l->window_ms && now >= e->blocked_until;
}

static int blocked(const entry_t *e, uint64_t now)
{
    return now < e->blocked_until;
}

/* Whether e should give way to a new key rather than the victim chosen so far. */
static int better_victim(const entry_t *e, const entry_t *v)
{
    return v == NULL || e->count < v->count || (e->count == v->count && e->window_start < v->window_start);
}

/* The entry of key, its window renewed when over; NULL when absent and
 * !create, or when every candidate slot is blocked. Caller holds the lock. */
static entry_t *find(ztp_limiter_t *l, const unsigned char *key, uint64_t now, int create)
{
    unsigned char h[crypto_shorthash_BYTES];
    uint64_t start;
    entry_t *victim = NULL, *e;
    int victim_free = 0;

    crypto_shorthash(h, key, l->keylen, l->hashkey);
    memcpy(&start, h, sizeof(start));
    for (unsigned i = 0; i < PROBES; i++) {
        e = &l->slots[(start + i) & l->mask];
        if (e->used && memcmp(e->key, key, l->keylen) == 0) {
            victim = e;
            goto found;
        }
        if (!e->used || window_over(l, e, now)) {
            if (!victim_free)
                victim = e;
            victim_free = 1;
        } else if (!victim_free && !blocked(e, now) && better_victim(e, victim)) {
            victim = e;
        }
    }
    if (!create || victim == NULL)
        return NULL;
    memset(victim, 0, sizeof(*victim));
    victim->used = 1;
    memcpy(victim->key, key, l->keylen);
    victim->window_start = now;
    return victim;
found:
    if (window_over(l, victim, now)) {
        victim->count = 0;
        victim->window_start = now;
        victim->blocked_until = 0;
    }
    return victim;
}

uint64_t ztp_limiter_wait(ztp_limiter_t *l, const unsigned char *key, uint64_t now_ms)
{
    entry_t *e;
    uint64_t wait = 0;
    pthread_mutex_lock(&l->lock);
    e = find(l, key, now_ms, 0);
    if (e != NULL && blocked(e, now_ms))
        wait = e->blocked_until - now_ms;
    pthread_mutex_unlock(&l->lock);
    return wait;
}

uint64_t ztp_limiter_reserve(ztp_limiter_t *l, const unsigned char *key, uint64_t now_ms)
{
    entry_t *e;
    uint64_t wait = 0;
    pthread_mutex_lock(&l->lock);
    e = find(l, key, now_ms, 1);
    if (e == NULL) {
        wait = l->min_block_ms; /* no room without freeing a blocked key: refuse */
    } else if (blocked(e, now_ms)) {
        wait = e->blocked_until - now_ms;
    } else if (++e->count >= l->threshold) {
        uint64_t until = e->window_start + l->window_ms;
        if (until < now_ms + l->min_block_ms)
            until = now_ms + l->min_block_ms;
        e->blocked_until = until;
    }
    pthread_mutex_unlock(&l->lock);
    return wait;
}

void ztp_limiter_refund(ztp_limiter_t *l, const unsigned char *key, uint64_t reserved_ms, uint64_t now_ms)
{
    entry_t *e;
    pthread_mutex_lock(&l->lock);
    e = find(l, key, now_ms, 0);
    if (e != NULL && e->window_start <= reserved_ms && e->count > 0 && --e->count < l->threshold)
        e->blocked_until = 0;
    pthread_mutex_unlock(&l->lock);
}

void ztp_limiter_addr_key(const unsigned char addr[16], unsigned char key[16])
{
    static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memcpy(key, addr, 16);
    if (memcmp(addr, v4mapped, sizeof(v4mapped)) != 0)
        memset(key + 8, 0, 8);
}

int ztp_limiter_net_key(const unsigned char addr[16], unsigned char key[16])
{
    static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(addr, v4mapped, sizeof(v4mapped)) == 0)
        return 0;
    memcpy(key, addr, 6);
    memset(key + 6, 0, 10);
    return 1;
}

uint64_t ztp_limiter_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

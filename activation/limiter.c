/*
 * Two small open-addressing tables (addresses, MACs) behind one mutex each.
 * Keys are hashed with SipHash under a random key so that nobody can aim
 * collisions at a slot; a full neighbourhood evicts its stalest entry, so
 * memory stays bounded whatever an attacker sends.
 */
#include "limiter.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define PROBES 16

typedef struct entry {
    unsigned char key[16];
    uint8_t used;
    uint32_t failures;
    uint64_t window_start;
    uint64_t blocked_until;
} entry_t;

typedef struct table {
    pthread_mutex_t lock;
    unsigned mask;
    size_t keylen;
    entry_t *slots;
} table_t;

struct ztp_limiter {
    unsigned char hashkey[crypto_shorthash_KEYBYTES];
    table_t addrs, macs;
};

static void table_init(table_t *t, unsigned capacity, size_t keylen)
{
    pthread_mutex_init(&t->lock, NULL);
    t->mask = capacity - 1;
    t->keylen = keylen;
    t->slots = calloc(capacity, sizeof(entry_t));
    if (t->slots == NULL)
        abort();
}

ztp_limiter_t *ztp_limiter_new(unsigned capacity)
{
    ztp_limiter_t *l = calloc(1, sizeof(*l));
    if (l == NULL || (capacity & (capacity - 1)) != 0)
        abort();
    crypto_shorthash_keygen(l->hashkey);
    table_init(&l->addrs, capacity, 16);
    table_init(&l->macs, capacity, 6);
    return l;
}

void ztp_limiter_free(ztp_limiter_t *l)
{
    free(l->addrs.slots);
    free(l->macs.slots);
    pthread_mutex_destroy(&l->addrs.lock);
    pthread_mutex_destroy(&l->macs.lock);
    free(l);
}

static int expired(const entry_t *e, uint64_t now)
{
    return now - e->window_start >= ZTP_LIMIT_WINDOW_MS && now >= e->blocked_until;
}

/* The entry of key, or NULL when absent and !create. Caller holds the lock. */
static entry_t *find(ztp_limiter_t *l, table_t *t, const unsigned char *key, uint64_t now, int create)
{
    unsigned char h[crypto_shorthash_BYTES];
    uint64_t start;
    entry_t *victim = NULL;
    int victim_free = 0;

    crypto_shorthash(h, key, t->keylen, l->hashkey);
    memcpy(&start, h, sizeof(start));
    for (unsigned i = 0; i < PROBES; i++) {
        entry_t *e = &t->slots[(start + i) & t->mask];
        if (e->used && memcmp(e->key, key, t->keylen) == 0)
            return e;
        if (!e->used || expired(e, now)) {
            if (!victim_free) {
                victim = e;
                victim_free = 1;
            }
        } else if (!victim_free && (victim == NULL || e->window_start < victim->window_start)) {
            victim = e; /* the neighbourhood is full: the stalest goes */
        }
    }
    if (!create)
        return NULL;
    memset(victim, 0, sizeof(*victim));
    victim->used = 1;
    memcpy(victim->key, key, t->keylen);
    victim->window_start = now;
    return victim;
}

static uint64_t wait_of(ztp_limiter_t *l, table_t *t, const unsigned char *key, uint64_t now)
{
    entry_t *e;
    uint64_t wait = 0;
    pthread_mutex_lock(&t->lock);
    e = find(l, t, key, now, 0);
    if (e != NULL && e->blocked_until > now)
        wait = e->blocked_until - now;
    pthread_mutex_unlock(&t->lock);
    return wait;
}

static void fail(ztp_limiter_t *l, table_t *t, const unsigned char *key, uint64_t now)
{
    entry_t *e;
    pthread_mutex_lock(&t->lock);
    e = find(l, t, key, now, 1);
    if (now - e->window_start >= ZTP_LIMIT_WINDOW_MS) {
        e->window_start = now;
        e->failures = 0;
    }
    if (++e->failures >= ZTP_LIMIT_FAILURES) {
        uint64_t until = e->window_start + ZTP_LIMIT_WINDOW_MS;
        if (until < now + ZTP_LIMIT_MIN_BLOCK_MS)
            until = now + ZTP_LIMIT_MIN_BLOCK_MS;
        if (until > e->blocked_until)
            e->blocked_until = until;
    }
    pthread_mutex_unlock(&t->lock);
}

uint64_t ztp_limiter_check(ztp_limiter_t *l, const unsigned char addr[16], const unsigned char *mac,
                           uint64_t now_ms)
{
    uint64_t a = wait_of(l, &l->addrs, addr, now_ms);
    uint64_t m = mac != NULL ? wait_of(l, &l->macs, mac, now_ms) : 0;
    return a > m ? a : m;
}

void ztp_limiter_fail(ztp_limiter_t *l, const unsigned char addr[16], const unsigned char *mac,
                      uint64_t now_ms)
{
    fail(l, &l->addrs, addr, now_ms);
    if (mac != NULL)
        fail(l, &l->macs, mac, now_ms);
}

/*
 * One open-addressing table behind one mutex. Keys are hashed with SipHash
 * under a random key so that nobody can aim collisions at a slot; a key
 * lives in one of PROBES slots from its hash. When they are all taken, the
 * unblocked entry with the fewest attempts gives way: flooding the table
 * from many addresses can reset a neighbour's partial count (which those
 * addresses could have spent themselves) but never lift a block. Attempts
 * are counted in slices of the window (SLICES), so that the limit holds
 * over any window's length of time.
 */
#include "limiter.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROBES 16
#define KEY_MAX 16
/* A window is counted in SLICES slices of window/(SLICES - 1): the
 * attempts of the slices that began within the last window, the current
 * one included, so between one window and one slice more. "10 within 15
 * minutes" then holds for any 15 minutes, not only for windows that start
 * at a key's first attempt: with those, 9 attempts at the end of one window
 * and 10 at the start of the next got 19 through within seconds. */
#define SLICES 16

typedef struct entry {
    unsigned char key[KEY_MAX];
    uint8_t used;
    uint8_t n[SLICES];      /* attempts per slice, by slice number modulo SLICES */
    uint64_t last;          /* the newest slice counted in n */
    uint64_t blocked_until; /* 0: not blocked */
} entry_t;

struct ztp_limiter {
    pthread_mutex_t lock;
    unsigned char hashkey[crypto_shorthash_KEYBYTES];
    unsigned mask;
    size_t keylen;
    uint32_t threshold;
    uint64_t slice_ms, min_block_ms;
    entry_t *slots;
};

ztp_limiter_t *ztp_limiter_new(unsigned capacity, size_t keylen, uint32_t threshold, uint64_t window_ms,
                               uint64_t min_block_ms)
{
    ztp_limiter_t *l = calloc(1, sizeof(*l));
    if (l == NULL || capacity == 0 || (capacity & (capacity - 1)) != 0 || keylen > KEY_MAX ||
        threshold == 0 || threshold > UINT8_MAX || window_ms == 0)
        abort();
    l->slots = calloc(capacity, sizeof(entry_t));
    if (l->slots == NULL)
        abort();
    pthread_mutex_init(&l->lock, NULL);
    crypto_shorthash_keygen(l->hashkey);
    l->mask = capacity - 1;
    l->keylen = keylen;
    l->threshold = threshold;
    l->slice_ms = (window_ms + SLICES - 2) / (SLICES - 1); /* rounded up: never a shorter window */
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

/* Forgets e's slices older than the window at now. */
static void advance(const ztp_limiter_t *l, entry_t *e, uint64_t now)
{
    uint64_t cur = now / l->slice_ms;
    if (cur <= e->last)
        return;
    if (cur - e->last >= SLICES)
        memset(e->n, 0, sizeof(e->n));
    else
        for (uint64_t s = e->last + 1; s <= cur; s++)
            e->n[s % SLICES] = 0;
    e->last = cur;
}

/* The attempts e counts at now (advance(e, now) first). */
static uint32_t counted(const entry_t *e)
{
    uint32_t sum = 0;
    for (int i = 0; i < SLICES; i++)
        sum += e->n[i];
    return sum;
}

static int blocked(const entry_t *e, uint64_t now)
{
    return now < e->blocked_until;
}

/* Blocks e, at threshold at now: until enough of its attempts leave the
 * window for one more to be allowed, and for at least min_block_ms. */
static void block(const ztp_limiter_t *l, entry_t *e, uint64_t now)
{
    uint32_t left = counted(e);
    uint64_t s = e->last + 1 - SLICES; /* the oldest slice counted */
    while (left >= l->threshold)
        left -= e->n[s++ % SLICES];
    /* slice s - 1 was the last that had to go: it leaves the window when slice s - 1 + SLICES begins */
    uint64_t until = (s - 1 + SLICES) * l->slice_ms;
    e->blocked_until = until > now + l->min_block_ms ? until : now + l->min_block_ms;
}

/* The entry of key, its old slices forgotten; NULL when absent and !create,
 * or when every candidate slot is blocked. Caller holds the lock. */
static entry_t *find(ztp_limiter_t *l, const unsigned char *key, uint64_t now, int create)
{
    unsigned char h[crypto_shorthash_BYTES];
    uint64_t start;
    entry_t *victim = NULL, *e;
    uint32_t victim_n = 0;
    int victim_free = 0;

    crypto_shorthash(h, key, l->keylen, l->hashkey);
    memcpy(&start, h, sizeof(start));
    for (unsigned i = 0; i < PROBES; i++) {
        e = &l->slots[(start + i) & l->mask];
        if (e->used && memcmp(e->key, key, l->keylen) == 0) {
            advance(l, e, now);
            return e;
        }
        if (!create)
            continue; /* a lookup: the victims do not matter */
        if (e->used)
            advance(l, e, now);
        uint32_t n = e->used ? counted(e) : 0;
        if (!e->used || (n == 0 && !blocked(e, now))) {
            if (!victim_free)
                victim = e;
            victim_free = 1;
        } else if (!victim_free && !blocked(e, now) && (victim == NULL || n < victim_n)) {
            /* the unblocked one with the fewest attempts (all were just moved to now: the first of equals) */
            victim = e;
            victim_n = n;
        }
    }
    if (!create || victim == NULL)
        return NULL;
    memset(victim, 0, sizeof(*victim));
    victim->used = 1;
    memcpy(victim->key, key, l->keylen);
    victim->last = now / l->slice_ms;
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
        /* no room without freeing a blocked key: refuse (never with 0, which means allowed) */
        wait = l->min_block_ms ? l->min_block_ms : l->slice_ms;
    } else if (blocked(e, now_ms)) {
        wait = e->blocked_until - now_ms;
    } else if (counted(e) >= l->threshold) {
        block(l, e, now_ms); /* full of attempts still in flight (not yet refunded) */
        wait = e->blocked_until - now_ms;
    } else {
        /* into the slice of now_ms, which a refund names: another thread may have moved e on already */
        uint64_t s = now_ms / l->slice_ms;
        e->n[(s <= e->last && e->last - s < SLICES ? s : e->last) % SLICES]++;
        if (counted(e) >= l->threshold)
            block(l, e, now_ms);
    }
    pthread_mutex_unlock(&l->lock);
    return wait;
}

void ztp_limiter_refund(ztp_limiter_t *l, const unsigned char *key, uint64_t reserved_ms, uint64_t now_ms)
{
    entry_t *e;
    pthread_mutex_lock(&l->lock);
    e = find(l, key, now_ms, 0);
    if (e != NULL) {
        uint64_t s = reserved_ms / l->slice_ms;
        if (s <= e->last && e->last - s < SLICES && e->n[s % SLICES] > 0) {
            e->n[s % SLICES]--;
            if (counted(e) < l->threshold)
                e->blocked_until = 0;
        }
    }
    pthread_mutex_unlock(&l->lock);
}

static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
/* NAT64's well-known prefix (RFC 6052): 64:ff9b::/96 holds an IPv4 client's
 * address in its last 32 bits; every such client shares the /64 and /48. */
static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};

void ztp_limiter_addr_key(const unsigned char addr[16], unsigned char key[16])
{
    memcpy(key, addr, 16);
    if (memcmp(addr, nat64, sizeof(nat64)) == 0)
        memcpy(key, v4mapped, sizeof(v4mapped)); /* counted as the IPv4 address it carries */
    else if (memcmp(addr, v4mapped, sizeof(v4mapped)) != 0)
        memset(key + 8, 0, 8);
}

int ztp_limiter_net_key(const unsigned char addr[16], unsigned char key[16])
{
    if (memcmp(addr, v4mapped, sizeof(v4mapped)) == 0 || memcmp(addr, nat64, sizeof(nat64)) == 0)
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

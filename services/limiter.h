#ifndef ZTP_LIMITER_H
#define ZTP_LIMITER_H

#include <stddef.h>
#include <stdint.h>

/*
 * Attempts counted per key (a source address, a MAC) in memory, shared by
 * all loop threads: once `threshold` attempts were counted within
 * `window_ms` (any such span: attempts are counted in slices of about a
 * fifteenth of it, and one is forgotten a window and at most a slice after
 * it came), every attempt for that key is refused until enough of them are
 * forgotten, and for at least `min_block_ms`. Activation (failed
 * redemptions) and scanning (/redirect and /boot misses) each keep one.
 *
 * Memory is bounded: a full neighbourhood of the table gives up its
 * entry with the fewest attempts, never a blocked one. When every
 * candidate is blocked, a new key is refused (fails closed) rather than
 * freeing a blocked key by flooding the table.
 */
typedef struct ztp_limiter ztp_limiter_t;

/* A limiter of `capacity` entries (a power of two) for keys of `keylen`
 * bytes (at most 16). Owned by the caller; ztp_limiter_free releases it. */
ztp_limiter_t *ztp_limiter_new(unsigned capacity, size_t keylen, uint32_t threshold, uint64_t window_ms,
                               uint64_t min_block_ms);
void ztp_limiter_free(ztp_limiter_t *l);

/* Milliseconds until an attempt for key is allowed again; 0 when it is
 * allowed now. Counts nothing. */
uint64_t ztp_limiter_wait(ztp_limiter_t *l, const unsigned char *key, uint64_t now_ms);

/* Counts one attempt for key as it arrives, when allowed: returns 0 then
 * (the slot is taken; ztp_limiter_refund gives it back when the attempt
 * turns out not to count). Returns the wait when refused, counting nothing. */
uint64_t ztp_limiter_reserve(ztp_limiter_t *l, const unsigned char *key, uint64_t now_ms);

/* Gives back a slot reserved at reserved_ms (the `now_ms` given to
 * reserve), unless its window has ended since; lifts the block that slot
 * set. */
void ztp_limiter_refund(ztp_limiter_t *l, const unsigned char *key, uint64_t reserved_ms, uint64_t now_ms);

/* Milliseconds on a monotonic clock: the `now_ms` the calls above take. */
uint64_t ztp_limiter_clock(void);

/* Folds a 16-byte address (IPv6, or IPv4 v4-mapped) into the key that
 * limits it: an IPv4 address stays whole, an IPv6 one counts by its /64,
 * but one of NAT64's 64:ff9b::/96 by the IPv4 address it carries. */
void ztp_limiter_addr_key(const unsigned char addr[16], unsigned char key[16]);

/* The network around an IPv6 address, its /48 (a site's usual
 * allocation, 65,536 /64s): writes its key and returns 1; returns 0 for
 * IPv4, whose addresses are scarce enough to count one by one, NAT64's
 * included. */
int ztp_limiter_net_key(const unsigned char addr[16], unsigned char key[16]);

#endif

#ifndef ZTP_LIMITER_H
#define ZTP_LIMITER_H

#include <stdint.h>

/*
 * Failed redemptions counted per source address and per MAC, in memory,
 * shared by all loop threads. Past ZTP_LIMIT_FAILURES failures within
 * ZTP_LIMIT_WINDOW_MS, every attempt from that address or for that MAC is
 * refused until the window ends (at least ZTP_LIMIT_MIN_BLOCK_MS).
 */
#define ZTP_LIMIT_FAILURES 10
#define ZTP_LIMIT_WINDOW_MS (15 * 60 * 1000)
#define ZTP_LIMIT_MIN_BLOCK_MS (60 * 1000)

typedef struct ztp_limiter ztp_limiter_t;

/* A limiter of `capacity` entries per key kind (a power of two). */
ztp_limiter_t *ztp_limiter_new(unsigned capacity);
void ztp_limiter_free(ztp_limiter_t *l);

/* Milliseconds until an attempt from addr (16 bytes) or for mac (6 bytes,
 * may be NULL) is allowed again; 0 when allowed now. */
uint64_t ztp_limiter_check(ztp_limiter_t *l, const unsigned char addr[16], const unsigned char *mac,
                           uint64_t now_ms);

/* Counts one failure against addr and (when not NULL) mac. */
void ztp_limiter_fail(ztp_limiter_t *l, const unsigned char addr[16], const unsigned char *mac,
                      uint64_t now_ms);

#endif

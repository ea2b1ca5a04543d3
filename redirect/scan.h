#ifndef ZTP_SCAN_H
#define ZTP_SCAN_H

#include <stdint.h>

#include "../services/http.h"

/*
 * Scanning limits for the phone-facing lookups by MAC (/redirect, /boot):
 * MACs are sequential within a vendor's prefix, so misses (404 answers) are
 * counted per source (an IPv4 address, an IPv6 /64). Past ZTP_SCAN_MISSES
 * within ZTP_SCAN_WINDOW_MS, every request from there gets 429 until the
 * window ends. Answers of 200 never count: a whole office of phones behind
 * one address boots at once.
 */
#define ZTP_SCAN_MISSES 20
#define ZTP_SCAN_WINDOW_MS (15 * 60 * 1000)
#define ZTP_SCAN_MIN_BLOCK_MS (60 * 1000)

/* Creates the shared table; call once before the server starts. */
void ztp_scan_init(void);

/* Milliseconds until a request from addr (16 bytes, as ztp_http_client_addr
 * gives it) is served again; 0 when it may be served now. */
uint64_t ztp_scan_wait(const unsigned char addr[16]);

/* Counts a miss for addr as its 404 is about to leave: returns 0 when the
 * 404 may go, else the wait (the source is over its limit: answer 429, so
 * that a burst sent at once learns no more than requests sent one by one). */
uint64_t ztp_scan_miss(const unsigned char addr[16]);

/* Answers 429 (problem+json, Retry-After) to a source over its limit. */
void ztp_scan_refuse(h2o_req_t *req, uint64_t wait_ms);

#endif

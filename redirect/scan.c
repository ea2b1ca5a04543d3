/* The scanning limiter: one table for all threads (services/limiter.c). */
#include "scan.h"

#include "../services/limiter.h"

#define CAPACITY (1u << 16)

static ztp_limiter_t *misses;

void ztp_scan_init(void)
{
    misses = ztp_limiter_new(CAPACITY, 16, ZTP_SCAN_MISSES, ZTP_SCAN_WINDOW_MS, ZTP_SCAN_MIN_BLOCK_MS);
}

uint64_t ztp_scan_wait(const unsigned char addr[16])
{
    unsigned char key[16];
    ztp_limiter_addr_key(addr, key);
    return ztp_limiter_wait(misses, key, ztp_limiter_clock());
}

uint64_t ztp_scan_miss(const unsigned char addr[16])
{
    unsigned char key[16];
    ztp_limiter_addr_key(addr, key);
    return ztp_limiter_reserve(misses, key, ztp_limiter_clock());
}

void ztp_scan_refuse(h2o_req_t *req, uint64_t wait_ms)
{
    ztp_http_too_many(req, wait_ms,
                      "too many requests for unknown devices from this address; wait before asking again");
}

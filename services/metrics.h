#ifndef ZTP_METRICS_H
#define ZTP_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define ZTP_METRICS_MAX_ROUTES 96
#define ZTP_METRICS_MAX_COUNTERS 64
#define ZTP_METRICS_NSTATUS 21
#define ZTP_METRICS_NBUCKETS 13 /* the last one is +Inf */

/* One thread's counters; threads write their own, /metrics sums them all. */
typedef struct ztp_metrics {
    _Atomic uint64_t requests[ZTP_METRICS_MAX_ROUTES][ZTP_METRICS_NSTATUS];
    _Atomic uint64_t buckets[ZTP_METRICS_MAX_ROUTES][ZTP_METRICS_NBUCKETS];
    _Atomic uint64_t sum_us[ZTP_METRICS_MAX_ROUTES];
    _Atomic uint64_t counters[ZTP_METRICS_MAX_COUNTERS];
} ztp_metrics_t;

/* Registration happens before the threads start. Returns an index. */
int ztp_metrics_route(const char *name);

/* A counter of family `family` (e.g. "ztp_redirects_total") with one label
 * set (e.g. "outcome=\"ok\""). Families with the same name are rendered
 * together. Returns an index for ztp_metrics_inc. */
int ztp_metrics_counter(const char *family, const char *help, const char *labels);

/* Attaches a thread's counters so that rendering sees them. */
void ztp_metrics_attach(ztp_metrics_t *m);

/* This thread's counters (set by the server for each loop thread). */
extern __thread ztp_metrics_t *ztp_metrics_local;

static inline void ztp_metrics_inc(int counter)
{
    if (ztp_metrics_local != NULL && counter >= 0)
        atomic_fetch_add_explicit(&ztp_metrics_local->counters[counter], 1, memory_order_relaxed);
}

/* Records one answered request. */
void ztp_metrics_request(int route, int status, uint64_t micros);

/* Appends the Prometheus text exposition of every attached thread to b. */
void ztp_metrics_render(ztp_buf_t *b);

#endif

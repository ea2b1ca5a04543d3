#include "metrics.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_THREADS 256

static const int statuses[ZTP_METRICS_NSTATUS] = {0,   200, 201, 202, 204, 301, 302, 304, 400, 401, 403,
                                                  404, 405, 409, 410, 413, 415, 422, 429, 500, 503};
static const double bounds[ZTP_METRICS_NBUCKETS - 1] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                        0.05,   0.1,   0.25,   0.5,   1,    2.5};

static const char *routes[ZTP_METRICS_MAX_ROUTES];
static int nroutes;
static struct {
    const char *family, *help, *labels;
} counters[ZTP_METRICS_MAX_COUNTERS];
static int ncounters;
static ztp_metrics_t *threads[MAX_THREADS];
static _Atomic int nthreads;

__thread ztp_metrics_t *ztp_metrics_local;

int ztp_metrics_route(const char *name)
{
    if (nroutes == ZTP_METRICS_MAX_ROUTES)
        abort();
    routes[nroutes] = name;
    return nroutes++;
}

int ztp_metrics_counter(const char *family, const char *help, const char *labels)
{
    if (ncounters == ZTP_METRICS_MAX_COUNTERS)
        abort();
    counters[ncounters].family = family;
    counters[ncounters].help = help;
    counters[ncounters].labels = labels;
    return ncounters++;
}

void ztp_metrics_attach(ztp_metrics_t *m)
{
    int i = atomic_fetch_add(&nthreads, 1);
    if (i >= MAX_THREADS)
        abort();
    threads[i] = m;
}

void ztp_metrics_request(int route, int status, uint64_t micros)
{
    ztp_metrics_t *m = ztp_metrics_local;
    int si = 0, b = 0;
    double secs = (double)micros / 1e6;

    if (m == NULL || route < 0)
        return;
    for (int i = 1; i < ZTP_METRICS_NSTATUS; i++)
        if (statuses[i] == status)
            si = i;
    while (b < ZTP_METRICS_NBUCKETS - 1 && secs > bounds[b])
        b++;
    atomic_fetch_add_explicit(&m->requests[route][si], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->buckets[route][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->sum_us[route], micros, memory_order_relaxed);
}

/* The sum over all threads of the counter at byte offset `off`. */
static uint64_t sum_at(size_t off)
{
    uint64_t total = 0;
    int n = atomic_load(&nthreads);
    for (int t = 0; t < n; t++)
        total += atomic_load_explicit((_Atomic uint64_t *)((char *)threads[t] + off), memory_order_relaxed);
    return total;
}

#define SUM(field) sum_at(offsetof(ztp_metrics_t, field))

static void render_requests(ztp_buf_t *b)
{
    ztp_buf_printf(b, "# HELP ztp_http_requests_total HTTP requests answered, by route and status.\n"
                      "# TYPE ztp_http_requests_total counter\n");
    for (int r = 0; r < nroutes; r++)
        for (int s = 0; s < ZTP_METRICS_NSTATUS; s++) {
            uint64_t v = SUM(requests[r][s]);
            if (v == 0)
                continue;
            if (statuses[s] == 0)
                ztp_buf_printf(b, "ztp_http_requests_total{route=\"%s\",status=\"other\"} %lu\n", routes[r],
                               (unsigned long)v);
            else
                ztp_buf_printf(b, "ztp_http_requests_total{route=\"%s\",status=\"%d\"} %lu\n", routes[r],
                               statuses[s], (unsigned long)v);
        }
    ztp_buf_printf(b, "# HELP ztp_http_request_duration_seconds Time from request to answer, by route.\n"
                      "# TYPE ztp_http_request_duration_seconds histogram\n");
    for (int r = 0; r < nroutes; r++) {
        uint64_t cum = 0;
        for (int k = 0; k < ZTP_METRICS_NBUCKETS; k++) {
            cum += SUM(buckets[r][k]);
            if (k < ZTP_METRICS_NBUCKETS - 1)
                ztp_buf_printf(b, "ztp_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %lu\n",
                               routes[r], bounds[k], (unsigned long)cum);
            else
                ztp_buf_printf(b, "ztp_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %lu\n",
                               routes[r], (unsigned long)cum);
        }
        ztp_buf_printf(b, "ztp_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", routes[r],
                       (double)SUM(sum_us[r]) / 1e6);
        ztp_buf_printf(b, "ztp_http_request_duration_seconds_count{route=\"%s\"} %lu\n", routes[r],
                       (unsigned long)cum);
    }
}

void ztp_metrics_render(ztp_buf_t *b)
{
    if (atomic_load(&nthreads) == 0)
        return;
    render_requests(b);
    for (int c = 0; c < ncounters; c++) {
        int first = 1;
        for (int k = 0; k < c; k++)
            if (strcmp(counters[k].family, counters[c].family) == 0)
                first = 0;
        if (!first)
            continue;
        ztp_buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n", counters[c].family, counters[c].help,
                       counters[c].family);
        for (int k = c; k < ncounters; k++)
            if (strcmp(counters[k].family, counters[c].family) == 0)
                ztp_buf_printf(b, "%s{%s} %lu\n", counters[k].family, counters[k].labels,
                               (unsigned long)SUM(counters[k]));
    }
}

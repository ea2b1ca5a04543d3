#ifndef ZTP_SERVER_H
#define ZTP_SERVER_H

#include <pthread.h>
#include <stdint.h>

#define H2O_USE_LIBUV 0
#include <h2o.h>

#include "config.h"
#include "db.h"
#include "metrics.h"

/* One event-loop thread: its h2o context, listeners, database pool and
 * counters. Requests are answered on the thread that accepted them. */
typedef struct ztp_thread {
    int index;
    pthread_t tid;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx, tls_accept_ctx;
    h2o_socket_t *listener, *tls_listener;
    ztp_db_pool_t *db;
    ztp_metrics_t metrics;
    size_t inflight; /* requests not yet answered */
    size_t jobs;     /* worker jobs whose completion has yet to run here */
    uint64_t reqseq;
    int accept_paused; /* ZTP_MAX_CONNECTIONS reached */
    int stopping;
    uint64_t stop_deadline;
} ztp_thread_t;

/* The loop thread running the caller, or NULL off the loop threads. */
extern __thread ztp_thread_t *ztp_self;

/* A hook run on each loop thread once its context exists (timers etc.). */
typedef void (*ztp_thread_init_fn)(ztp_thread_t *t);
void ztp_server_on_thread_init(ztp_thread_init_fn fn);

/* Binds the listeners (and loads TLS). Returns 0, or -1 after printing why it
 * could not. Call before starting any other thread, so that a failure exits
 * a process that has nothing running. */
int ztp_server_listen(const ztp_config_t *cfg);

/* Starts the loop threads on the bound listeners and serves until SIGTERM
 * or SIGINT, then drains. Returns 0, or -1 after printing why it could not. */
int ztp_server_run(const ztp_config_t *cfg);

/* Number of loop threads and access to them (for /metrics). */
int ztp_server_nthreads(void);
ztp_thread_t *ztp_server_thread(int i);

#endif

#ifndef ZTP_SERVER_H
#define ZTP_SERVER_H

#include <pthread.h>
#include <stdint.h>

#define H2O_USE_LIBUV 0
#include <h2o.h>

#include "config.h"
#include "db.h"
#include "metrics.h"

/* Work to run once at the end of the current loop iteration (a batch to
 * flush): zero-initialise with cb set; the owner keeps it alive. */
typedef struct ztp_defer {
    struct ztp_defer *next;
    void (*cb)(struct ztp_defer *d);
    int queued;
} ztp_defer_t;

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
    ztp_defer_t *defer_head, **defer_tail; /* run after each loop iteration */
} ztp_thread_t;

/* The loop thread running the caller, or NULL off the loop threads. */
extern __thread ztp_thread_t *ztp_self;

/* Queues d on the calling loop thread (once, however often it is called
 * before it runs): d->cb runs after this iteration's I/O and timers, in the
 * order queued; what it queues runs in the same pass (contacts, then the
 * database pool they submit to), before the loop waits again. */
void ztp_server_defer(ztp_defer_t *d);

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

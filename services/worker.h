#ifndef ZTP_WORKER_H
#define ZTP_WORKER_H

#include <libpq-fe.h>

/*
 * Work too heavy for an event loop (parsing a million-row import, running
 * it in PostgreSQL for seconds) runs on a worker thread; its completion runs
 * back on the loop thread that asked. Long database work uses the worker's
 * own connection, never the loop threads' pools that phones need.
 */
typedef void (*ztp_work_fn)(void *arg);

/* This worker thread's own database connection, opened (synchronously, with
 * a bounded wait) on first use and again after it broke; NULL when the
 * database cannot be reached. Call from a work function only; the worker
 * owns it. Leave it outside any transaction. */
PGconn *ztp_worker_db(void);

/* Starts the worker threads; call once before the loop threads start. */
void ztp_worker_start(int nthreads);

/* Runs work(arg) on a worker thread, then done(arg) on the calling loop
 * thread. Call from a loop thread only; arg must not point into a request
 * (the request may be freed meanwhile: hold it with ztp_http_hold). */
void ztp_worker_submit(ztp_work_fn work, ztp_work_fn done, void *arg);

#endif

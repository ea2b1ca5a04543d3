#ifndef ZTP_WORKER_H
#define ZTP_WORKER_H

/*
 * Work too heavy for an event loop (parsing a million-row import) runs on a
 * worker thread; its completion runs back on the loop thread that asked.
 */
typedef void (*ztp_work_fn)(void *arg);

/* Starts the worker threads; call once before the loop threads start. */
void ztp_worker_start(int nthreads);

/* Runs work(arg) on a worker thread, then done(arg) on the calling loop
 * thread. Call from a loop thread only; arg must not point into a request
 * (the request may be freed meanwhile: hold it with ztp_http_hold). */
void ztp_worker_submit(ztp_work_fn work, ztp_work_fn done, void *arg);

#endif

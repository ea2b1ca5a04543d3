#ifndef ZTP_DB_H
#define ZTP_DB_H

#include <libpq-fe.h>
#include <stdint.h>

#define H2O_USE_LIBUV 0
#include <h2o.h>

/* A SQL statement known at compile time; prepared once per connection on
 * first use (or sent unnamed when ZTP_DB_PREPARE=0). Declare with ZTP_SQL. */
typedef struct ztp_sql {
    const char *text;
    int nparams;
    int id; /* assigned on first use */
} ztp_sql_t;

#define ZTP_SQL(var, nparams, text) static ztp_sql_t var = {text, nparams, -1}

#define ZTP_DB_MAX_STMTS 8
#define ZTP_DB_MAX_PARAMS 16

typedef enum {
    ZTP_DB_OK = 0,
    ZTP_DB_ERROR,       /* the database refused a statement: sqlstate/message say why */
    ZTP_DB_UNAVAILABLE, /* no connection, saturated or timed out: answer 503 */
} ztp_db_status_t;

typedef struct ztp_db_res {
    ztp_db_status_t status;
    int nresults;
    PGresult **results; /* one per statement, in order; NULL unless status is OK */
    const char *sqlstate;
    const char *message;
} ztp_db_res_t;

/* Called once per submitted unit on the thread that submitted it. The results
 * are freed when it returns. */
typedef void (*ztp_db_cb)(void *arg, const ztp_db_res_t *res);

typedef struct ztp_db_unit ztp_db_unit_t;
typedef struct ztp_db_pool ztp_db_pool_t;

/* Flags of a unit. */
#define ZTP_DB_SHARED 1 /* may share one transaction (sync) with other shared units */

/* A unit is a few statements run in one transaction, answered together once
 * committed. The pool owns it from ztp_db_submit on. */
ztp_db_unit_t *ztp_db_unit_new(int flags, ztp_db_cb cb, void *arg);

/* Appends a statement; params are text (NULL for SQL NULL) and are copied.
 * lengths may be NULL (strlen). */
void ztp_db_unit_add(ztp_db_unit_t *u, ztp_sql_t *sql, const char *const *params, const int *lengths);

/* A deadline other than ZTP_DB_TIMEOUT_MS for this unit once sent. */
void ztp_db_unit_timeout(ztp_db_unit_t *u, uint64_t ms);

/* When the work of the unit began (loop time, ms), if before its submission:
 * the wait for a connection counts from then, so that a request queued
 * behind others still gets its 503 within the promised time. */
void ztp_db_unit_since(ztp_db_unit_t *u, uint64_t ms);

/* Queues the unit on this thread's pool; it is sent at the end of the current
 * loop iteration together with everything else queued meanwhile. */
void ztp_db_submit(ztp_db_pool_t *pool, ztp_db_unit_t *u);

/* Starts `nconns` asynchronous connections on ctx's loop. */
ztp_db_pool_t *ztp_db_pool_new(h2o_context_t *ctx, const char *conninfo, int nconns, int prepare,
                               int timeout_ms);

/* Stops timers and closes connections; pending units are answered UNAVAILABLE.
 * Call on the pool's own thread. The pool itself lives on until the process
 * exits, as its thread does: other threads' /metrics still read its counters. */
void ztp_db_pool_close(ztp_db_pool_t *pool);

typedef struct ztp_db_stats {
    uint64_t conns_ready, conns_total, pending, inflight, batches, units, unavailable, errors;
} ztp_db_stats_t;

/* Whether nothing is queued or in flight on this pool (its own thread only). */
int ztp_db_pool_idle(ztp_db_pool_t *pool);

/* Adds this pool's counters to *st (read racily from any thread: gauges). */
void ztp_db_pool_stats(ztp_db_pool_t *pool, ztp_db_stats_t *st);

/* Helpers on a result. */
static inline const char *ztp_db_val(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

#endif

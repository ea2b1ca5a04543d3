/*
 * The per-thread asynchronous PostgreSQL pool.
 *
 * Each event-loop thread owns a few connections in pipeline mode. Units (a
 * few statements that form one transaction) queued during one loop iteration
 * are sent at its end: all "shared" units of the iteration go out under one
 * sync, so they commit together (group commit), and every other unit gets a
 * sync of its own. Results are delivered only when the sync arrives, that is
 * once the transaction has committed. A statement that fails aborts its
 * whole batch; the innocent units of that batch are sent again.
 *
 * A conninfo may name several hosts (a primary and its standbys). libpq tries
 * them in turn, but under PQconnectPoll it ignores connect_timeout: a host
 * that never answers (a frozen machine, one behind a firewall that drops
 * packets) would hold every attempt, and the promoted standby after it would
 * never be reached. So the pool tries one host per attempt, each with its
 * own CONNECT_TIMEOUT_MS, in libpq's order, starting from the last host that
 * worked. (The same as libpq's for target_session_attrs any, read-write and
 * primary, the ones a writer uses.)
 */
#include "db.h"
#include "log.h"
#include "server.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PREPARED 256
#define MAX_DEPTH 64        /* batches in flight on one connection */
#define MAX_BATCH_UNITS 512 /* shared units under one sync */
#define PENDING_LIMIT 16384 /* queued units per thread before refusing */
/* longest wait for a connection before 503: the contract promises the 503
 * within 2 s, and the 100 ms tick plus a loaded machine add hundreds of ms */
#define PENDING_WAIT_MS 1000
#define CONNECT_TIMEOUT_MS 2000
#define TICK_MS 100
#define MAX_RETRIES 3

enum { C_DOWN, C_CONNECTING, C_READY };

typedef struct stmt {
    ztp_sql_t *sql;
    int nparams;
    long offs[ZTP_DB_MAX_PARAMS]; /* into unit->buf; -1 is NULL */
    int lens[ZTP_DB_MAX_PARAMS];
} stmt_t;

struct ztp_db_unit {
    ztp_db_unit_t *next;
    int flags;
    ztp_db_cb cb;
    void *arg;
    int nstmts;
    int retries;
    int refused;
    stmt_t stmts[ZTP_DB_MAX_STMTS];
    PGresult *results[ZTP_DB_MAX_STMTS];
    char *buf;
    size_t buflen, bufcap;
    uint64_t queued_at, timeout_ms;
};

typedef struct slot {
    ztp_db_unit_t *unit; /* NULL: internal statement */
    int stmt;            /* index in unit, or -1 */
    int prepare_id;      /* >= 0 when this slot prepares that statement */
    int got;
    PGresult *res; /* internal statements only */
} slot_t;

typedef struct batch {
    struct batch *next;
    ztp_db_unit_t *units; /* linked by ->next */
    int slow;
    int nslots, cur;
    uint64_t deadline;
    slot_t slots[];
} batch_t;

typedef struct conn {
    ztp_db_pool_t *pool;
    PGconn *pg;
    h2o_socket_t *sock;
    int pgfd;
    int state;
    uint64_t since;    /* connect start, or time of going down */
    uint64_t retry_at; /* when DOWN */
    uint64_t backoff;
    int host;          /* the host of this attempt, when the pool has several */
    int first_host;    /* where the current round of attempts began */
    uint64_t round_at; /* when it began */
    unsigned char prepared[MAX_PREPARED];
    batch_t *head, *tail;
    int depth;
    int slow; /* batches in flight allowed more than the default deadline (imports) */
} conn_t;

struct ztp_db_pool {
    h2o_context_t *ctx;
    char *conninfo;
    PQconninfoOption *opts; /* conninfo parsed, when it names several hosts */
    int nopts, nhosts;
    char **hosts, **hostaddrs, **ports; /* nhosts each; NULL entries when not given */
    int prepare;
    uint64_t timeout_ms;
    int nconns;
    conn_t *conns;
    ztp_db_unit_t *pend_head, *pend_tail;
    size_t npending;
    ztp_defer_t flush_entry;
    h2o_timeout_t tick;
    h2o_timeout_entry_t tick_entry;
    uint64_t last_log;
    int closed;
    _Atomic uint64_t st_ready, st_pending, st_inflight, st_batches, st_units, st_unavailable, st_errors;
};

static atomic_int next_sql_id;

ZTP_SQL(ROLE_SYSTEM, 0, "SELECT set_config('role', 'ztp_system', true)");

static void conn_start(conn_t *c);
static void conn_broken(conn_t *c, const char *why);
static void on_read(h2o_socket_t *sock, const char *err);
static void schedule_flush(ztp_db_pool_t *p);

static uint64_t now_ms(ztp_db_pool_t *p)
{
    return h2o_now(p->ctx->loop);
}

static int sql_id(ztp_sql_t *sql)
{
    int id = __atomic_load_n(&sql->id, __ATOMIC_ACQUIRE);
    if (id < 0) {
        int fresh = atomic_fetch_add(&next_sql_id, 1), expected = -1;
        if (__atomic_compare_exchange_n(&sql->id, &expected, fresh, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            id = fresh;
        else
            id = expected;
    }
    if (id >= MAX_PREPARED)
        abort(); /* a build with more statements than MAX_PREPARED: raise it */
    return id;
}

ztp_db_unit_t *ztp_db_unit_new(int flags, ztp_db_cb cb, void *arg)
{
    ztp_db_unit_t *u = calloc(1, sizeof(*u));
    if (u == NULL)
        abort();
    u->flags = flags;
    u->cb = cb;
    u->arg = arg;
    return u;
}

static long buf_append(ztp_db_unit_t *u, const char *s, size_t len)
{
    long off;
    if (u->buflen + len + 1 > u->bufcap) {
        size_t cap = u->bufcap ? u->bufcap : 256;
        while (cap < u->buflen + len + 1)
            cap *= 2;
        u->buf = realloc(u->buf, cap);
        if (u->buf == NULL)
            abort();
        u->bufcap = cap;
    }
    off = (long)u->buflen;
    memcpy(u->buf + u->buflen, s, len);
    u->buf[u->buflen + len] = '\0';
    u->buflen += len + 1;
    return off;
}

void ztp_db_unit_add(ztp_db_unit_t *u, ztp_sql_t *sql, const char *const *params, const int *lengths)
{
    stmt_t *st;
    if (u->nstmts == ZTP_DB_MAX_STMTS || sql->nparams > ZTP_DB_MAX_PARAMS)
        abort(); /* a programming error, not an input one */
    st = &u->stmts[u->nstmts++];
    st->sql = sql;
    st->nparams = sql->nparams;
    for (int i = 0; i < sql->nparams; i++) {
        if (params[i] == NULL) {
            st->offs[i] = -1;
            st->lens[i] = 0;
            continue;
        }
        size_t len = lengths != NULL ? (size_t)lengths[i] : strlen(params[i]);
        st->offs[i] = buf_append(u, params[i], len);
        st->lens[i] = (int)len;
    }
}

void ztp_db_unit_since(ztp_db_unit_t *u, uint64_t ms)
{
    u->queued_at = ms;
}

void ztp_db_unit_timeout(ztp_db_unit_t *u, uint64_t ms)
{
    u->timeout_ms = ms;
}

static void unit_free(ztp_db_unit_t *u)
{
    for (int i = 0; i < u->nstmts; i++)
        if (u->results[i] != NULL)
            PQclear(u->results[i]);
    free(u->buf);
    free(u);
}

static void unit_clear_results(ztp_db_unit_t *u)
{
    for (int i = 0; i < u->nstmts; i++) {
        if (u->results[i] != NULL)
            PQclear(u->results[i]);
        u->results[i] = NULL;
    }
}

static void unit_finish(ztp_db_pool_t *p, ztp_db_unit_t *u, ztp_db_status_t status, PGresult *err)
{
    ztp_db_res_t res = {status, 0, NULL, NULL, NULL};

    if (status == ZTP_DB_OK) {
        res.nresults = u->nstmts;
        res.results = u->results;
    } else if (status == ZTP_DB_ERROR) {
        atomic_fetch_add_explicit(&p->st_errors, 1, memory_order_relaxed);
        res.sqlstate = err ? PQresultErrorField(err, PG_DIAG_SQLSTATE) : NULL;
        res.message = err ? PQresultErrorMessage(err) : "error";
    } else {
        atomic_fetch_add_explicit(&p->st_unavailable, 1, memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&p->st_units, 1, memory_order_relaxed);
    u->cb(u->arg, &res);
    unit_free(u);
}

static void pending_push_front(ztp_db_pool_t *p, ztp_db_unit_t *u)
{
    u->next = p->pend_head;
    p->pend_head = u;
    if (p->pend_tail == NULL)
        p->pend_tail = u;
    p->npending++;
}

void ztp_db_submit(ztp_db_pool_t *p, ztp_db_unit_t *u)
{
    u->next = NULL;
    if (u->queued_at == 0 || u->queued_at > now_ms(p))
        u->queued_at = now_ms(p);
    u->refused = p->npending >= PENDING_LIMIT;
    if (p->pend_tail != NULL)
        p->pend_tail->next = u;
    else
        p->pend_head = u;
    p->pend_tail = u;
    p->npending++;
    schedule_flush(p);
}

/* Resending after an aborted batch; gives up after a few tries. */
static void unit_retry(ztp_db_pool_t *p, ztp_db_unit_t *u)
{
    unit_clear_results(u);
    if (++u->retries > MAX_RETRIES) {
        unit_finish(p, u, ZTP_DB_UNAVAILABLE, NULL);
        return;
    }
    pending_push_front(p, u);
    schedule_flush(p);
}

/* ---- sending ---------------------------------------------------------- */

static int send_stmt(conn_t *c, ztp_sql_t *sql, int nparams, const char *const *values, const int *lens)
{
    char name[16];
    if (!c->pool->prepare)
        return PQsendQueryParams(c->pg, sql->text, nparams, NULL, values, lens, NULL, 0);
    snprintf(name, sizeof(name), "z%d", sql_id(sql));
    return PQsendQueryPrepared(c->pg, name, nparams, values, lens, NULL, 0);
}

/* Queues a Parse for sql when this connection lacks it; fills a slot. */
static int maybe_prepare(conn_t *c, ztp_sql_t *sql, batch_t *b)
{
    char name[16];
    int id;
    if (!c->pool->prepare)
        return 0;
    id = sql_id(sql);
    if (c->prepared[id])
        return 0;
    snprintf(name, sizeof(name), "z%d", id);
    if (!PQsendPrepare(c->pg, name, sql->text, sql->nparams, NULL))
        return -1;
    c->prepared[id] = 1;
    b->slots[b->nslots++] = (slot_t){NULL, -1, id, 0, NULL};
    return 0;
}

static void on_write(h2o_socket_t *sock, const char *err)
{
    conn_t *c = sock->data;
    int r;
    (void)err;
    if (c->state != C_READY)
        return;
    r = PQflush(c->pg);
    if (r < 0)
        conn_broken(c, PQerrorMessage(c->pg));
    else if (r > 0 && !h2o_socket_is_writing(sock))
        h2o_socket_notify_write(sock, on_write);
}

static void conn_flush(conn_t *c)
{
    int r = PQflush(c->pg);
    if (r < 0)
        conn_broken(c, PQerrorMessage(c->pg));
    else if (r > 0 && !h2o_socket_is_writing(c->sock))
        h2o_socket_notify_write(c->sock, on_write);
}

static int units_slots(ztp_db_unit_t *units)
{
    int n = 1;
    for (ztp_db_unit_t *u = units; u != NULL; u = u->next)
        n += 2 * u->nstmts;
    return n + 1;
}

/* Sends `units` (a list it takes over) under one sync on c. */
static void send_batch(conn_t *c, ztp_db_unit_t *units)
{
    ztp_db_pool_t *p = c->pool;
    batch_t *b = calloc(1, sizeof(*b) + sizeof(slot_t) * (size_t)units_slots(units));
    uint64_t timeout = p->timeout_ms;
    int ok = 1;

    if (b == NULL)
        abort();
    b->units = units;
    ok = maybe_prepare(c, &ROLE_SYSTEM, b) == 0 && send_stmt(c, &ROLE_SYSTEM, 0, NULL, NULL);
    b->slots[b->nslots++] = (slot_t){NULL, -1, -1, 0, NULL};
    for (ztp_db_unit_t *u = units; ok && u != NULL; u = u->next) {
        if (u->timeout_ms > timeout)
            timeout = u->timeout_ms;
        for (int i = 0; ok && i < u->nstmts; i++) {
            stmt_t *st = &u->stmts[i];
            const char *values[ZTP_DB_MAX_PARAMS];
            for (int j = 0; j < st->nparams; j++)
                values[j] = st->offs[j] < 0 ? NULL : u->buf + st->offs[j];
            ok = maybe_prepare(c, st->sql, b) == 0 && send_stmt(c, st->sql, st->nparams, values, st->lens);
            b->slots[b->nslots++] = (slot_t){u, i, -1, 0, NULL};
        }
    }
    ok = ok && PQpipelineSync(c->pg);
    b->deadline = now_ms(p) + timeout;
    b->slow = timeout > p->timeout_ms;
    c->slow += b->slow;
    if (c->tail != NULL)
        c->tail->next = b;
    else
        c->head = b;
    c->tail = b;
    c->depth++;
    atomic_fetch_add_explicit(&p->st_batches, 1, memory_order_relaxed);
    if (!ok) {
        conn_broken(c, PQerrorMessage(c->pg));
        return;
    }
    conn_flush(c);
}

/* The ready connection with the fewest batches in flight. One busy with a
 * slow unit (an import of minutes) is never chosen: what is sent behind it
 * would wait for it; better to wait for another connection, or answer 503. */
static conn_t *pick_conn(ztp_db_pool_t *p)
{
    conn_t *best = NULL;
    for (int i = 0; i < p->nconns; i++) {
        conn_t *c = &p->conns[i];
        if (c->state == C_READY && c->slow == 0 && c->depth < MAX_DEPTH &&
            (best == NULL || c->depth < best->depth))
            best = c;
    }
    return best;
}

static void flush_refused(ztp_db_pool_t *p)
{
    ztp_db_unit_t **pp = &p->pend_head, *prev = NULL;
    while (*pp != NULL) {
        ztp_db_unit_t *u = *pp;
        if (!u->refused) {
            prev = u;
            pp = &u->next;
            continue;
        }
        *pp = u->next;
        if (p->pend_tail == u)
            p->pend_tail = prev;
        p->npending--;
        unit_finish(p, u, ZTP_DB_UNAVAILABLE, NULL);
    }
}

static void on_flush(ztp_defer_t *entry)
{
    ztp_db_pool_t *p = H2O_STRUCT_FROM_MEMBER(ztp_db_pool_t, flush_entry, entry);
    conn_t *c;

    flush_refused(p);
    while (p->pend_head != NULL && (c = pick_conn(p)) != NULL) {
        ztp_db_unit_t *shared = NULL, **shared_tail = &shared, *own = NULL;
        ztp_db_unit_t **pp = &p->pend_head;
        int n = 0;
        /* One pass: the shared units go together, the first own unit alone. */
        while (*pp != NULL) {
            ztp_db_unit_t *u = *pp;
            if ((u->flags & ZTP_DB_SHARED) && n < MAX_BATCH_UNITS) {
                *pp = u->next;
                u->next = NULL;
                *shared_tail = u;
                shared_tail = &u->next;
                n++;
            } else if (!(u->flags & ZTP_DB_SHARED) && own == NULL) {
                *pp = u->next;
                u->next = NULL;
                own = u;
            } else {
                pp = &u->next;
            }
        }
        p->pend_tail = NULL;
        for (ztp_db_unit_t *u = p->pend_head; u != NULL; u = u->next)
            p->pend_tail = u;
        p->npending -= (size_t)n + (own != NULL);
        if (shared != NULL)
            send_batch(c, shared);
        if (own != NULL) {
            conn_t *c2 = pick_conn(p);
            if (c2 != NULL) {
                send_batch(c2, own);
            } else {
                pending_push_front(p, own);
                break;
            }
        }
    }
    atomic_store_explicit(&p->st_pending, p->npending, memory_order_relaxed);
}

static void schedule_flush(ztp_db_pool_t *p)
{
    if (!p->closed)
        ztp_server_defer(&p->flush_entry);
}

/* ---- receiving -------------------------------------------------------- */

static int is_error(PGresult *r)
{
    ExecStatusType s = PQresultStatus(r);
    return s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK;
}

static void batch_free(batch_t *b)
{
    for (int i = 0; i < b->nslots; i++)
        if (b->slots[i].res != NULL)
            PQclear(b->slots[i].res);
    free(b);
}

static void batch_complete(conn_t *c, batch_t *b)
{
    ztp_db_pool_t *p = c->pool;
    slot_t *err = NULL;
    PGresult *errres = NULL;
    ztp_db_unit_t *u, *next, *culprit = NULL;
    int whole = 0;

    for (int i = 0; i < b->nslots && err == NULL; i++) {
        slot_t *s = &b->slots[i];
        PGresult *r = s->unit != NULL ? s->unit->results[s->stmt] : s->res;
        if (r == NULL || (is_error(r) && PQresultStatus(r) != PGRES_PIPELINE_ABORTED)) {
            err = s;
            errres = r;
        }
    }
    if (err == NULL) {
        for (u = b->units; u != NULL; u = next) {
            next = u->next;
            unit_finish(p, u, ZTP_DB_OK, NULL);
        }
        batch_free(b);
        return;
    }
    /* Parses after the failure were skipped: forget that they were made. */
    for (int i = 0; i < b->nslots; i++)
        if (b->slots[i].prepare_id >= 0 && (b->slots[i].res == NULL || is_error(b->slots[i].res)))
            c->prepared[b->slots[i].prepare_id] = 0;
    if (errres != NULL) {
        const char *state = PQresultErrorField(errres, PG_DIAG_SQLSTATE);
        whole = state != NULL && strncmp(state, "40", 2) == 0; /* deadlock, serialization */
    }
    if (err->unit != NULL) {
        culprit = err->unit;
    } else if (err->prepare_id >= 0 && err + 1 < b->slots + b->nslots) {
        culprit = err[1].unit;
    } else if (errres != NULL) {
        ztp_log_error("database: %s", PQresultErrorMessage(errres));
    }
    for (u = b->units; u != NULL; u = next) {
        next = u->next;
        if (u == culprit && !whole) {
            /* errres stays in u->results and lives until the callback returns */
            unit_finish(p, u, errres ? ZTP_DB_ERROR : ZTP_DB_UNAVAILABLE, errres);
        } else if (culprit == NULL && err->unit == NULL && !whole && err->prepare_id < 0) {
            unit_finish(p, u, ZTP_DB_UNAVAILABLE, NULL); /* our own statement failed */
        } else {
            unit_retry(p, u);
        }
    }
    batch_free(b);
}

static void drain_results(conn_t *c)
{
    int nulls = 0;
    while (c->state == C_READY && c->head != NULL && !PQisBusy(c->pg)) {
        batch_t *b = c->head;
        PGresult *r = PQgetResult(c->pg);
        slot_t *s;
        if (r == NULL) {
            if (b->cur < b->nslots && b->slots[b->cur].got) {
                b->cur++;
                nulls = 0;
            } else if (++nulls > 1) {
                break;
            }
            continue;
        }
        nulls = 0;
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            c->head = b->next;
            if (c->head == NULL)
                c->tail = NULL;
            c->depth--;
            c->slow -= b->slow;
            batch_complete(c, b);
            continue;
        }
        if (b->cur >= b->nslots) {
            PQclear(r);
            continue;
        }
        s = &b->slots[b->cur];
        s->got = 1;
        PGresult **dst = s->unit != NULL ? &s->unit->results[s->stmt] : &s->res;
        if (*dst == NULL)
            *dst = r;
        else
            PQclear(r);
    }
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    conn_t *c = sock->data;
    if (err != NULL || !PQconsumeInput(c->pg)) {
        conn_broken(c, err != NULL ? err : PQerrorMessage(c->pg));
        return;
    }
    drain_results(c);
    if (c->state == C_READY && c->pool->pend_head != NULL)
        schedule_flush(c->pool);
}

/* ---- connecting ------------------------------------------------------- */

static void on_connect_io(h2o_socket_t *sock, const char *err);

static void watch(conn_t *c, PostgresPollingStatusType want)
{
    int fd = PQsocket(c->pg);
    if (fd != c->pgfd || c->sock == NULL) {
        if (c->sock != NULL)
            h2o_socket_close(c->sock);
        c->sock = NULL;
        int dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (dupfd < 0) {
            conn_broken(c, "cannot duplicate the database socket");
            return;
        }
        c->sock = h2o_evloop_socket_create(c->pool->ctx->loop, dupfd, H2O_SOCKET_FLAG_DONT_READ);
        c->sock->data = c;
        c->pgfd = fd;
    }
    if (want == PGRES_POLLING_READING) {
        h2o_socket_read_start(c->sock, on_connect_io);
    } else {
        h2o_socket_read_stop(c->sock);
        if (!h2o_socket_is_writing(c->sock))
            h2o_socket_notify_write(c->sock, on_connect_io);
    }
}

static void on_connected(conn_t *c)
{
    ztp_db_pool_t *p = c->pool;
    if (PQsetnonblocking(c->pg, 1) != 0 || PQenterPipelineMode(c->pg) != 1) {
        conn_broken(c, PQerrorMessage(c->pg));
        return;
    }
    c->state = C_READY;
    c->backoff = 0;
    c->first_host = c->host;
    memset(c->prepared, 0, sizeof(c->prepared));
    atomic_fetch_add_explicit(&p->st_ready, 1, memory_order_relaxed);
    h2o_socket_read_start(c->sock, on_read);
    if (p->last_log != 0) {
        ztp_log_info("database: connection restored");
        p->last_log = 0;
    }
    schedule_flush(p);
}

static void on_connect_io(h2o_socket_t *sock, const char *err)
{
    conn_t *c = sock->data;
    (void)err;
    if (c->state != C_CONNECTING)
        return;
    switch (PQconnectPoll(c->pg)) {
    case PGRES_POLLING_READING: watch(c, PGRES_POLLING_READING); break;
    case PGRES_POLLING_WRITING: watch(c, PGRES_POLLING_WRITING); break;
    case PGRES_POLLING_OK: on_connected(c); break;
    default: conn_broken(c, PQerrorMessage(c->pg)); break;
    }
}

/* The conninfo with host, hostaddr and port narrowed to the host'th. */
static PGconn *connect_start(ztp_db_pool_t *p, int host)
{
    const char **keys, **vals;
    PGconn *pg;
    int n = 0;

    if (p->nhosts < 2)
        return PQconnectStart(p->conninfo);
    keys = calloc((size_t)p->nopts + 1, sizeof(*keys));
    vals = calloc((size_t)p->nopts + 1, sizeof(*vals));
    if (keys == NULL || vals == NULL)
        abort();
    for (PQconninfoOption *o = p->opts; o->keyword != NULL; o++) {
        const char *v = o->val;
        if (strcmp(o->keyword, "host") == 0)
            v = p->hosts[host];
        else if (strcmp(o->keyword, "hostaddr") == 0)
            v = p->hostaddrs[host];
        else if (strcmp(o->keyword, "port") == 0)
            v = p->ports[host];
        if (v == NULL)
            continue;
        keys[n] = o->keyword;
        vals[n++] = v;
    }
    pg = PQconnectStartParams(keys, vals, 0);
    free(keys);
    free(vals);
    return pg;
}

static void conn_start(conn_t *c)
{
    c->pg = connect_start(c->pool, c->host);
    c->since = now_ms(c->pool);
    if (c->host == c->first_host)
        c->round_at = c->since;
    c->pgfd = -1;
    if (c->pg == NULL || PQstatus(c->pg) == CONNECTION_BAD) {
        c->state = C_CONNECTING;
        conn_broken(c, c->pg ? PQerrorMessage(c->pg) : "out of memory");
        return;
    }
    c->state = C_CONNECTING;
    watch(c, PGRES_POLLING_WRITING);
}

/* Drops the connection: in-flight units get UNAVAILABLE (whether their
 * transaction committed is unknown), and a reconnect is scheduled. */
static void conn_broken(conn_t *c, const char *why)
{
    ztp_db_pool_t *p = c->pool;
    batch_t *b;
    uint64_t now = now_ms(p), from;
    int was_connecting = c->state == C_CONNECTING;

    if (c->state == C_DOWN)
        return;
    if (why != NULL && (p->last_log == 0 || now - p->last_log > 10000)) {
        char msg[256];
        snprintf(msg, sizeof(msg), "%s", *why ? why : "connection lost");
        msg[strcspn(msg, "\n")] = '\0';
        ztp_log_error("database: %s", msg);
        p->last_log = now;
    }
    if (c->state == C_READY)
        atomic_fetch_sub_explicit(&p->st_ready, 1, memory_order_relaxed);
    c->state = C_DOWN;
    if (c->sock != NULL) {
        h2o_socket_read_stop(c->sock);
        h2o_socket_close(c->sock);
        c->sock = NULL;
    }
    if (c->pg != NULL)
        PQfinish(c->pg);
    c->pg = NULL;
    while ((b = c->head) != NULL) {
        ztp_db_unit_t *u, *next;
        c->head = b->next;
        for (u = b->units; u != NULL; u = next) {
            next = u->next;
            unit_clear_results(u);
            unit_finish(p, u, ZTP_DB_UNAVAILABLE, NULL);
        }
        batch_free(b);
    }
    c->tail = NULL;
    c->depth = 0;
    c->slow = 0;
    if (was_connecting && p->nhosts > 1) {
        c->host = (c->host + 1) % p->nhosts;
        if (c->host != c->first_host) {
            c->retry_at = now; /* the next host at once; the backoff is between rounds */
            return;
        }
    }
    c->backoff = c->backoff == 0 ? 50 : (c->backoff * 2 > 2000 ? 2000 : c->backoff * 2);
    /* Counted from the round's start: a round that waited out a host that
     * does not answer has waited long enough, and the next may find a
     * standby promoted meanwhile. */
    from = was_connecting ? c->round_at : now;
    c->retry_at = from + c->backoff > now ? from + c->backoff : now;
}

/* A query timed out: the server stopped answering, or nearly. An idle
 * connection to it would take the next batch and keep it waiting a whole
 * timeout more; reconnecting it instead finds out at once (and moves to the
 * next host if this one does not answer). */
static void drop_idle(ztp_db_pool_t *p)
{
    for (int i = 0; i < p->nconns; i++)
        if (p->conns[i].state == C_READY && p->conns[i].head == NULL)
            conn_broken(&p->conns[i], NULL);
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    ztp_db_pool_t *p = H2O_STRUCT_FROM_MEMBER(ztp_db_pool_t, tick_entry, entry);
    uint64_t now = now_ms(p);
    uint64_t inflight = 0;
    int stalled = 0;

    for (int i = 0; i < p->nconns; i++) {
        conn_t *c = &p->conns[i];
        if (c->state == C_DOWN && now >= c->retry_at)
            conn_start(c);
        else if (c->state == C_CONNECTING && now - c->since > CONNECT_TIMEOUT_MS)
            conn_broken(c, "timed out connecting to the database");
        else if (c->state == C_READY && c->head != NULL && now > c->head->deadline) {
            conn_broken(c, "query timed out; reconnecting");
            stalled = 1;
        }
        inflight += (uint64_t)c->depth;
    }
    if (stalled)
        drop_idle(p);
    for (ztp_db_unit_t *u = p->pend_head; u != NULL; u = u->next)
        if (now - u->queued_at > PENDING_WAIT_MS)
            u->refused = 1;
    if (p->pend_head != NULL)
        schedule_flush(p);
    atomic_store_explicit(&p->st_inflight, inflight, memory_order_relaxed);
    h2o_timeout_link(p->ctx->loop, &p->tick, &p->tick_entry);
}

/* Splits a comma-separated list into n entries in *out (all NULL when s is
 * NULL or empty; a single entry stands for all, as a port does in libpq);
 * returns -1 for another count. *out is the caller's to free. */
static int split_hosts(const char *s, int n, char ***out)
{
    char **v = calloc((size_t)n, sizeof(*v));
    int count = 1;

    if (v == NULL)
        abort();
    *out = v;
    if (s == NULL || *s == '\0')
        return 0;
    for (const char *q = s; *q; q++)
        count += *q == ',';
    if (count != n && count != 1)
        return -1;
    for (int i = 0; i < n; i++) {
        size_t len = strcspn(s, ",");
        v[i] = strndup(s, len);
        if (v[i] == NULL)
            abort();
        if (count > 1)
            s += len + (s[len] == ',');
    }
    return 0;
}

static const char *opt_val(PQconninfoOption *opts, const char *keyword)
{
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
        if (strcmp(o->keyword, keyword) == 0)
            return o->val;
    return NULL;
}

static int list_len(const char *s)
{
    int n = 1;
    if (s == NULL || *s == '\0')
        return 0;
    for (; *s; s++)
        n += *s == ',';
    return n;
}

static void free_hosts(ztp_db_pool_t *p)
{
    for (int i = 0; i < p->nhosts; i++) {
        free(p->hosts ? p->hosts[i] : NULL);
        free(p->hostaddrs ? p->hostaddrs[i] : NULL);
        free(p->ports ? p->ports[i] : NULL);
    }
    free(p->hosts);
    free(p->hostaddrs);
    free(p->ports);
    if (p->opts != NULL)
        PQconninfoFree(p->opts);
    p->hosts = p->hostaddrs = p->ports = NULL;
    p->opts = NULL;
    p->nhosts = 0;
}

/* Finds the hosts the conninfo names. With fewer than two, or lists libpq
 * would refuse, the conninfo is used as it is (libpq reports what is wrong). */
static void parse_hosts(ztp_db_pool_t *p)
{
    const char *host, *hostaddr;
    int n;

    p->opts = PQconninfoParse(p->conninfo, NULL);
    if (p->opts == NULL)
        return;
    host = opt_val(p->opts, "host");
    hostaddr = opt_val(p->opts, "hostaddr");
    n = list_len(host) > list_len(hostaddr) ? list_len(host) : list_len(hostaddr);
    if (list_len(host) != 0 && list_len(hostaddr) != 0 && list_len(host) != list_len(hostaddr))
        n = 0; /* libpq refuses it */
    for (PQconninfoOption *o = p->opts; o->keyword != NULL; o++)
        p->nopts++;
    p->nhosts = n;
    if (n < 2 || split_hosts(host, n, &p->hosts) != 0 || split_hosts(hostaddr, n, &p->hostaddrs) != 0 ||
        split_hosts(opt_val(p->opts, "port"), n, &p->ports) != 0)
        free_hosts(p);
}

ztp_db_pool_t *ztp_db_pool_new(h2o_context_t *ctx, const char *conninfo, int nconns, int prepare,
                               int timeout_ms)
{
    ztp_db_pool_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        abort();
    p->ctx = ctx;
    p->conninfo = strdup(conninfo);
    parse_hosts(p);
    p->prepare = prepare;
    p->timeout_ms = (uint64_t)timeout_ms;
    p->nconns = nconns;
    p->conns = calloc((size_t)nconns, sizeof(conn_t));
    p->flush_entry.cb = on_flush;
    p->tick_entry.cb = on_tick;
    h2o_timeout_init(ctx->loop, &p->tick, TICK_MS);
    h2o_timeout_link(ctx->loop, &p->tick, &p->tick_entry);
    for (int i = 0; i < nconns; i++) {
        p->conns[i].pool = p;
        p->conns[i].pgfd = -1;
        conn_start(&p->conns[i]);
    }
    return p;
}

void ztp_db_pool_close(ztp_db_pool_t *p)
{
    if (p->closed)
        return;
    p->closed = 1;
    if (h2o_timeout_is_linked(&p->tick_entry))
        h2o_timeout_unlink(&p->tick_entry);
    for (int i = 0; i < p->nconns; i++) {
        conn_broken(&p->conns[i], NULL);
        p->conns[i].state = C_DOWN;
    }
    while (p->pend_head != NULL) {
        ztp_db_unit_t *u = p->pend_head;
        p->pend_head = u->next;
        unit_finish(p, u, ZTP_DB_UNAVAILABLE, NULL);
    }
    p->pend_tail = NULL;
    p->npending = 0;
    h2o_timeout_dispose(p->ctx->loop, &p->tick);
}

int ztp_db_pool_idle(ztp_db_pool_t *p)
{
    if (p->npending > 0)
        return 0;
    for (int i = 0; i < p->nconns; i++)
        if (p->conns[i].head != NULL)
            return 0;
    return 1;
}

void ztp_db_pool_stats(ztp_db_pool_t *p, ztp_db_stats_t *st)
{
    st->conns_ready += atomic_load_explicit(&p->st_ready, memory_order_relaxed);
    st->conns_total += (uint64_t)p->nconns;
    st->pending += atomic_load_explicit(&p->st_pending, memory_order_relaxed);
    st->inflight += atomic_load_explicit(&p->st_inflight, memory_order_relaxed);
    st->batches += atomic_load_explicit(&p->st_batches, memory_order_relaxed);
    st->units += atomic_load_explicit(&p->st_units, memory_order_relaxed);
    st->unavailable += atomic_load_explicit(&p->st_unavailable, memory_order_relaxed);
    st->errors += atomic_load_explicit(&p->st_errors, memory_order_relaxed);
}

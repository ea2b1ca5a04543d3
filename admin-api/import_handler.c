/*
 * Bodies of devices: POST /v1/devices/import and PUT
 * /v1/import-jobs/{id}/parts/{n}. The body is parsed and applied on a worker thread,
 * on the worker's own database connection (services/worker.h). An import of
 * a million rows takes seconds of parsing and of PostgreSQL; on a loop
 * thread's pool it would hold a connection that phones need, and two of them
 * would leave the thread none. Its transaction runs with lock_timeout and
 * statement_timeout of its own, and locks no device of another provider.
 * The parsed rows go in by COPY (services/copytext.h), then one statement
 * applies (or stages) them all.
 */
#include "import_handler.h"
#include "import.h"

#include "../services/http.h"
#include "../services/log.h"
#include "../services/worker.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ATTEMPTS 3 /* a serialization failure (a claim raced us) is retried */
#define PROVIDER_SLOTS 64

/* The rows travel by COPY into a temporary table that the definer of the
 * import's functions (ztp_system) creates and lends the tenant; COPY into
 * the tables themselves would meet their row-level security. */
static const char SQL_BEGIN[] =
    "BEGIN; SET LOCAL lock_timeout = '5s'; SET LOCAL statement_timeout = '15min';"
    " SELECT set_config('role', 'ztp_system', true);"
    " CREATE TEMP TABLE import_raw (line int, mac macaddr, profile_name text, profile_in uuid, model text,"
    " serial text, part int) ON COMMIT DROP;"
    " GRANT SELECT, INSERT ON pg_temp.import_raw TO ztp_tenant";
static const char SQL_AS_TENANT[] =
    "SELECT set_config('role', 'ztp_tenant', true), set_config('app.tenant', $1, true),"
    " set_config('app.key', $2, true), set_config('app.user', $3, true)"; /* the audit names the caller */
static const char SQL_JOB_FORMAT[] = "SELECT format FROM import_jobs WHERE id = $1";
static const char SQL_COPY[] = "COPY pg_temp.import_raw (" ZTP_IMPORT_COPY_COLUMNS ") FROM STDIN";
static const char SQL_STAGE[] =
    "SELECT status, body FROM ztp_import_job_stage_copied($1, $2, $3::boolean, $4::boolean, $5::boolean, $6)";
static const char SQL_IMPORT[] =
    "SELECT r.status, r.body, ztp_idem_store('devices-import', $6, $7, NULL, r.status, r.body)"
    " FROM ztp_devices_import_copied($1::boolean, $2::boolean, $3::boolean, $4::boolean, $5::boolean) r";

#define COPY_CHUNK (1 << 20)

/* Imports running per provider in this process. */
static struct {
    char provider[40];
    int running;
} slots[PROVIDER_SLOTS];
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;

/* Takes a place for who's import; 0, or -1 when it has too many running. */
static int slot_take(const char *provider)
{
    int free_slot = -1, rc = -1;
    pthread_mutex_lock(&slots_lock);
    for (int i = 0; i < PROVIDER_SLOTS; i++) {
        if (slots[i].running > 0 && strcmp(slots[i].provider, provider) == 0) {
            if (slots[i].running < ZTP_IMPORT_MAX_PER_PROVIDER) {
                slots[i].running++;
                rc = 0;
            }
            free_slot = -2;
            break;
        }
        if (slots[i].running == 0 && free_slot == -1)
            free_slot = i;
    }
    if (free_slot >= 0) {
        snprintf(slots[free_slot].provider, sizeof(slots[free_slot].provider), "%s", provider);
        slots[free_slot].running = 1;
        rc = 0;
    }
    pthread_mutex_unlock(&slots_lock);
    return rc;
}

static void slot_give(const char *provider)
{
    pthread_mutex_lock(&slots_lock);
    for (int i = 0; i < PROVIDER_SLOTS; i++)
        if (slots[i].running > 0 && strcmp(slots[i].provider, provider) == 0) {
            slots[i].running--;
            break;
        }
    pthread_mutex_unlock(&slots_lock);
}

typedef struct import_opts {
    int dry, skip;
} import_opts_t;

/* An import (or a part of a job) on its way from the loop to a worker and back. */
typedef struct job {
    ztp_hold_t *hold;
    ztp_auth_t who;
    char job_id[37]; /* a part of this import job, or "" */
    int part;
    ztp_idem_t idem;
    int has_idem, json;
    import_opts_t opts;
    const char *body; /* the request's own buffer, or `copy` */
    char *copy;
    size_t len;
    ztp_import_t im;
    int parsed;
    /* the outcome */
    int status; /* 0: the database could not be reached or refused */
    char *answer;
    char sqlstate[6];
} job_t;

static int flag(h2o_req_t *req, const char *name, const char *yes, const char *no, int *out, json_t *errors)
{
    const char *v = ztp_http_query(req, name);
    char detail[64];
    *out = 0;
    if (v == NULL || *v == '\0' || strcmp(v, no) == 0)
        return 0;
    if (strcmp(v, yes) == 0) {
        *out = 1;
        return 0;
    }
    snprintf(detail, sizeof(detail), "must be %s or %s", yes, no);
    ztp_errors_add(errors, name, detail);
    return -1;
}

static int looks_like_json(h2o_req_t *req)
{
    const char *p = req->entity.base, *end = p + req->entity.len;
    if (ztp_http_content_type_is(req, "application/json"))
        return 1;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return !ztp_http_content_type_is(req, "text/csv") && p < end && *p == '[';
}

/* Whether a statement succeeded; clears its result. */
static int command_ok(PGresult *r)
{
    int ok = r != NULL && (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK);
    PQclear(r);
    return ok;
}

/* The flags of the columns the parsed rows carry, from p[0]. */
static void columns(const ztp_import_t *im, const char **p)
{
    p[0] = im->has_profile ? "true" : "false";
    p[1] = im->has_model ? "true" : "false";
    p[2] = im->has_serial ? "true" : "false";
}

/* Streams the parsed rows into pg_temp.import_raw (the connection is in
 * no pipeline: COPY owns it until the end). NULL when they went in, or
 * the result that says why not. */
static PGresult *copy_rows(PGconn *conn, const ztp_import_t *im)
{
    PGresult *r = PQexec(conn, SQL_COPY), *last = NULL;
    int good;

    if (PQresultStatus(r) != PGRES_COPY_IN)
        return r;
    PQclear(r);
    good = 1;
    for (size_t at = 0; good && at < im->copy.len; at += COPY_CHUNK) {
        size_t n = im->copy.len - at < COPY_CHUNK ? im->copy.len - at : COPY_CHUNK;
        good = PQputCopyData(conn, im->copy.p + at, (int)n) == 1;
    }
    PQputCopyEnd(conn, good ? NULL : "the import was abandoned");
    while ((r = PQgetResult(conn)) != NULL) {
        PQclear(last);
        last = r;
    }
    if (last != NULL && PQresultStatus(last) == PGRES_COMMAND_OK) {
        PQclear(last);
        return NULL;
    }
    return last != NULL ? last : PQmakeEmptyPGresult(conn, PGRES_FATAL_ERROR);
}

/* Parses the body the way the request (or its job) says. */
static void parse(job_t *j)
{
    if (j->json)
        ztp_import_parse_json(&j->im, j->body, j->len);
    else
        ztp_import_parse_csv(&j->im, j->body, j->len);
    j->parsed = 1;
}

/* The statement of this body: the import itself, or the staging of a part
 * (after the part is parsed in the format its job was created with), once
 * its rows went in by COPY. */
static PGresult *run(PGconn *conn, job_t *j)
{
    const char *p[7];
    char part[8], rows[24];
    PGresult *r;
    if (j->job_id[0] == '\0') {
        parse(j);
        if (j->im.nerrors > 0 || j->im.rows == 0)
            return NULL;
        if ((r = copy_rows(conn, &j->im)) != NULL)
            return r;
        columns(&j->im, p);
        p[3] = j->opts.dry ? "true" : "false";
        p[4] = j->opts.skip ? "true" : "false";
        p[5] = j->has_idem ? j->idem.key : NULL;
        p[6] = j->has_idem ? j->idem.hash : NULL;
        return PQexecParams(conn, SQL_IMPORT, 7, NULL, p, NULL, NULL, 0);
    }
    const char *id[1] = {j->job_id};
    r = PQexecParams(conn, SQL_JOB_FORMAT, 1, NULL, id, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        return r; /* an error, or no row: no such job (answered 404) */
    j->json = strcmp(PQgetvalue(r, 0, 0), "json") == 0;
    PQclear(r);
    parse(j);
    if (j->im.nerrors > 0 || j->im.rows == 0)
        return NULL;
    if ((r = copy_rows(conn, &j->im)) != NULL)
        return r;
    snprintf(part, sizeof(part), "%d", j->part);
    snprintf(rows, sizeof(rows), "%zu", j->im.rows);
    p[0] = j->job_id;
    p[1] = part;
    columns(&j->im, p + 2);
    p[5] = rows;
    return PQexecParams(conn, SQL_STAGE, 6, NULL, p, NULL, NULL, 0);
}

/* One attempt at the body's transaction; fills j's outcome. Returns 1 when
 * a serialization failure or deadlock makes another attempt worth it. */
static int apply_once(PGconn *conn, job_t *j)
{
    const char *tenant[3] = {j->who.provider_id, j->who.key_id, j->who.user_id};
    PGresult *r;
    int retry = 0;

    if (!command_ok(PQexec(conn, SQL_BEGIN)) ||
        !command_ok(PQexecParams(conn, SQL_AS_TENANT, 3, NULL, tenant, NULL, NULL, 0))) {
        PQclear(PQexec(conn, "ROLLBACK"));
        return 0;
    }
    r = run(conn, j);
    if (r == NULL) {
        /* parse errors: answered from j->im */
    } else if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 0) {
        j->status = 404;
        j->answer = strdup("{\"detail\": \"no such import job\"}");
    } else if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
               command_ok(PQexec(conn, "COMMIT"))) {
        j->status = atoi(PQgetvalue(r, 0, 0));
        j->answer = strdup(PQgetvalue(r, 0, 1));
    } else {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        snprintf(j->sqlstate, sizeof(j->sqlstate), "%s", state ? state : "");
        retry = strcmp(j->sqlstate, "40001") == 0 || strcmp(j->sqlstate, "40P01") == 0;
        if (*j->sqlstate && !retry && strncmp(j->sqlstate, "57", 2) != 0 &&
            strncmp(j->sqlstate, "08", 2) != 0)
            ztp_log_error("import: %s", PQresultErrorMessage(r));
    }
    if (PQtransactionStatus(conn) != PQTRANS_IDLE)
        PQclear(PQexec(conn, "ROLLBACK"));
    PQclear(r);
    return retry;
}

/* On a worker: parse, then apply on the worker's own connection. A part is
 * parsed only once its job is known, so that a retry parses it again: the
 * body is still there (the request is answered only after this). */
static void work(void *arg)
{
    job_t *j = arg;
    PGconn *conn;

    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        if ((conn = ztp_worker_db()) == NULL)
            return;
        j->sqlstate[0] = '\0';
        if (!apply_once(conn, j))
            return;
        ztp_import_free(&j->im);
        ztp_import_init(&j->im);
        j->parsed = 0;
    }
}

static void send_parse_errors(h2o_req_t *req, ztp_import_t *im)
{
    json_t *report = json_pack("{s:i, s:i, s:i, s:[], s:O}", "created", 0, "updated", 0, "skipped", 0,
                               "conflicts", "errors", im->errors);
    char detail[96] = "the import holds no devices";
    if (im->nerrors > 0)
        snprintf(detail, sizeof(detail), "%zu rows have errors; nothing was applied", im->nerrors);
    ztp_http_problem_with(req, 422, detail, report);
}

static void answer(h2o_req_t *req, job_t *j)
{
    if (j->status != 0)
        ztp_tenant_answer(req, j->status, j->answer);
    else if (j->parsed && (j->im.nerrors > 0 || j->im.rows == 0))
        send_parse_errors(req, &j->im);
    else if (strcmp(j->sqlstate, "ZTIDM") == 0)
        ztp_http_problem(req, 409, "a request with this Idempotency-Key is in progress; retry shortly");
    else if (strcmp(j->sqlstate, "55P03") == 0 || strcmp(j->sqlstate, "57014") == 0 ||
             strncmp(j->sqlstate, "40", 2) == 0) {
        ztp_http_header(req, H2O_TOKEN_RETRY_AFTER, "5");
        ztp_http_problem(req, 503, "the import could not get the devices it names in time; retry shortly");
    } else
        ztp_http_unavailable(req);
}

/* Back on the loop thread. */
static void done(void *arg)
{
    job_t *j = arg;
    h2o_req_t *req = ztp_http_release(j->hold);

    if (req != NULL)
        answer(req, j);
    slot_give(j->who.provider_id);
    ztp_import_free(&j->im);
    free(j->copy);
    free(j->answer);
    free(j);
}

static void on_replay(h2o_req_t *req, int status, const char *body, const char *nonce, void *arg)
{
    ztp_tenant_answer(req, status, body);
}

/* Sends the body to a worker; j is filled but for the body. */
static void submit(h2o_req_t *req, job_t *j)
{
    if (slot_take(j->who.provider_id) != 0) {
        free(j);
        ztp_http_header(req, H2O_TOKEN_RETRY_AFTER, "10");
        ztp_http_problem(req, 429, "this provider already has imports running; retry when they end");
        return;
    }
    j->len = req->entity.len;
    if (req->version < 0x200) {
        /* HTTP/1 in h2o 2.2.5 neither reads from nor times out a connection
         * whose request a handler holds (on_entity_read_complete stops both),
         * so the body stays where it is until we answer: no copy of it */
        j->body = req->entity.base;
    } else {
        /* an HTTP/2 stream can be reset meanwhile, freeing the request */
        if ((j->copy = malloc(j->len)) == NULL)
            abort();
        memcpy(j->copy, req->entity.base, j->len);
        j->body = j->copy;
    }
    ztp_import_init(&j->im);
    j->hold = ztp_http_hold(req);
    ztp_worker_submit(work, done, j);
}

static job_t *job_new(const ztp_auth_t *who)
{
    job_t *j = calloc(1, sizeof(*j));
    if (j == NULL)
        abort();
    j->who = *who;
    return j;
}

static void on_fresh(h2o_req_t *req, const ztp_auth_t *who, const ztp_idem_t *idem, void *arg)
{
    import_opts_t *o = arg;
    job_t *j = job_new(who);

    if (idem != NULL) {
        j->idem = *idem;
        j->has_idem = 1;
    }
    j->opts = *o;
    free(o);
    j->json = looks_like_json(req);
    submit(req, j);
}

void ztp_import_handle(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    json_t *errors = json_array();
    import_opts_t *o = calloc(1, sizeof(*o));

    if (o == NULL)
        abort();
    flag(req, "dry_run", "true", "false", &o->dry, errors);
    flag(req, "on_conflict", "skip", "fail", &o->skip, errors);
    if (ztp_errors_answer(req, errors)) {
        free(o);
        return;
    }
    if (req->entity.base == NULL || req->entity.len == 0) {
        free(o);
        ztp_http_problem(
            req, 400, "send the devices as text/csv (a header row, then one device a line) or a JSON array");
        return;
    }
    ztp_idem_begin(req, who, "devices-import", on_fresh, on_replay, o);
}

void ztp_import_part_handle(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    h2o_iovec_t id = m->params[0], n = m->params[1];
    char digits[8];
    long part;
    job_t *j;

    if (!ztp_uuid_ok(id.base, id.len)) {
        ztp_http_problem(req, 404, "no such import job");
        return;
    }
    if (n.len == 0 || n.len >= sizeof(digits) || strspn(n.base, "0123456789") < n.len ||
        (memcpy(digits, n.base, n.len), digits[n.len] = '\0', part = strtol(digits, NULL, 10)) < 1 ||
        part > ZTP_IMPORT_MAX_PARTS) {
        json_t *errors = json_array();
        ztp_errors_add(errors, "n", "the part number must be 1 to 10000");
        ztp_errors_answer(req, errors);
        return;
    }
    if (req->entity.base == NULL || req->entity.len == 0) {
        ztp_http_problem(req, 400, "send the part as a whole CSV with its header row, or a JSON array");
        return;
    }
    j = job_new(who);
    memcpy(j->job_id, id.base, id.len);
    j->part = (int)part;
    submit(req, j);
}

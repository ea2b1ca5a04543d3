/* /v1/import-jobs: create, read, start, cancel; the rows are staged by
 * import_handler.c and applied by import_runner.c. */
#include "import_jobs.h"
#include "import_runner.h"

#include "../services/http.h"

#include <stdlib.h>
#include <string.h>

ZTP_SQL(SQL_CREATE, 5,
        "SELECT r.status, r.body, ztp_idem_store('import-jobs', $4, $5, NULL, r.status, r.body)"
        " FROM ztp_import_job_create($1, $2::boolean, $3) r");
ZTP_SQL(SQL_LIST, 0, "SELECT * FROM ztp_import_job_list()");
ZTP_SQL(SQL_READ, 1, "SELECT * FROM ztp_import_job_read($1::uuid)");
ZTP_SQL(SQL_START, 1, "SELECT * FROM ztp_import_job_start($1::uuid)");
ZTP_SQL(SQL_CANCEL, 1, "SELECT * FROM ztp_import_job_cancel($1::uuid)");

typedef struct order {
    char format[8], on_conflict[8];
    int dry_run;
} order_t;

static void on_replay(h2o_req_t *req, int status, const char *body, const char *nonce, void *arg)
{
    ztp_tenant_answer(req, status, body);
}

static void on_fresh(h2o_req_t *req, const ztp_auth_t *who, const ztp_idem_t *idem, void *arg)
{
    order_t *o = arg;
    const char *p[5] = {o->format, o->dry_run ? "true" : "false", o->on_conflict, idem ? idem->key : NULL,
                        idem ? idem->hash : NULL};
    ztp_tenant_call(req, who, &SQL_CREATE, p, NULL, NULL);
    free(o);
}

/* Reads a member that must be one of two strings (the first the default). */
static void choice(json_t *body, const char *name, const char *a, const char *b, char *out, size_t cap,
                   json_t *errors)
{
    json_t *v = json_object_get(body, name);
    const char *s = v == NULL || json_is_null(v) ? a : json_string_value(v);
    char detail[64];
    if (s != NULL && (strcmp(s, a) == 0 || strcmp(s, b) == 0)) {
        snprintf(out, cap, "%s", s);
        return;
    }
    snprintf(detail, sizeof(detail), "must be \"%s\" or \"%s\"", a, b);
    ztp_errors_add(errors, name, detail);
}

void ztp_import_jobs_create(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    json_t *body = ztp_json_body(req, 0), *errors, *dry;
    order_t *o;

    if (body == NULL)
        return;
    errors = json_array();
    o = calloc(1, sizeof(*o));
    if (o == NULL)
        abort();
    if (!json_is_string(json_object_get(body, "format")))
        ztp_errors_add(errors, "format", "is required: \"csv\" or \"json\"");
    else
        choice(body, "format", "csv", "json", o->format, sizeof(o->format), errors);
    choice(body, "on_conflict", "fail", "skip", o->on_conflict, sizeof(o->on_conflict), errors);
    dry = json_object_get(body, "dry_run");
    if (dry != NULL && !json_is_null(dry) && !json_is_boolean(dry))
        ztp_errors_add(errors, "dry_run", "must be true or false");
    o->dry_run = json_is_true(dry);
    json_decref(body);
    if (ztp_errors_answer(req, errors)) {
        free(o);
        return;
    }
    ztp_idem_begin(req, who, "import-jobs", on_fresh, on_replay, o);
}

void ztp_import_jobs_list(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    ztp_tenant_call(req, who, &SQL_LIST, NULL, NULL, NULL);
}

/* A statement on one job named by the path; an id that is no UUID is 404. */
static void on_job(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m, ztp_sql_t *sql,
                   ztp_tenant_row_fn fn)
{
    h2o_iovec_t v = m->params[0];
    if (!ztp_uuid_ok(v.base, v.len)) {
        ztp_http_problem(req, 404, "no such import job");
        return;
    }
    const char *p[1] = {ztp_param(req, v)};
    ztp_tenant_call(req, who, sql, p, fn, NULL);
}

void ztp_import_jobs_get(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    on_job(req, who, m, &SQL_READ, NULL);
}

static void on_started(h2o_req_t *req, int status, const char *body, void *arg)
{
    if (status == 202)
        ztp_import_runner_wake();
    ztp_tenant_answer(req, status, body);
}

void ztp_import_jobs_start(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    on_job(req, who, m, &SQL_START, on_started);
}

void ztp_import_jobs_cancel(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    on_job(req, who, m, &SQL_CANCEL, NULL);
}

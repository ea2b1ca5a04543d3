#include "tenant.h"

#include "../services/copytext.h"
#include "../services/http.h"
#include "../services/log.h"
#include "../services/server.h"
#include "sessions.h"

#include <stdlib.h>
#include <string.h>

/* Raised by ztp_idem_store when a concurrent request holds the same key. */
#define SQLSTATE_IDEMPOTENCY_BUSY "ZTIDM"

ZTP_SQL(SQL_AS_TENANT, 3,
        "SELECT set_config('role', 'ztp_tenant', true), set_config('app.tenant', $1, true),"
        " set_config('app.key', $2, true), set_config('app.user', $3, true)");
ZTP_SQL(SQL_TOUCH_KEY, 1,
        "UPDATE api_keys SET last_used_at = now() WHERE id = $1"
        " AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')");

typedef struct v1_route {
    ztp_v1_fn fn;
    ztp_role_t role;
} v1_route_t;

typedef struct v1_call {
    const v1_route_t *route;
    ztp_match_t m;
} v1_call_t;

static void on_authenticated(h2o_req_t *req, const ztp_auth_t *who, void *arg)
{
    v1_call_t *c = arg;
    if (!ztp_role_allows(who->role, c->route->role)) {
        char detail[128];
        snprintf(detail, sizeof(detail), "this needs the %s role; you have %s", ztp_role_name(c->route->role),
                 ztp_role_name(who->role));
        ztp_http_problem(req, 403, detail);
    } else if (!ztp_http_query_ok(req)) {
        /* else a malformed value reads as absent: a dry run would import */
        ztp_http_problem(req, 400,
                         "the query string has a malformed %-escape (% must be followed by two hex "
                         "digits, and %00 is refused)");
    } else if (ztp_session_guard(req, who) == 0) {
        c->route->fn(req, who, &c->m);
    }
    free(c);
}

static void on_v1_request(h2o_req_t *req, const ztp_match_t *m)
{
    v1_call_t *c = malloc(sizeof(*c));
    if (c == NULL)
        abort();
    c->route = m->data;
    c->m = *m;
    ztp_auth_request(req, on_authenticated, c);
}

void ztp_v1_route(const char *method, const char *pattern, ztp_role_t role, ztp_v1_fn fn, size_t max_body)
{
    v1_route_t *r = malloc(sizeof(*r)); /* lives as long as the process */
    if (r == NULL)
        abort();
    r->fn = fn;
    r->role = role;
    ztp_router_add(method, pattern, on_v1_request, max_body, r);
}

typedef struct call {
    ztp_hold_t *hold;
    ztp_tenant_row_fn row_fn;
    void *arg;
} call_t;

void ztp_tenant_answer(h2o_req_t *req, int status, const char *body)
{
    if (status == 204) {
        ztp_http_send(req, 204, NULL, "", 0);
    } else if (status < 400) {
        ztp_http_send(req, status, "application/json", body ? body : "{}", body ? strlen(body) : 2);
    } else {
        /* the problem carries every member of the body (an import's report, say) */
        ztp_http_problem_with(req, status, NULL, body ? json_loads(body, 0, NULL) : NULL);
    }
}

static void on_row(void *arg, const ztp_db_res_t *res)
{
    call_t *c = arg;
    h2o_req_t *req = ztp_http_release(c->hold);
    PGresult *r;

    if (req == NULL)
        goto done;
    if (res->status == ZTP_DB_UNAVAILABLE) {
        ztp_http_unavailable(req);
        goto done;
    }
    if (res->status == ZTP_DB_ERROR) {
        const char *state = res->sqlstate ? res->sqlstate : "";
        if (strcmp(state, SQLSTATE_IDEMPOTENCY_BUSY) == 0) {
            ztp_http_problem(req, 409, "a request with this Idempotency-Key is in progress; retry shortly");
        } else if (strcmp(state, "23505") == 0 || strcmp(state, "23503") == 0) {
            ztp_http_problem(req, 409, "this conflicts with existing data");
        } else if (strncmp(state, "22", 2) == 0) {
            ztp_http_problem(req, 422, "a value is out of range or malformed");
        } else {
            ztp_log_error("database refused a provider request: %s", res->message);
            ztp_http_problem(req, 500, "internal error");
        }
        goto done;
    }
    r = res->results[res->nresults - 1];
    if (PQntuples(r) != 1) {
        ztp_log_error("a provider statement returned %d rows", PQntuples(r));
        ztp_http_problem(req, 500, "internal error");
        goto done;
    }
    if (c->row_fn != NULL)
        c->row_fn(req, atoi(PQgetvalue(r, 0, 0)), ztp_db_val(r, 0, 1), c->arg);
    else
        ztp_tenant_answer(req, atoi(PQgetvalue(r, 0, 0)), ztp_db_val(r, 0, 1));
done:
    free(c->arg);
    free(c);
}

void ztp_tenant_call(h2o_req_t *req, const ztp_auth_t *who, ztp_sql_t *sql, const char *const *params,
                     ztp_tenant_row_fn row_fn, void *arg)
{
    ztp_tenant_call_timeout(req, who, sql, params, row_fn, arg, 0);
}

/* Runs sql as the caller's tenant, in a transaction of its own. */
static void submit_as_tenant(const ztp_auth_t *who, ztp_sql_t *sql, const char *const *params, ztp_db_cb cb,
                             void *arg, uint64_t timeout_ms)
{
    const char *tenant[3] = {who->provider_id, who->key_id, who->user_id};
    const char *key[1] = {who->key_id};
    ztp_db_unit_t *u = ztp_db_unit_new(0, cb, arg);

    ztp_db_unit_add(u, &SQL_AS_TENANT, tenant, NULL);
    ztp_db_unit_add(u, &SQL_TOUCH_KEY, key, NULL);
    ztp_db_unit_add(u, sql, params, NULL);
    ztp_db_unit_timeout(u, timeout_ms);
    ztp_db_submit(ztp_self->db, u);
}

void ztp_tenant_call_timeout(h2o_req_t *req, const ztp_auth_t *who, ztp_sql_t *sql, const char *const *params,
                             ztp_tenant_row_fn row_fn, void *arg, uint64_t timeout_ms)
{
    call_t *c = malloc(sizeof(*c));
    c->row_fn = row_fn;
    c->arg = arg;
    c->hold = ztp_http_hold(req);
    submit_as_tenant(who, sql, params, on_row, c, timeout_ms);
}

json_t *ztp_json_body(h2o_req_t *req, int allow_empty)
{
    json_error_t err;
    json_t *o;

    if (req->entity.base == NULL || req->entity.len == 0) {
        if (allow_empty)
            return json_object();
        ztp_http_problem(req, 400, "a JSON object body is required");
        return NULL;
    }
    o = json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, &err);
    if (o == NULL) {
        char detail[256];
        snprintf(detail, sizeof(detail), "malformed JSON at line %d column %d: %s", err.line, err.column,
                 err.text);
        ztp_http_problem(req, 400, detail);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        ztp_http_problem(req, 400, "the body must be a JSON object");
        return NULL;
    }
    return o;
}

void ztp_errors_add(json_t *errors, const char *field, const char *detail)
{
    json_array_append_new(errors, json_pack("{s:s, s:s}", "field", field, "detail", detail));
}

int ztp_errors_answer(h2o_req_t *req, json_t *errors)
{
    if (json_array_size(errors) == 0) {
        json_decref(errors);
        return 0;
    }
    ztp_http_problem_errors(req, 422, "the request has invalid fields", errors);
    return 1;
}

int ztp_text_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max || !ztp_copy_text_ok(s, n))
        return 0;
    for (; *s; s++)
        if (ztp_utf8_is_control(s))
            return 0;
    return 1;
}

int ztp_uuid_ok(const char *s, size_t len)
{
    if (len != 36)
        return 0;
    for (size_t i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return 0;
        }
    }
    return 1;
}

char *ztp_json_pick(json_t *body, const char *const *keys, size_t n)
{
    json_t *fields = json_object(), *v;
    char *text;
    for (size_t i = 0; i < n; i++)
        if ((v = json_object_get(body, keys[i])) != NULL)
            json_object_set(fields, keys[i], v);
    text = json_dumps(fields, JSON_COMPACT);
    json_decref(fields);
    return text;
}

/* A page cursor as ztp_page_cursor (migration 0023) writes it: the
 * position's microseconds since 1970 (1 to 18 digits, no leading zero),
 * '_', the item's UUID. */
static int page_cursor_ok(const char *c)
{
    size_t digits = strspn(c, "0123456789");
    return digits >= 1 && digits <= 18 && (c[0] != '0' || digits == 1) && c[digits] == '_' &&
           ztp_uuid_ok(c + digits + 1, strlen(c + digits + 1));
}

void ztp_list_page(h2o_req_t *req, const ztp_auth_t *who, ztp_sql_t *sql, const char *const *states,
                   const char *states_text)
{
    const char *state = states ? ztp_http_query(req, "state") : NULL, *cursor = ztp_http_query(req, "cursor");
    json_t *errors = json_array();
    char limit_text[8];
    size_t i;

    if (state != NULL && *state == '\0')
        state = NULL;
    if (cursor != NULL && *cursor == '\0')
        cursor = NULL;
    for (i = 0; state != NULL && states[i] != NULL && strcmp(state, states[i]) != 0; i++)
        ;
    if (state != NULL && states[i] == NULL)
        ztp_errors_add(errors, "state", states_text);
    if (cursor != NULL && !page_cursor_ok(cursor))
        ztp_errors_add(errors, "cursor", "is not a cursor this API returned");
    ztp_query_limit(req, errors, limit_text);
    if (ztp_errors_answer(req, errors))
        return;
    const char *p[3] = {state, cursor, limit_text};
    ztp_tenant_call(req, who, sql, states ? p : p + 1, NULL, NULL);
}

void ztp_query_limit(h2o_req_t *req, json_t *errors, char out[8])
{
    const char *limit = ztp_http_query(req, "limit");
    char *end;
    long n;

    strcpy(out, "100");
    if (limit == NULL || *limit == '\0')
        return;
    n = strtol(limit, &end, 10); /* which skips spaces and takes a sign: digits only */
    if (*limit < '0' || *limit > '9' || *end != '\0' || n < 1 || n > 1000)
        ztp_errors_add(errors, "limit", "must be an integer from 1 to 1000");
    else
        snprintf(out, 8, "%ld", n);
}

char *ztp_param(h2o_req_t *req, h2o_iovec_t v)
{
    char *s = h2o_mem_alloc_pool(&req->pool, v.len + 1);
    memcpy(s, v.base, v.len);
    s[v.len] = '\0';
    return s;
}

/* ---- Idempotency-Key -------------------------------------------------- */

#include <sodium.h>

ZTP_SQL(SQL_IDEM_LOOKUP, 3, "SELECT state, status, body, nonce FROM ztp_idem_lookup($1, $2, $3)");

typedef struct idem_call {
    ztp_hold_t *hold;
    ztp_auth_t who;
    ztp_idem_t idem;
    ztp_idem_fresh_fn fresh;
    ztp_idem_replay_fn replay;
    void *arg;
} idem_call_t;

static void on_idem_lookup(void *arg, const ztp_db_res_t *res)
{
    idem_call_t *c = arg;
    h2o_req_t *req = ztp_http_release(c->hold);
    PGresult *r;

    if (req == NULL) {
        free(c->arg);
    } else if (res->status != ZTP_DB_OK) {
        ztp_http_unavailable(req);
        free(c->arg);
    } else if (PQntuples(r = res->results[res->nresults - 1]) == 0 || PQgetisnull(r, 0, 0)) {
        c->fresh(req, &c->who, &c->idem, c->arg);
    } else if (strcmp(PQgetvalue(r, 0, 0), "replay") == 0) {
        c->replay(req, atoi(PQgetvalue(r, 0, 1)), PQgetvalue(r, 0, 2), ztp_db_val(r, 0, 3), c->arg);
        free(c->arg);
    } else {
        json_t *errors = json_array();
        ztp_errors_add(errors, "Idempotency-Key", "was used with another request in the last 24 hours");
        ztp_errors_answer(req, errors);
        free(c->arg);
    }
    free(c);
}

void ztp_idem_begin(h2o_req_t *req, const ztp_auth_t *who, const char *route, ztp_idem_fresh_fn fresh,
                    ztp_idem_replay_fn replay, void *arg)
{
    const char *key = ztp_http_get_header_str(req, "idempotency-key");
    crypto_generichash_state st;
    unsigned char h[32];
    idem_call_t *c;

    if (key == NULL) {
        fresh(req, who, NULL, arg);
        return;
    }
    if (!ztp_text_ok(key, ZTP_IDEM_KEY_MAX)) {
        json_t *errors = json_array();
        ztp_errors_add(errors, "Idempotency-Key", "must be 1 to 200 printable characters");
        ztp_errors_answer(req, errors);
        free(arg);
        return;
    }
    c = calloc(1, sizeof(*c));
    c->who = *who;
    c->fresh = fresh;
    c->replay = replay;
    c->arg = arg;
    snprintf(c->idem.key, sizeof(c->idem.key), "%s", key);
    crypto_generichash_init(&st, NULL, 0, sizeof(h));
    if (req->query_at != SIZE_MAX)
        crypto_generichash_update(&st, (const unsigned char *)req->path.base + req->query_at,
                                  req->path.len - req->query_at);
    crypto_generichash_update(&st, (const unsigned char *)"\n", 1);
    if (req->entity.base != NULL)
        crypto_generichash_update(&st, (const unsigned char *)req->entity.base, req->entity.len);
    crypto_generichash_final(&st, h, sizeof(h));
    sodium_bin2hex(c->idem.hash, sizeof(c->idem.hash), h, sizeof(h));
    c->hold = ztp_http_hold(req);
    const char *params[3] = {route, c->idem.key, c->idem.hash};
    submit_as_tenant(who, &SQL_IDEM_LOOKUP, params, on_idem_lookup, c, 0);
}

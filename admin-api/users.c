/* /v1/users and the invitations that let a person choose a password. */
#include "users.h"

#include "../services/config.h"
#include "../services/db.h"
#include "../services/http.h"
#include "../services/server.h"
#include "../services/worker.h"
#include "sessions.h"
#include "tenant.h"

#include <ctype.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

ZTP_SQL(SQL_CREATE, 3, "SELECT * FROM ztp_user_create($1, $2, $3)");
ZTP_SQL(SQL_LIST, 0, "SELECT * FROM ztp_user_list()");
ZTP_SQL(SQL_DELETE, 1, "SELECT * FROM ztp_user_delete($1)");
ZTP_SQL(SQL_INVITE_CHECK, 1, "SELECT status FROM ztp_invite_check($1)");
ZTP_SQL(SQL_INVITE_ACCEPT, 2, "SELECT * FROM ztp_invite_accept($1, $2)");

void ztp_user_email_normalise(const char *s, char *out, size_t cap)
{
    size_t n;
    while (*s == ' ' || *s == '\t')
        s++;
    snprintf(out, cap, "%s", s);
    for (n = strlen(out); n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t'); n--)
        out[n - 1] = '\0';
    for (char *p = out; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
}

int ztp_user_email_ok(const char *s)
{
    size_t n = strlen(s);
    const char *at = strchr(s, '@');
    if (n < 3 || n > ZTP_EMAIL_MAX || at == NULL || at == s || at[1] == '\0' || strchr(at + 1, '@') != NULL)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f || *s == '<' || *s == '>' || *s == '"' || *s == ',' ||
            *s == ';' || *s == '\\')
            return 0;
    return 1;
}

const char *ztp_user_password_problem(const char *password, size_t len)
{
    size_t chars = 0;
    if (len > ZTP_PASSWORD_MAX)
        return "must be at most 256 bytes";
    if (memchr(password, '\0', len) != NULL)
        return "must not contain NUL";
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)password[i] & 0xc0) != 0x80)
            chars++;
    if (chars < ZTP_PASSWORD_MIN)
        return "must be at least 12 characters";
    return NULL;
}

void ztp_user_invite_url(const char *token, char *out, size_t cap)
{
    snprintf(out, cap, "%s/console/invite#%s", ztp_config.public_url, token);
}

/* ---- POST, GET, DELETE /v1/users ---- */

typedef struct created {
    char token[ZTP_TOKEN_LEN + 1];
} created_t;

/* Adds the invitation link, which only this answer carries. */
static void on_created(h2o_req_t *req, int status, const char *body, void *arg)
{
    created_t *c = arg;
    char url[700];
    json_t *o;
    if (status != 201 || (o = json_loads(body, 0, NULL)) == NULL) {
        ztp_tenant_answer(req, status, body);
    } else {
        ztp_user_invite_url(c->token, url, sizeof(url));
        json_object_set_new(o, "invite_url", json_string(url));
        ztp_http_json(req, 201, o);
        sodium_memzero(url, sizeof(url));
    }
    sodium_memzero(c->token, sizeof(c->token));
}

static void users_create(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    json_t *body = ztp_json_body(req, 0), *email, *role, *errors;
    char norm[ZTP_EMAIL_MAX + 2], hash[65];
    created_t *c;

    if (body == NULL)
        return;
    email = json_object_get(body, "email");
    role = json_object_get(body, "role");
    errors = json_array();
    if (json_is_string(email))
        ztp_user_email_normalise(json_string_value(email), norm, sizeof(norm));
    if (!json_is_string(email) || json_string_length(email) > ZTP_EMAIL_MAX || !ztp_user_email_ok(norm))
        ztp_errors_add(errors, "email", "must be an email address of at most 254 characters");
    if (!json_is_string(role) || ztp_role_parse(json_string_value(role)) == ZTP_ROLE_NONE)
        ztp_errors_add(errors, "role", "must be one of admin, operator, viewer");
    if (ztp_errors_answer(req, errors)) {
        json_decref(body);
        return;
    }
    c = malloc(sizeof(*c));
    if (c == NULL)
        abort();
    ztp_token_generate(c->token, hash);
    const char *p[3] = {norm, json_string_value(role), hash};
    ztp_tenant_call(req, who, &SQL_CREATE, p, on_created, c);
    json_decref(body);
}

static void users_list(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    ztp_tenant_call(req, who, &SQL_LIST, NULL, NULL, NULL);
}

static void users_delete(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    if (!ztp_uuid_ok(m->params[0].base, m->params[0].len)) {
        ztp_http_problem(req, 404, "no such person");
        return;
    }
    const char *p[1] = {ztp_param(req, m->params[0])};
    ztp_tenant_call(req, who, &SQL_DELETE, p, NULL, NULL);
}

/* ---- POST /v1/invites/accept ---- */

typedef struct accept {
    ztp_hold_t *hold;
    char hash[65];
    char password[ZTP_PASSWORD_MAX + 1];
    char pwhash[crypto_pwhash_STRBYTES];
    int failed;
} accept_t;

static void accept_free(accept_t *a)
{
    sodium_memzero(a, sizeof(*a));
    free(a);
}

static void on_accepted(void *arg, const ztp_db_res_t *res)
{
    accept_t *a = arg;
    h2o_req_t *req = ztp_http_release(a->hold);
    PGresult *r;
    if (req != NULL && res->status != ZTP_DB_OK) {
        ztp_http_unavailable(req);
    } else if (req != NULL) {
        r = res->results[res->nresults - 1];
        ztp_tenant_answer(req, atoi(PQgetvalue(r, 0, 0)), ztp_db_val(r, 0, 1));
    }
    accept_free(a);
}

/* On a worker thread: Argon2id is too slow for an event loop. */
static void hash_work(void *arg)
{
    accept_t *a = arg;
    a->failed =
        crypto_pwhash_str(a->pwhash, a->password, strlen(a->password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0;
    sodium_memzero(a->password, sizeof(a->password));
}

static void hash_done(void *arg)
{
    accept_t *a = arg;
    h2o_req_t *req = ztp_http_release(a->hold);
    if (req == NULL || a->failed) {
        if (req != NULL)
            ztp_http_problem(req, 503, "the password could not be hashed now; retry");
        accept_free(a);
        return;
    }
    const char *p[2] = {a->hash, a->pwhash};
    a->hold = ztp_http_hold(req);
    ztp_db_unit_t *u = ztp_db_unit_new(0, on_accepted, a);
    ztp_db_unit_add(u, &SQL_INVITE_ACCEPT, p, NULL);
    ztp_db_submit(ztp_self->db, u);
}

static void on_checked(void *arg, const ztp_db_res_t *res)
{
    accept_t *a = arg;
    h2o_req_t *req = ztp_http_release(a->hold);
    int status;
    if (req == NULL || res->status != ZTP_DB_OK) {
        if (req != NULL)
            ztp_http_unavailable(req);
        accept_free(a);
        return;
    }
    status = atoi(PQgetvalue(res->results[res->nresults - 1], 0, 0));
    if (status != 200) {
        ztp_http_problem(req, status,
                         status == 410 ? "this invitation was used or has expired" : "no such invitation");
        accept_free(a);
        return;
    }
    a->hold = ztp_http_hold(req);
    ztp_worker_submit(hash_work, hash_done, a);
}

static void on_accept(h2o_req_t *req, const ztp_match_t *m)
{
    json_t *body = ztp_json_body(req, 0), *token, *password, *errors;
    const char *why;
    accept_t *a;

    if (body == NULL)
        return;
    token = json_object_get(body, "token");
    password = json_object_get(body, "password");
    errors = json_array();
    if (!json_is_string(token))
        ztp_errors_add(errors, "token", "is required");
    if (!json_is_string(password))
        ztp_errors_add(errors, "password", "is required");
    else if ((why = ztp_user_password_problem(json_string_value(password), json_string_length(password))))
        ztp_errors_add(errors, "password", why);
    if (ztp_errors_answer(req, errors)) {
        json_decref(body);
        return;
    }
    if (!ztp_token_ok(json_string_value(token), json_string_length(token))) {
        ztp_http_problem(req, 404, "no such invitation");
        json_decref(body);
        return;
    }
    a = calloc(1, sizeof(*a));
    if (a == NULL)
        abort();
    ztp_token_hash(json_string_value(token), a->hash);
    snprintf(a->password, sizeof(a->password), "%s", json_string_value(password));
    json_decref(body);
    const char *p[1] = {a->hash};
    a->hold = ztp_http_hold(req);
    ztp_db_unit_t *u = ztp_db_unit_new(ZTP_DB_SHARED, on_checked, a);
    ztp_db_unit_add(u, &SQL_INVITE_CHECK, p, NULL);
    ztp_db_submit(ztp_self->db, u);
}

void ztp_users_register(size_t max_body)
{
    ztp_v1_route("POST", "/v1/users", ZTP_ROLE_ADMIN, users_create, max_body);
    ztp_v1_route("GET", "/v1/users", ZTP_ROLE_VIEWER, users_list, 0);
    ztp_v1_route("DELETE", "/v1/users/{id}", ZTP_ROLE_ADMIN, users_delete, 0);
    ztp_router_add("POST", "/v1/invites/accept", on_accept, max_body, NULL);
}

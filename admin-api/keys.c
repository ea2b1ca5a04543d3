/* /v1/api-keys: a provider's keys; the secret is shown once, at creation. */
#include "keys.h"

#include "../services/http.h"
#include "../services/secret.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

ZTP_SQL(SQL_CREATE, 4, "SELECT * FROM ztp_key_create($1, $2, $3, $4)");
ZTP_SQL(SQL_LIST, 0, "SELECT * FROM ztp_key_list()");
ZTP_SQL(SQL_REVOKE, 1, "SELECT * FROM ztp_key_revoke($1)");

typedef struct created {
    char key[ZTP_APIKEY_LEN + 1];
} created_t;

/* Adds the secret, which only this answer carries, to the stored row. */
static void on_created(h2o_req_t *req, int status, const char *body, void *arg)
{
    created_t *c = arg;
    json_t *o;
    if (status != 201 || (o = json_loads(body, 0, NULL)) == NULL) {
        ztp_tenant_answer(req, status, body);
    } else {
        json_object_set_new(o, "api_key", json_string(c->key));
        ztp_http_json(req, 201, o);
    }
    sodium_memzero(c->key, sizeof(c->key));
}

void ztp_keys_create(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    json_t *body = ztp_json_body(req, 0), *name;
    char id[ZTP_APIKEY_ID_LEN + 1], hash[65], secret_id[17];
    created_t *c;

    if (body == NULL)
        return;
    name = json_object_get(body, "name");
    if (!json_is_string(name) || !ztp_text_ok(json_string_value(name), 200)) {
        json_t *errors = json_array();
        ztp_errors_add(errors, "name", "must be a string of 1 to 200 characters without control characters");
        ztp_errors_answer(req, errors);
        json_decref(body);
        return;
    }
    c = malloc(sizeof(*c));
    ztp_apikey_generate(c->key, id, hash);
    ztp_secret_key_id(ZTP_SECRET_CURRENT, secret_id);
    const char *p[4] = {id, json_string_value(name), hash, secret_id};
    ztp_tenant_call(req, who, &SQL_CREATE, p, on_created, c);
    json_decref(body);
}

void ztp_keys_list(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    ztp_tenant_call(req, who, &SQL_LIST, NULL, NULL, NULL);
}

void ztp_keys_revoke(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    char id[ZTP_APIKEY_ID_LEN + 1];
    const char *p[1] = {id};
    h2o_iovec_t v = m->params[0];
    if (v.len != ZTP_APIKEY_ID_LEN || strspn(v.base, "0123456789abcdef") < ZTP_APIKEY_ID_LEN) {
        ztp_http_problem(req, 404, "no such API key");
        return;
    }
    memcpy(id, v.base, ZTP_APIKEY_ID_LEN);
    id[ZTP_APIKEY_ID_LEN] = '\0';
    ztp_tenant_call(req, who, &SQL_REVOKE, p, NULL, NULL);
}

#include "auth.h"

#include "../services/db.h"
#include "../services/http.h"
#include "../services/secret.h"
#include "../services/server.h"
#include "sessions.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

ZTP_SQL(SQL_KEY_LOOKUP, 1,
        "SELECT provider_id, encode(hash, 'hex') FROM api_keys WHERE id = $1 AND revoked_at IS NULL");

void ztp_apikey_generate(char key[ZTP_APIKEY_LEN + 1], char id[ZTP_APIKEY_ID_LEN + 1], char hash_hex[65])
{
    unsigned char idbin[8], secret[32], hash[ZTP_HASH_LEN];
    char secret_text[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];

    randombytes_buf(idbin, sizeof(idbin));
    randombytes_buf(secret, sizeof(secret));
    ztp_secret_hex(idbin, sizeof(idbin), id);
    sodium_bin2base64(secret_text, sizeof(secret_text), secret, sizeof(secret),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf(key, ZTP_APIKEY_LEN + 1, "ztp_%s_%s", id, secret_text);
    ztp_secret_hash(ZTP_SECRET_CURRENT, ZTP_SECRET_API_KEY, key, strlen(key), hash, sizeof(hash));
    ztp_secret_hex(hash, sizeof(hash), hash_hex);
    sodium_memzero(secret, sizeof(secret));
}

int ztp_apikey_parse(const char *key, size_t len, char id[ZTP_APIKEY_ID_LEN + 1])
{
    if (len != ZTP_APIKEY_LEN || memcmp(key, "ztp_", 4) != 0 || key[4 + ZTP_APIKEY_ID_LEN] != '_')
        return -1;
    for (size_t i = 4; i < 4 + ZTP_APIKEY_ID_LEN; i++)
        if (!((key[i] >= '0' && key[i] <= '9') || (key[i] >= 'a' && key[i] <= 'f')))
            return -1;
    for (size_t i = 5 + ZTP_APIKEY_ID_LEN; i < len; i++)
        if (!((key[i] >= '0' && key[i] <= '9') || (key[i] >= 'a' && key[i] <= 'z') ||
              (key[i] >= 'A' && key[i] <= 'Z') || key[i] == '-' || key[i] == '_'))
            return -1;
    memcpy(id, key + 4, ZTP_APIKEY_ID_LEN);
    id[ZTP_APIKEY_ID_LEN] = '\0';
    return 0;
}

int ztp_apikey_verify(const char *key, size_t len, const char *stored_hex)
{
    unsigned char want[ZTP_HASH_LEN], got[ZTP_HASH_LEN];
    size_t n;
    if (sodium_hex2bin(want, sizeof(want), stored_hex, strlen(stored_hex), NULL, &n, NULL) != 0 ||
        n != sizeof(want))
        return 0;
    /* under ZTP_SECRET, or under ZTP_SECRET_PREVIOUS while rotating */
    for (int gen = ZTP_SECRET_CURRENT; gen <= ZTP_SECRET_PREVIOUS; gen++)
        if (ztp_secret_hash((ztp_secret_gen_t)gen, ZTP_SECRET_API_KEY, key, len, got, sizeof(got)) == 0 &&
            sodium_memcmp(want, got, sizeof(got)) == 0)
            return 1;
    return 0;
}

typedef struct pending {
    ztp_hold_t *hold;
    ztp_auth_cb cb;
    void *arg;
    char key[ZTP_APIKEY_LEN + 1];
} pending_t;

static void unauthorized(h2o_req_t *req, const char *detail)
{
    ztp_http_header(req, H2O_TOKEN_WWW_AUTHENTICATE, "Bearer realm=\"openztp\"");
    ztp_http_problem(req, 401, detail);
}

static void on_key(void *arg, const ztp_db_res_t *res)
{
    pending_t *p = arg;
    h2o_req_t *req = ztp_http_release(p->hold);
    ztp_auth_t who;

    if (req == NULL) {
        free(p->arg);
    } else if (res->status != ZTP_DB_OK) {
        ztp_http_unavailable(req);
        free(p->arg);
    } else if (PQntuples(res->results[0]) != 1 ||
               !ztp_apikey_verify(p->key, strlen(p->key), PQgetvalue(res->results[0], 0, 1))) {
        unauthorized(req, "unknown or revoked API key");
        free(p->arg);
    } else {
        memset(&who, 0, sizeof(who));
        who.role = ZTP_ROLE_ADMIN;
        snprintf(who.provider_id, sizeof(who.provider_id), "%s", PQgetvalue(res->results[0], 0, 0));
        ztp_apikey_parse(p->key, strlen(p->key), who.key_id);
        p->cb(req, &who, p->arg);
    }
    sodium_memzero(p->key, sizeof(p->key));
    free(p);
}

void ztp_auth_request(h2o_req_t *req, ztp_auth_cb cb, void *arg)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    char id[ZTP_APIKEY_ID_LEN + 1];
    pending_t *p;
    h2o_iovec_t v;

    if (i < 0) {
        char token[ZTP_TOKEN_LEN + 1];
        if (ztp_session_cookie_of(req, token) == 0) {
            ztp_session_authenticate(req, token, cb, arg);
            sodium_memzero(token, sizeof(token));
            return;
        }
        free(arg);
        unauthorized(req, "an API key (Authorization: Bearer <api_key>) or a session cookie is required");
        return;
    }
    v = req->headers.entries[i].value;
    if (v.len < 7 || strncasecmp(v.base, "Bearer ", 7) != 0 ||
        ztp_apikey_parse(v.base + 7, v.len - 7, id) != 0) {
        free(arg);
        unauthorized(req, "malformed API key");
        return;
    }
    p = calloc(1, sizeof(*p));
    p->cb = cb;
    p->arg = arg;
    memcpy(p->key, v.base + 7, ZTP_APIKEY_LEN);
    p->hold = ztp_http_hold(req);
    const char *params[1] = {id};
    ztp_db_unit_t *u = ztp_db_unit_new(ZTP_DB_SHARED, on_key, p);
    ztp_db_unit_add(u, &SQL_KEY_LOOKUP, params, NULL);
    ztp_db_submit(ztp_self->db, u);
}

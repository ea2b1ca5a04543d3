/* /v1/activation-codes: issued here, shown once, kept only as keyed hashes. */
#include "codes.h"

#include "../activation/code.h"
#include "../redirect/mac.h"
#include "../services/buf.h"
#include "../services/config.h"
#include "../services/http.h"
#include "../services/secret.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COUNT 1000
#define MIN_EXPIRES 60
#define MAX_EXPIRES 2592000
#define DEFAULT_EXPIRES 604800

ZTP_SQL(SQL_CREATE, 7, "SELECT * FROM ztp_codes_create($1::uuid, $2::macaddr, $3::int, $4, $5, $6, $7::int)");
ZTP_SQL(SQL_LIST, 1, "SELECT * FROM ztp_codes_list($1)");
ZTP_SQL(SQL_REVOKE, 1, "SELECT * FROM ztp_code_revoke($1::uuid)");

typedef struct issued {
    int count;
    char codes[][ZTP_CODE_DIGITS + 1];
} issued_t;

/* Puts each plaintext code beside its stored row; they leave only here. */
static void on_created(h2o_req_t *req, int status, const char *body, void *arg)
{
    issued_t *iss = arg;
    json_t *o, *items;
    if (status != 201 || (o = json_loads(body, 0, NULL)) == NULL) {
        ztp_tenant_answer(req, status, body);
    } else {
        items = json_object_get(o, "items");
        for (int i = 0; i < iss->count && i < (int)json_array_size(items); i++)
            json_object_set_new(json_array_get(items, (size_t)i), "code", json_string(iss->codes[i]));
        ztp_http_json(req, 201, o);
    }
    sodium_memzero(iss->codes, sizeof(iss->codes[0]) * (size_t)iss->count);
}

static int int_field(json_t *body, const char *name, int def, int lo, int hi, int *out, json_t *errors)
{
    json_t *v = json_object_get(body, name);
    char detail[96];
    if (v == NULL || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        snprintf(detail, sizeof(detail), "must be an integer from %d to %d", lo, hi);
        ztp_errors_add(errors, name, detail);
        return -1;
    }
    *out = (int)json_integer_value(v);
    return 0;
}

void ztp_codes_create(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    json_t *body = ztp_json_body(req, 0), *errors, *v;
    const char *profile = NULL;
    char mac_text[13], count_text[16], expires_text[16], max_text[16], secret_id[17];
    const char *mac = NULL;
    int count, expires;
    uint8_t macbin[6];

    if (body == NULL)
        return;
    errors = json_array();
    v = json_object_get(body, "profile_id");
    if (json_is_string(v) && ztp_uuid_ok(json_string_value(v), json_string_length(v)))
        profile = json_string_value(v);
    else
        ztp_errors_add(errors, "profile_id", "is required: a profile id");
    v = json_object_get(body, "mac");
    if (v != NULL && !json_is_null(v)) {
        if (json_is_string(v) && ztp_mac_parse(json_string_value(v), json_string_length(v), macbin) == 0) {
            ztp_mac_format(macbin, mac_text);
            mac = mac_text;
        } else {
            ztp_errors_add(errors, "mac", "must be a unicast MAC address or null");
        }
    }
    int_field(body, "count", 1, 1, MAX_COUNT, &count, errors);
    int_field(body, "expires_in", DEFAULT_EXPIRES, MIN_EXPIRES, MAX_EXPIRES, &expires, errors);
    if (ztp_errors_answer(req, errors)) {
        json_decref(body);
        return;
    }

    issued_t *iss = malloc(sizeof(*iss) + sizeof(iss->codes[0]) * (size_t)count);
    ztp_buf_t hashes = {0}, last4 = {0};
    iss->count = count;
    for (int i = 0; i < count; i++) {
        char hash[65];
        ztp_code_generate(iss->codes[i]);
        ztp_code_hash_hex(iss->codes[i], hash);
        if (i > 0) {
            ztp_buf_puts(&hashes, ",");
            ztp_buf_puts(&last4, ",");
        }
        ztp_buf_puts(&hashes, hash);
        ztp_buf_append(&last4, iss->codes[i] + ZTP_CODE_DIGITS - 4, 4);
    }
    snprintf(count_text, sizeof(count_text), "%d", count);
    snprintf(expires_text, sizeof(expires_text), "%d", expires);
    snprintf(max_text, sizeof(max_text), "%d", ztp_config.max_active_codes);
    ztp_secret_key_id(ZTP_SECRET_ACTIVATION_CODE, secret_id);
    const char *p[7] = {profile, mac, expires_text, hashes.p, last4.p, secret_id, max_text};
    ztp_tenant_call(req, who, &SQL_CREATE, p, on_created, iss);
    ztp_buf_free(&hashes);
    ztp_buf_free(&last4);
    json_decref(body);
}

void ztp_codes_list(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    const char *state = ztp_http_query(req, "state");
    if (state != NULL && *state == '\0')
        state = NULL;
    if (state != NULL && strcmp(state, "active") != 0 && strcmp(state, "redeemed") != 0 &&
        strcmp(state, "expired") != 0 && strcmp(state, "revoked") != 0) {
        json_t *errors = json_array();
        ztp_errors_add(errors, "state", "must be active, redeemed, expired or revoked");
        ztp_errors_answer(req, errors);
        return;
    }
    ztp_tenant_call(req, who, &SQL_LIST, &state, NULL, NULL);
}

void ztp_codes_revoke(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    const char *id;
    if (!ztp_uuid_ok(m->params[0].base, m->params[0].len)) {
        ztp_http_problem(req, 404, "no such activation code");
        return;
    }
    id = ztp_param(req, m->params[0]);
    ztp_tenant_call(req, who, &SQL_REVOKE, &id, NULL, NULL);
}

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

ZTP_SQL(SQL_CREATE, 10,
        "SELECT r.status, r.body, ztp_idem_store('activation-codes', $8, $9, $10, r.status, r.body)"
        " FROM ztp_codes_create($1::uuid, $2::macaddr, $3::int, $4, $5, $6, $7::int) r");
ZTP_SQL(SQL_LIST, 3, "SELECT * FROM ztp_codes_list($1, $2::text, $3::int)");
ZTP_SQL(SQL_REVOKE, 1, "SELECT * FROM ztp_code_revoke($1::uuid)");

/* What a validated POST /v1/activation-codes asks for. */
typedef struct order {
    char profile[37];
    char mac[13]; /* empty: not bound */
    int count;
    int expires;
    unsigned char nonce[ZTP_CODE_NONCE_LEN];
} order_t;

/* Puts each code, derived again from the nonce, beside its row: the only
 * place a code ever appears. */
static void answer_with_codes(h2o_req_t *req, int status, const char *body, ztp_secret_gen_t gen,
                              const unsigned char *nonce)
{
    json_t *o, *items;
    if (status != 201 || nonce == NULL || (o = json_loads(body, 0, NULL)) == NULL) {
        ztp_tenant_answer(req, status, body);
        return;
    }
    items = json_object_get(o, "items");
    for (size_t i = 0; i < json_array_size(items); i++) {
        char code[ZTP_CODE_DIGITS + 1];
        ztp_code_derive(gen, nonce, (unsigned)i, code);
        json_object_set_new(json_array_get(items, i), "code", json_string(code));
        sodium_memzero(code, sizeof(code));
    }
    ztp_http_json(req, 201, o);
}

static void on_created(h2o_req_t *req, int status, const char *body, void *arg)
{
    order_t *o = arg;
    answer_with_codes(req, status, body, ZTP_SECRET_CURRENT, o->nonce);
}

/* The codes are derived again under the secret that made them, current or
 * previous; under neither, they are gone. */
static void on_replay(h2o_req_t *req, int status, const char *body, const char *kept, void *arg)
{
    unsigned char nonce[ZTP_CODE_NONCE_LEN];
    ztp_secret_gen_t gen;
    int r = status == 201 ? ztp_code_kept_parse(kept, nonce, &gen) : -1;

    if (r == -2)
        ztp_http_problem(req, 409, "these codes were issued under a ZTP_SECRET that is no longer configured");
    else if (r < 0)
        ztp_tenant_answer(req, status, body);
    else
        answer_with_codes(req, status, body, gen, nonce);
}

static void on_fresh(h2o_req_t *req, const ztp_auth_t *who, const ztp_idem_t *idem, void *arg)
{
    order_t *o = arg;
    char count_text[16], expires_text[16], max_text[16], secret_id[17], kept[ZTP_CODE_KEPT_LEN];
    ztp_buf_t hashes = {0}, last4 = {0};

    randombytes_buf(o->nonce, sizeof(o->nonce));
    ztp_secret_key_id(ZTP_SECRET_CURRENT, secret_id);
    ztp_code_kept_format(o->nonce, kept);
    for (int i = 0; i < o->count; i++) {
        char code[ZTP_CODE_DIGITS + 1], hash[65];
        ztp_code_derive(ZTP_SECRET_CURRENT, o->nonce, (unsigned)i, code);
        ztp_code_hash_hex(ZTP_SECRET_CURRENT, code, hash);
        if (i > 0) {
            ztp_buf_puts(&hashes, ",");
            ztp_buf_puts(&last4, ",");
        }
        ztp_buf_puts(&hashes, hash);
        ztp_buf_append(&last4, code + ZTP_CODE_DIGITS - 4, 4);
        sodium_memzero(code, sizeof(code));
    }
    snprintf(count_text, sizeof(count_text), "%d", o->count);
    snprintf(expires_text, sizeof(expires_text), "%d", o->expires);
    snprintf(max_text, sizeof(max_text), "%d", ztp_config.max_active_codes);
    const char *p[10] = {o->profile,
                         o->mac[0] ? o->mac : NULL,
                         expires_text,
                         hashes.p,
                         last4.p,
                         secret_id,
                         max_text,
                         idem ? idem->key : NULL,
                         idem ? idem->hash : NULL,
                         kept};
    ztp_tenant_call(req, who, &SQL_CREATE, p, on_created, o);
    ztp_buf_free(&hashes);
    ztp_buf_free(&last4);
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
    order_t *o;
    uint8_t macbin[6];

    if (body == NULL)
        return;
    o = calloc(1, sizeof(*o));
    errors = json_array();
    v = json_object_get(body, "profile_id");
    if (json_is_string(v) && ztp_uuid_ok(json_string_value(v), json_string_length(v)))
        memcpy(o->profile, json_string_value(v), 37);
    else
        ztp_errors_add(errors, "profile_id", "is required: a profile id");
    v = json_object_get(body, "mac");
    if (v != NULL && !json_is_null(v)) {
        if (json_is_string(v) && ztp_mac_parse(json_string_value(v), json_string_length(v), macbin) == 0)
            ztp_mac_format(macbin, o->mac);
        else
            ztp_errors_add(errors, "mac", "must be a unicast MAC address or null");
    }
    int_field(body, "count", 1, 1, MAX_COUNT, &o->count, errors);
    int_field(body, "expires_in", DEFAULT_EXPIRES, MIN_EXPIRES, MAX_EXPIRES, &o->expires, errors);
    json_decref(body);
    if (ztp_errors_answer(req, errors)) {
        free(o);
        return;
    }
    ztp_idem_begin(req, who, "activation-codes", on_fresh, on_replay, o);
}

/* One page, oldest first: `limit` 1 to 1000 (100), `cursor` the
 * next_cursor of the page before. */
void ztp_codes_list(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    static const char *const states[] = {"active", "redeemed", "expired", "revoked", NULL};
    (void)m;
    ztp_list_page(req, who, &SQL_LIST, states, "must be active, redeemed, expired or revoked");
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

/* /v1/transfers: devices handed from one provider to another. The code is
 * made and kept exactly as activation codes are (admin-api/codes.c): derived
 * from a random nonce under ZTP_SECRET, shown once, stored as a keyed hash
 * with its last four digits; an Idempotency-Key replay derives it again. */
#include "transfers.h"

#include "../activation/code.h"
#include "../services/buf.h"
#include "../services/http.h"
#include "../services/secret.h"
#include "maclist.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define MIN_EXPIRES 60
#define MAX_EXPIRES 2592000
#define DEFAULT_EXPIRES 604800
/* 100,000 devices are moved, or checked, in one transaction: seconds when
 * idle, a minute or more on a loaded machine */
#define FLEET_TIMEOUT_MS 600000

ZTP_SQL(SQL_CREATE, 8,
        "SELECT r.status, r.body, ztp_idem_store('transfers', $6, $7, $8, r.status, r.body)"
        " FROM ztp_transfer_create($1, $2::int, $3, $4, $5) r");
ZTP_SQL(SQL_LIST, 3, "SELECT * FROM ztp_transfer_page($1, $2, $3::int)");
ZTP_SQL(SQL_GET, 3, "SELECT * FROM ztp_transfer_get($1::uuid, $2::int, $3::int)");
ZTP_SQL(SQL_CANCEL, 1, "SELECT * FROM ztp_transfer_cancel($1::uuid)");
ZTP_SQL(SQL_ACCEPT, 3, "SELECT * FROM ztp_transfer_accept($1, $2, $3::uuid)");

/* What a validated POST /v1/transfers asks for; one allocation, so that
 * whoever frees it with free() (tenant.h's contract) frees it all. */
typedef struct order {
    int expires;
    unsigned char nonce[ZTP_CODE_NONCE_LEN];
    char macs[]; /* comma-joined canonical MACs */
} order_t;

/* Puts the code, derived again from the nonce, into the answer: the only
 * place it ever appears. */
static void answer_with_code(h2o_req_t *req, int status, const char *body, ztp_secret_gen_t gen,
                             const unsigned char *nonce)
{
    char code[ZTP_CODE_DIGITS + 1];
    json_t *o;

    if (status != 201 || (o = json_loads(body, 0, NULL)) == NULL) {
        ztp_tenant_answer(req, status, body);
        return;
    }
    ztp_code_derive(gen, nonce, 0, code);
    json_object_set_new(o, "code", json_string(code));
    sodium_memzero(code, sizeof(code));
    ztp_http_json(req, 201, o);
}

static void on_created(h2o_req_t *req, int status, const char *body, void *arg)
{
    order_t *o = arg;
    answer_with_code(req, status, body, ZTP_SECRET_CURRENT, o->nonce);
}

static void on_replay(h2o_req_t *req, int status, const char *body, const char *kept, void *arg)
{
    unsigned char nonce[ZTP_CODE_NONCE_LEN];
    ztp_secret_gen_t gen;
    int r = status == 201 ? ztp_code_kept_parse(kept, nonce, &gen) : -1;

    if (r == -2)
        ztp_http_problem(req, 409, "this transfer was made under a ZTP_SECRET that is no longer configured");
    else if (r < 0)
        ztp_tenant_answer(req, status, body);
    else
        answer_with_code(req, status, body, gen, nonce);
}

static void on_fresh(h2o_req_t *req, const ztp_auth_t *who, const ztp_idem_t *idem, void *arg)
{
    order_t *o = arg;
    char code[ZTP_CODE_DIGITS + 1], hash[65], expires_text[16], secret_id[17], kept[ZTP_CODE_KEPT_LEN];

    randombytes_buf(o->nonce, sizeof(o->nonce));
    ztp_secret_key_id(ZTP_SECRET_CURRENT, secret_id);
    ztp_code_kept_format(o->nonce, kept);
    ztp_code_derive(ZTP_SECRET_CURRENT, o->nonce, 0, code);
    ztp_code_hash_hex(ZTP_SECRET_CURRENT, code, hash);
    snprintf(expires_text, sizeof(expires_text), "%d", o->expires);
    const char *p[8] = {o->macs,
                        expires_text,
                        hash,
                        code + ZTP_CODE_DIGITS - 4,
                        secret_id,
                        idem ? idem->key : NULL,
                        idem ? idem->hash : NULL,
                        kept};
    ztp_tenant_call_timeout(req, who, &SQL_CREATE, p, on_created, o, FLEET_TIMEOUT_MS);
    sodium_memzero(code, sizeof(code));
}

void ztp_transfers_create(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    json_t *body = ztp_json_body(req, 0), *errors, *v;
    ztp_buf_t macs = {0};
    int expires = DEFAULT_EXPIRES;
    order_t *o;

    if (body == NULL)
        return;
    errors = json_array();
    ztp_maclist_read(body, "macs", 1, 1, &macs, errors);
    v = json_object_get(body, "expires_in");
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < MIN_EXPIRES || json_integer_value(v) > MAX_EXPIRES)
            ztp_errors_add(errors, "expires_in", "must be an integer from 60 to 2592000");
        else
            expires = (int)json_integer_value(v);
    }
    json_decref(body);
    if (ztp_errors_answer(req, errors)) {
        ztp_buf_free(&macs);
        return;
    }
    o = calloc(1, sizeof(*o) + macs.len + 1);
    if (o == NULL)
        abort();
    o->expires = expires;
    memcpy(o->macs, macs.p, macs.len);
    ztp_buf_free(&macs);
    ztp_idem_begin(req, who, "transfers", on_fresh, on_replay, o);
}

/* One page, oldest first: `limit` 1 to 1000 (100), `cursor` the
 * next_cursor of the page before. */
void ztp_transfers_list(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    static const char *const states[] = {"open", "accepted", "expired", "cancelled", NULL};
    (void)m;
    ztp_list_page(req, who, &SQL_LIST, states, "must be open, accepted, expired or cancelled");
}

/* The transfer id of the path, or NULL after answering 404. */
static const char *path_id(h2o_req_t *req, const ztp_match_t *m)
{
    if (!ztp_uuid_ok(m->params[0].base, m->params[0].len)) {
        ztp_http_problem(req, 404, "no such transfer");
        return NULL;
    }
    return ztp_param(req, m->params[0]);
}

/* The transfer and one page of its MACs: the cursor is the position of the
 * last MAC of the page before (1 to 99,999). */
void ztp_transfers_get(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    const char *id = path_id(req, m), *cursor = ztp_http_query(req, "cursor");
    json_t *errors;
    char limit_text[8], *end;
    long after = 0;

    if (id == NULL)
        return;
    errors = json_array();
    if (cursor != NULL && *cursor == '\0')
        cursor = NULL;
    if (cursor != NULL && (strlen(cursor) > 5 || (after = strtol(cursor, &end, 10)) < 1 || *end != '\0' ||
                           after >= ZTP_MACLIST_MAX || cursor[0] == '0'))
        ztp_errors_add(errors, "cursor", "is not a cursor this API returned");
    ztp_query_limit(req, errors, limit_text);
    if (ztp_errors_answer(req, errors))
        return;
    const char *p[3] = {id, cursor, limit_text};
    ztp_tenant_call(req, who, &SQL_GET, p, NULL, NULL);
}

void ztp_transfers_cancel(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    const char *id = path_id(req, m);
    if (id != NULL)
        ztp_tenant_call(req, who, &SQL_CANCEL, &id, NULL, NULL);
}

/* 429 carries the time left in the provider's window as Retry-After. */
static void on_accepted(h2o_req_t *req, int status, const char *body, void *arg)
{
    json_t *o;
    char seconds[24];

    if (status != 429 || (o = json_loads(body, 0, NULL)) == NULL) {
        ztp_tenant_answer(req, status, body);
        return;
    }
    snprintf(seconds, sizeof(seconds), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(o, "retry_after")));
    json_object_del(o, "retry_after");
    ztp_http_header(req, H2O_TOKEN_RETRY_AFTER, seconds);
    ztp_http_problem_with(req, 429, NULL, o);
}

void ztp_transfers_accept(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    json_t *body = ztp_json_body(req, 0), *v, *errors;
    char digits[ZTP_CODE_DIGITS + 1], hash[65], hash_previous[65];
    const char *code, *profile = NULL;
    int rotating;

    if (body == NULL)
        return;
    code = json_string_value(json_object_get(body, "code"));
    if (code == NULL || ztp_code_normalise(code, strlen(code), digits) != ZTP_CODE_ACTIVATION) {
        errors = json_array();
        ztp_errors_add(errors, "code", "must be the 16 digits of a transfer code");
        ztp_http_problem_errors(req, 400, "malformed transfer code", errors);
        json_decref(body);
        return;
    }
    v = json_object_get(body, "profile_id");
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_string(v) || !ztp_uuid_ok(json_string_value(v), json_string_length(v))) {
            errors = json_array();
            ztp_errors_add(errors, "profile_id", "must be a profile id or null");
            ztp_errors_answer(req, errors);
            json_decref(body);
            return;
        }
        profile = json_string_value(v);
    }
    /* a transfer made before a rotation of ZTP_SECRET is hashed under the previous one */
    ztp_code_hash_hex(ZTP_SECRET_CURRENT, digits, hash);
    rotating = ztp_code_hash_hex(ZTP_SECRET_PREVIOUS, digits, hash_previous) == 0;
    sodium_memzero(digits, sizeof(digits));
    const char *p[3] = {hash, rotating ? hash_previous : NULL, profile};
    ztp_tenant_call_timeout(req, who, &SQL_ACCEPT, p, on_accepted, NULL, FLEET_TIMEOUT_MS);
    json_decref(body);
}

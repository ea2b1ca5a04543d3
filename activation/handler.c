/*
 * POST /activate: a code typed on the phone binds it to a provider.
 *
 * Failed attempts are counted in memory per source address and per MAC
 * (limiter.c) before anything reaches the database, so guessing costs the
 * database nothing once the limit is reached, and a correct code is refused
 * too while the limit holds.
 */
#include "handler.h"
#include "code.h"
#include "limiter.h"

#include "../redirect/certmac.h"
#include "../redirect/handler.h"
#include "../redirect/mac.h"
#include "../services/db.h"
#include "../services/http.h"
#include "../services/log.h"
#include "../services/metrics.h"
#include "../services/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LIMITER_CAPACITY (1u << 16)
#define SWEEP_MS (3600 * 1000)

ZTP_SQL(SQL_REDEEM_CODE, 5,
        "SELECT outcome, profile_rule, upgrade_rule, params::text, model"
        " FROM ztp_redeem_code($1, $2, $3::macaddr, $4, $5::boolean)");
ZTP_SQL(SQL_REDEEM_SHORT, 4,
        "SELECT outcome, profile_rule, upgrade_rule, params::text, model FROM ztp_redeem_short($1, "
        "$2::macaddr, $3, $4::boolean)");
ZTP_SQL(SQL_SWEEP, 1, "SELECT ztp_codes_sweep($1::int) + ztp_idem_sweep()");

enum {
    AC_OK,
    AC_BAD,
    AC_FORBIDDEN,
    AC_NOT_FOUND,
    AC_CONFLICT,
    AC_GONE,
    AC_LIMITED,
    AC_UNAVAILABLE,
    AC_COUNT
};
static const char *const outcome_labels[AC_COUNT] = {
    "outcome=\"ok\"",       "outcome=\"bad_request\"", "outcome=\"forbidden\"",    "outcome=\"not_found\"",
    "outcome=\"conflict\"", "outcome=\"gone\"",        "outcome=\"rate_limited\"", "outcome=\"unavailable\""};
static int outcome_metric[AC_COUNT];
static int failures_metric;
static ztp_limiter_t *limiter;

typedef struct redeem {
    ztp_hold_t *hold;
    int json;
    unsigned char addr[16];
    uint8_t mac[6];
    char mac_text[13];
    char model[48];
} redeem_t;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Answers a failed attempt and counts it against the address and the MAC. */
static void refuse(h2o_req_t *req, int outcome, int status, const char *detail, const unsigned char addr[16],
                   const uint8_t *mac)
{
    ztp_limiter_fail(limiter, addr, mac, now_ms());
    ztp_metrics_inc(outcome_metric[outcome]);
    ztp_metrics_inc(failures_metric);
    ztp_http_problem(req, status, detail);
}

static void on_redeemed(void *arg, const ztp_db_res_t *res)
{
    redeem_t *r = arg;
    h2o_req_t *req = ztp_http_release(r->hold);
    PGresult *pg;
    const char *outcome;

    if (req == NULL)
        goto done;
    if (res->status != ZTP_DB_OK) {
        ztp_metrics_inc(outcome_metric[AC_UNAVAILABLE]);
        ztp_http_unavailable(req);
        goto done;
    }
    pg = res->results[0];
    outcome = PQntuples(pg) == 1 ? PQgetvalue(pg, 0, 0) : "not_found";
    if (strcmp(outcome, "ok") == 0) {
        ztp_metrics_inc(outcome_metric[AC_OK]);
        const char *model = ztp_db_val(pg, 0, 4);
        ztp_redirect_send_profile(req, r->json, r->mac_text, model ? model : r->model, "",
                                  ztp_db_val(pg, 0, 1), ztp_db_val(pg, 0, 2), ztp_db_val(pg, 0, 3));
    } else if (strcmp(outcome, "certificate") == 0) {
        /* its profile answers only a certificate naming it: said like any refusal */
        refuse(req, AC_FORBIDDEN, 403, "this code cannot be redeemed by this device", r->addr, r->mac);
    } else if (strcmp(outcome, "forbidden") == 0) {
        refuse(req, AC_FORBIDDEN, 403, "this code is bound to another device", r->addr, r->mac);
    } else if (strcmp(outcome, "conflict") == 0) {
        refuse(req, AC_CONFLICT, 409, "this device belongs to another provider", r->addr, r->mac);
    } else if (strcmp(outcome, "gone") == 0) {
        refuse(req, AC_GONE, 410, "this code has expired, was revoked, or was used by another device",
               r->addr, r->mac);
    } else {
        refuse(req, AC_NOT_FOUND, 404, "no such code", r->addr, r->mac);
    }
done:
    free(r);
}

/* Reads code, mac and model from a JSON or form body into pool strings. */
static int read_body(h2o_req_t *req, const char **code, const char **mac, const char **model)
{
    const char *base = req->entity.base;
    size_t len = req->entity.base ? req->entity.len : 0;

    *code = *mac = *model = NULL;
    if (ztp_http_content_type_is(req, "application/x-www-form-urlencoded"))
        return ztp_http_form_get(&req->pool, base, len, "code", code) != 0 ||
                       ztp_http_form_get(&req->pool, base, len, "mac", mac) != 0 ||
                       ztp_http_form_get(&req->pool, base, len, "model", model) != 0
                   ? -1
                   : 0;
    json_t *o = json_loadb(base ? base : "", len, JSON_REJECT_DUPLICATES, NULL);
    const char *fields[3] = {"code", "mac", "model"};
    const char **outs[3] = {code, mac, model};
    if (!json_is_object(o)) {
        json_decref(o);
        return -1;
    }
    for (int i = 0; i < 3; i++) {
        json_t *v = json_object_get(o, fields[i]);
        if (v == NULL || json_is_null(v))
            continue;
        if (!json_is_string(v)) {
            json_decref(o);
            return -1;
        }
        *outs[i] = h2o_strdup(&req->pool, json_string_value(v), SIZE_MAX).base;
    }
    json_decref(o);
    return 0;
}

static void on_activate(h2o_req_t *req, const ztp_match_t *m)
{
    const char *code, *mac, *model;
    char addr_text[64], digits[ZTP_CODE_DIGITS + 1], hash[65], hash_previous[65];
    unsigned char addr[16];
    uint8_t macbin[6];
    int have_mac, kind;
    uint64_t wait;
    redeem_t *r;

    if (ztp_http_client_addr(req, addr_text, sizeof(addr_text), addr) != 0)
        memset(addr, 0, sizeof(addr));
    if (read_body(req, &code, &mac, &model) != 0) {
        refuse(req, AC_BAD, 400, "send code and mac as JSON or as a form", addr, NULL);
        return;
    }
    have_mac = mac != NULL && ztp_mac_parse(mac, strlen(mac), macbin) == 0;
    if ((wait = ztp_limiter_check(limiter, addr, have_mac ? macbin : NULL, now_ms())) > 0) {
        char secs[24];
        snprintf(secs, sizeof(secs), "%lu", (unsigned long)((wait + 999) / 1000));
        ztp_metrics_inc(outcome_metric[AC_LIMITED]);
        ztp_http_header(req, H2O_TOKEN_RETRY_AFTER, secs);
        ztp_http_problem(req, 429, "too many failed attempts; wait before trying again");
        return;
    }
    if (!have_mac) {
        refuse(req, AC_BAD, 400, "mac is missing or not a unicast MAC address", addr, NULL);
        return;
    }
    kind = code != NULL ? ztp_code_normalise(code, strlen(code), digits) : ZTP_CODE_INVALID;
    if (kind == ZTP_CODE_INVALID) {
        refuse(req, AC_BAD, 400, "code must be 16 digits, or # and 3 to 16 digits", addr, macbin);
        return;
    }
    if (model != NULL && (strlen(model) >= sizeof(r->model) || !model[0]))
        model = NULL;
    for (const char *p = model; p != NULL && *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            model = NULL;

    r = calloc(1, sizeof(*r));
    r->json = ztp_redirect_wants_json(req, 1);
    memcpy(r->addr, addr, sizeof(addr));
    memcpy(r->mac, macbin, sizeof(macbin));
    ztp_mac_format(macbin, r->mac_text);
    if (model != NULL)
        strcpy(r->model, model);
    const char *certified = ztp_certmac_names(req, macbin) ? "t" : "f";
    ztp_db_unit_t *u = ztp_db_unit_new(ZTP_DB_SHARED, on_redeemed, r);
    if (kind == ZTP_CODE_ACTIVATION) {
        /* a code issued before a rotation of ZTP_SECRET is hashed under the previous one */
        ztp_code_hash_hex(ZTP_SECRET_CURRENT, digits, hash);
        int rotating = ztp_code_hash_hex(ZTP_SECRET_PREVIOUS, digits, hash_previous) == 0;
        const char *params[5] = {hash, rotating ? hash_previous : NULL, r->mac_text, model, certified};
        ztp_db_unit_add(u, &SQL_REDEEM_CODE, params, NULL);
    } else {
        const char *params[4] = {digits, r->mac_text, model, certified};
        ztp_db_unit_add(u, &SQL_REDEEM_SHORT, params, NULL);
    }
    r->hold = ztp_http_hold(req);
    ztp_db_submit(ztp_self->db, u);
}

/* ---- the sweep of codes that ended long ago (thread 0, hourly) ---- */

static h2o_timeout_t sweep_timeout;
static h2o_timeout_entry_t sweep_entry;

static void on_swept(void *arg, const ztp_db_res_t *res)
{
    (void)arg;
    if (res->status == ZTP_DB_OK && atol(PQgetvalue(res->results[0], 0, 0)) > 0)
        ztp_log_info("swept %s old activation codes and idempotency keys", PQgetvalue(res->results[0], 0, 0));
}

static void on_sweep(h2o_timeout_entry_t *e)
{
    char days[16];
    const char *params[1] = {days};
    snprintf(days, sizeof(days), "%d", ztp_config.code_retention_days);
    ztp_db_unit_t *u = ztp_db_unit_new(0, on_swept, NULL);
    ztp_db_unit_add(u, &SQL_SWEEP, params, NULL);
    ztp_db_submit(ztp_self->db, u);
    if (!ztp_self->stopping)
        h2o_timeout_link(ztp_self->ctx.loop, &sweep_timeout, &sweep_entry);
}

static void on_thread_init(ztp_thread_t *t)
{
    if (t->index != 0)
        return;
    sweep_entry.cb = on_sweep;
    h2o_timeout_init(t->ctx.loop, &sweep_timeout, SWEEP_MS);
    h2o_timeout_link(t->ctx.loop, &sweep_timeout, &sweep_entry);
}

void ztp_activation_register(size_t max_body)
{
    limiter = ztp_limiter_new(LIMITER_CAPACITY);
    for (int i = 0; i < AC_COUNT; i++)
        outcome_metric[i] = ztp_metrics_counter("ztp_activations_total", "Activation attempts by outcome.",
                                                outcome_labels[i]);
    failures_metric = ztp_metrics_counter("ztp_activation_failures_total",
                                          "Failed activation attempts (every 4xx but 429).", "kind=\"any\"");
    ztp_router_add("POST", "/activate", on_activate, max_body, NULL);
    ztp_server_on_thread_init(on_thread_init);
}

/*
 * POST /activate: a code typed on the phone binds it to a provider.
 *
 * Attempts are counted in memory per source (an IPv4 address, an IPv6 /64)
 * and per MAC (services/limiter.c) as they arrive, before anything reaches
 * the database: each takes a failure slot, given back when it succeeds. So
 * however many guesses arrive at once, at most ZTP_ACTIVATION_FAILURES get
 * past the limit per window; guessing costs the database nothing once it is
 * reached, and a correct code is refused too while it holds.
 *
 * An IPv6 source is also counted by its /48 (NET_FAILURES): one site holds
 * 65,536 /64s, enough to fill the tables with blocked entries, and a full
 * table refuses newcomers (it fails closed): so one /48 blocks at most 16
 * MACs and 16 /64s of its own, not every phone's activation.
 */
#include "handler.h"
#include "code.h"

#include "../redirect/certmac.h"
#include "../redirect/handler.h"
#include "../redirect/mac.h"
#include "../services/db.h"
#include "../services/http.h"
#include "../services/limiter.h"
#include "../services/log.h"
#include "../services/metrics.h"
#include "../services/pgarray.h"
#include "../services/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIMITER_CAPACITY (1u << 16)
#define ZTP_ACTIVATION_FAILURES 10
#define NET_FAILURES (16 * ZTP_ACTIVATION_FAILURES)
#define WINDOW_MS (15 * 60 * 1000)
#define MIN_BLOCK_MS (60 * 1000)

/* The redemptions a loop thread gathered in one loop iteration, in one
 * statement (migration 0017): arrays in, one row per request out by
 * ordinality, each redemption run by the rules of one alone, in order. */
#define NCOLS 6
#define MAX_BATCH 256
/* While a thread's batch is in flight, its new redemptions wait and the next
 * batch grows: under load, batches get larger and commits fewer. */
#define MAX_INFLIGHT 1
ZTP_SQL(
    SQL_REDEEM_BATCH, NCOLS,
    "SELECT ord, outcome, profile_rule, upgrade_rule, params::text, model, token_key"
    " FROM ztp_redeem_batch($1::text[], $2::text[], $3::text[], $4::macaddr[], $5::text[], $6::boolean[])");
/* what ended ZTP_CODE_RETENTION_DAYS ago goes, transfer codes and revoked API keys as codes; the audit
 * trail after ZTP_AUDIT_RETENTION_DAYS, when set (0041) */
ZTP_SQL(SQL_SWEEP, 2, "SELECT ztp_sweep($1::int, $2::int)");
/* A sweep deletes up to 100,000 audit events and every row that ended:
 * seconds, where ZTP_DB_TIMEOUT_MS is set for requests that wait. */
#define SWEEP_TIMEOUT_MS (10 * 60 * 1000)

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
static ztp_limiter_t *by_addr, *by_net, *by_mac;

typedef struct redeem {
    ztp_hold_t *hold;
    int json;
    unsigned char addr[16]; /* the limiter's key: /64 folded */
    unsigned char net[16];  /* an IPv6 source's /48 */
    int has_net;
    uint64_t reserved_at;
    uint8_t mac[6];
    char mac_text[13];
    char model[48];
    int has_model;
    char kind[2];      /* "c": a 16-digit code; "s": a short code */
    char code[65];     /* the code's hash (hex), or the short code's digits */
    char previous[65]; /* the code's hash under the previous secret, while rotating */
    int has_previous;
    char certified[2]; /* "t" when a verified certificate named the MAC */
    int alone;         /* its batch failed: it goes in a statement of its own */
} redeem_t;

/* The redemptions of one statement, answered in their order. */
typedef struct batch {
    size_t n;
    redeem_t *items[];
} batch_t;

/* A loop thread's redemptions waiting for the end of the loop iteration. */
typedef struct queue {
    redeem_t **items;
    size_t n, cap;
    uint64_t oldest; /* loop time of the first one waiting */
    int inflight;
    ztp_defer_t flush;
} queue_t;

static __thread queue_t *queue;

/* Takes a failure slot for the source, its network (when not NULL) and the
 * MAC (when not NULL). Returns 0, or the wait when one is over its limit
 * (then nothing is taken). */
static uint64_t reserve(const unsigned char addr[16], const unsigned char *net, const uint8_t *mac,
                        uint64_t now)
{
    uint64_t wait = ztp_limiter_reserve(by_addr, addr, now);
    if (wait > 0)
        return wait;
    if (net != NULL && (wait = ztp_limiter_reserve(by_net, net, now)) > 0) {
        ztp_limiter_refund(by_addr, addr, now, now);
        return wait;
    }
    if (mac != NULL && (wait = ztp_limiter_reserve(by_mac, mac, now)) > 0) {
        ztp_limiter_refund(by_addr, addr, now, now);
        if (net != NULL)
            ztp_limiter_refund(by_net, net, now, now);
    }
    return wait;
}

/* Gives the slots of an attempt that did not fail back. */
static void refund(const redeem_t *r)
{
    uint64_t now = ztp_limiter_clock();
    ztp_limiter_refund(by_addr, r->addr, r->reserved_at, now);
    if (r->has_net)
        ztp_limiter_refund(by_net, r->net, r->reserved_at, now);
    ztp_limiter_refund(by_mac, r->mac, r->reserved_at, now);
}

/* Answers a failed attempt, whose slots stay taken. */
static void refuse(h2o_req_t *req, int outcome, int status, const char *detail)
{
    ztp_metrics_inc(outcome_metric[outcome]);
    ztp_metrics_inc(failures_metric);
    ztp_http_problem(req, status, detail);
}

static void too_many(h2o_req_t *req, uint64_t wait, const char *detail)
{
    ztp_metrics_inc(outcome_metric[AC_LIMITED]);
    ztp_http_too_many(req, wait, detail);
}

/* The outcome column of the redeem functions. */
static int outcome_of(const char *text)
{
    static const struct {
        const char *text;
        int outcome;
    } names[] = {{"ok", AC_OK},
                 {"forbidden", AC_FORBIDDEN},
                 /* its profile answers only a certificate naming the device: said like any refusal */
                 {"certificate", AC_FORBIDDEN},
                 {"conflict", AC_CONFLICT},
                 {"gone", AC_GONE},
                 {"limited", AC_LIMITED}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(text, names[i].text) == 0)
            return names[i].outcome;
    return AC_NOT_FOUND;
}

/* Answers r from row `row` of pg (NULL: the database was not reached). */
static void answer(redeem_t *r, PGresult *pg, int row)
{
    h2o_req_t *req = ztp_http_release(r->hold);
    int outcome = pg == NULL ? AC_UNAVAILABLE : row >= 0 ? outcome_of(PQgetvalue(pg, row, 1)) : AC_NOT_FOUND;

    /* settled whether or not the client is still there */
    if (outcome == AC_OK || outcome == AC_UNAVAILABLE || outcome == AC_LIMITED)
        refund(r);
    if (req == NULL)
        goto done;
    switch (outcome) {
    case AC_OK: {
        const char *model = ztp_db_val(pg, row, 5);
        ztp_metrics_inc(outcome_metric[AC_OK]);
        ztp_redirect_send_profile(req, r->json, r->mac_text, model ? model : r->model, "",
                                  ztp_db_val(pg, row, 2), ztp_db_val(pg, row, 3), ztp_db_val(pg, row, 4),
                                  ztp_db_val(pg, row, 6));
        break;
    }
    case AC_UNAVAILABLE:
        ztp_metrics_inc(outcome_metric[AC_UNAVAILABLE]);
        ztp_http_unavailable(req);
        break;
    case AC_LIMITED:
        too_many(req, 0, "this short code has claimed as many new devices as it may this hour; retry later");
        break;
    case AC_FORBIDDEN: refuse(req, AC_FORBIDDEN, 403, "this code may not be used for this device"); break;
    case AC_CONFLICT: refuse(req, AC_CONFLICT, 409, "this device belongs to another provider"); break;
    case AC_GONE:
        refuse(req, AC_GONE, 410, "this code has expired, was revoked, or was used by another device");
        break;
    default: refuse(req, AC_NOT_FOUND, 404, "no such code"); break;
    }
done:
    free(r);
}

static void submit(redeem_t **items, size_t n, uint64_t since);
static void enqueue(redeem_t *r);
static void schedule(queue_t *q);

static void on_batch(void *arg, const ztp_db_res_t *res)
{
    batch_t *b = arg;
    PGresult *pg = res->status == ZTP_DB_OK ? res->results[0] : NULL;
    int *rows;

    if (--queue->inflight < MAX_INFLIGHT && queue->n > 0)
        schedule(queue);

    if (res->status == ZTP_DB_ERROR && b->n > 1) {
        /* the statement failed for one of them: each goes again in a
         * statement of its own, so that the others are answered as they
         * would have been; queued, so under the same cap on statements in
         * flight as any batch (not all at once) */
        ztp_log_error("activation batch of %zu failed (%s): each again alone", b->n,
                      res->sqlstate ? res->sqlstate : "?");
        for (size_t i = 0; i < b->n; i++) {
            b->items[i]->alone = 1;
            enqueue(b->items[i]);
        }
        free(b);
        return;
    }
    rows = malloc(sizeof(int) * (b->n ? b->n : 1));
    for (size_t i = 0; i < b->n; i++)
        rows[i] = -1;
    for (int i = 0; pg != NULL && i < PQntuples(pg); i++) {
        long ord = atol(PQgetvalue(pg, i, 0)) - 1;
        if (ord >= 0 && (size_t)ord < b->n && rows[ord] < 0)
            rows[ord] = i;
    }
    for (size_t i = 0; i < b->n; i++)
        answer(b->items[i], pg, rows[i]);
    free(rows);
    free(b);
}

/* Sends n redemptions as one statement. */
static void submit(redeem_t **items, size_t n, uint64_t since)
{
    ztp_pgarray_t cols[NCOLS] = {{{0}}};
    const char *params[NCOLS];
    batch_t *b = malloc(sizeof(*b) + sizeof(redeem_t *) * n);

    if (b == NULL)
        abort();
    b->n = n;
    memcpy(b->items, items, sizeof(redeem_t *) * n);
    for (size_t i = 0; i < n; i++) {
        redeem_t *r = items[i];
        ztp_pgarray_add(&cols[0], r->kind);
        ztp_pgarray_add(&cols[1], r->code);
        ztp_pgarray_add(&cols[2], r->has_previous ? r->previous : NULL);
        ztp_pgarray_add(&cols[3], r->mac_text);
        ztp_pgarray_add(&cols[4], r->has_model ? r->model : NULL);
        ztp_pgarray_add(&cols[5], r->certified);
    }
    for (int i = 0; i < NCOLS; i++)
        params[i] = ztp_pgarray_text(&cols[i]);
    ztp_db_unit_t *u = ztp_db_unit_new(ZTP_DB_SHARED, on_batch, b);
    ztp_db_unit_add(u, &SQL_REDEEM_BATCH, params, NULL); /* copies the params */
    ztp_db_unit_since(u, since);
    for (int i = 0; i < NCOLS; i++)
        ztp_pgarray_free(&cols[i]);
    ztp_db_submit(ztp_self->db, u);
}

/* Whether r may join the n redemptions of a batch: the statement redeems
 * 16-digit codes as a set, so no MAC and no such code twice (the repeat waits
 * for the next batch). A short code, redeemed one by one in the statement,
 * may come many times (a site's phones booting at once share one). */
static int joins(redeem_t *const *batch, size_t n, const redeem_t *r)
{
    if (r->alone || (n > 0 && batch[0]->alone))
        return n == 0;
    for (size_t i = 0; i < n; i++)
        if (memcmp(batch[i]->mac, r->mac, sizeof(r->mac)) == 0 ||
            (r->kind[0] == 'c' && batch[i]->kind[0] == 'c' && strcmp(batch[i]->code, r->code) == 0))
            return 0;
    return 1;
}

/* End of the loop iteration: what gathered goes out, up to MAX_BATCH. */
static void flush(ztp_defer_t *d)
{
    queue_t *q = queue;
    redeem_t **batch;
    size_t n = 0, left = 0;
    (void)d;

    if (q->n == 0 || q->inflight >= MAX_INFLIGHT)
        return;
    batch = malloc(sizeof(redeem_t *) * (q->n < MAX_BATCH ? q->n : MAX_BATCH));
    if (batch == NULL)
        abort();
    for (size_t i = 0; i < q->n; i++) {
        if (n < MAX_BATCH && joins(batch, n, q->items[i]))
            batch[n++] = q->items[i];
        else
            q->items[left++] = q->items[i];
    }
    q->n = left;
    q->inflight++;
    submit(batch, n, q->oldest);
    free(batch);
    if (q->n > 0)
        q->oldest = h2o_now(ztp_self->ctx.loop);
}

static void schedule(queue_t *q)
{
    ztp_server_defer(&q->flush);
}

static void enqueue(redeem_t *r)
{
    queue_t *q = queue;
    if (q == NULL) {
        q = queue = calloc(1, sizeof(*queue));
        if (q == NULL)
            abort();
        q->flush.cb = flush;
    }
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 64;
        q->items = realloc(q->items, sizeof(redeem_t *) * q->cap);
        if (q->items == NULL)
            abort();
    }
    if (q->n == 0)
        q->oldest = h2o_now(ztp_self->ctx.loop);
    q->items[q->n++] = r;
    schedule(q);
}

/* Reads code, mac and model from a JSON or form body into pool strings: 0,
 * -1 for a body that is neither, -2 for JSON sent as a form (`curl -d`). */
static int read_body(h2o_req_t *req, const char **code, const char **mac, const char **model)
{
    const char *base = req->entity.base;
    size_t len = req->entity.base ? req->entity.len : 0;

    *code = *mac = *model = NULL;
    if (ztp_http_content_type_is(req, "application/x-www-form-urlencoded")) {
        if (ztp_http_form_get(&req->pool, base, len, "code", code) != 0 ||
            ztp_http_form_get(&req->pool, base, len, "mac", mac) != 0 ||
            ztp_http_form_get(&req->pool, base, len, "model", model) != 0)
            return -1;
        size_t i = 0;
        while (i < len && (base[i] == ' ' || base[i] == '\t' || base[i] == '\r' || base[i] == '\n'))
            i++;
        return *code == NULL && *mac == NULL && i < len && base[i] == '{' ? -2 : 0;
    }
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
    char addr_text[64], digits[ZTP_CODE_DIGITS + 1];
    unsigned char addr[16], key[16], net[16] = {0};
    uint8_t macbin[6];
    int have_mac, have_body, have_net, kind, body;
    uint64_t wait, now = ztp_limiter_clock();
    redeem_t *r;

    if (ztp_http_client_addr(req, addr_text, sizeof(addr_text), addr) != 0)
        memset(addr, 0, sizeof(addr));
    ztp_limiter_addr_key(addr, key);
    have_net = ztp_limiter_net_key(addr, net);
    have_body = (body = read_body(req, &code, &mac, &model)) == 0;
    have_mac = have_body && mac != NULL && ztp_mac_parse(mac, strlen(mac), macbin) == 0;
    /* the attempt counts now, as a failure until it succeeds */
    if ((wait = reserve(key, have_net ? net : NULL, have_mac ? macbin : NULL, now)) > 0) {
        too_many(req, wait, "too many failed attempts; wait before trying again");
        return;
    }
    if (!have_body) {
        refuse(req, AC_BAD, 400,
               body == -2
                   ? "the body is JSON but its Content-Type says a form: send Content-Type: application/json"
                   : "send code and mac as JSON or as a form");
        return;
    }
    if (!have_mac) {
        refuse(req, AC_BAD, 400, "mac is missing or not a unicast MAC address");
        return;
    }
    kind = code != NULL ? ztp_code_normalise(code, strlen(code), digits) : ZTP_CODE_INVALID;
    if (kind == ZTP_CODE_INVALID) {
        refuse(req, AC_BAD, 400, "code must be 16 digits, or # and 3 to 16 digits");
        return;
    }
    if (model != NULL && (strlen(model) >= sizeof(r->model) || !model[0]))
        model = NULL;
    for (const char *p = model; p != NULL && *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            model = NULL;

    r = calloc(1, sizeof(*r));
    if (r == NULL)
        abort(); /* as h2o_mem_alloc does */
    r->json = ztp_redirect_wants_json(req, 1);
    memcpy(r->addr, key, sizeof(key));
    memcpy(r->net, net, sizeof(net));
    r->has_net = have_net;
    r->reserved_at = now;
    memcpy(r->mac, macbin, sizeof(macbin));
    ztp_mac_format(macbin, r->mac_text);
    if (model != NULL)
        strcpy(r->model, model);
    r->has_model = model != NULL;
    strcpy(r->certified, ztp_certmac_names(req, macbin) ? "t" : "f");
    if (kind == ZTP_CODE_ACTIVATION) {
        strcpy(r->kind, "c");
        /* a code issued before a rotation of ZTP_SECRET is hashed under the previous one */
        ztp_code_hash_hex(ZTP_SECRET_CURRENT, digits, r->code);
        r->has_previous = ztp_code_hash_hex(ZTP_SECRET_PREVIOUS, digits, r->previous) == 0;
    } else {
        strcpy(r->kind, "s");
        strcpy(r->code, digits);
    }
    r->hold = ztp_http_hold(req);
    enqueue(r);
}

/* ---- the sweep of what ended long ago (thread 0, every ZTP_SWEEP_EVERY_S,
 * hourly by default): codes, transfers, revoked API keys, idempotency keys,
 * sessions, old audit events (migration 0041) ---- */

static h2o_timeout_t sweep_timeout;
static h2o_timeout_entry_t sweep_entry;

static int sweeping; /* thread 0's: a sweep is in flight, and the next waits for it */

static void on_swept(void *arg, const ztp_db_res_t *res)
{
    (void)arg;
    sweeping = 0;
    if (res->status != ZTP_DB_OK)
        ztp_log_error("the sweep failed (%s): %s", res->sqlstate ? res->sqlstate : "no SQLSTATE",
                      res->message ? res->message : "no message");
    else if (atol(PQgetvalue(res->results[0], 0, 0)) > 0)
        ztp_log_info(
            "swept %s rows (activation codes, transfers, API keys, idempotency keys, sessions, audit events)",
            PQgetvalue(res->results[0], 0, 0));
}

static void on_sweep(h2o_timeout_entry_t *e)
{
    char days[16], audit_days[16];
    const char *params[2] = {days, audit_days};
    snprintf(days, sizeof(days), "%d", ztp_config.code_retention_days);
    snprintf(audit_days, sizeof(audit_days), "%d", ztp_config.audit_retention_days);
    if (!sweeping) { /* one slower than ZTP_SWEEP_EVERY_S: the next would take another of the thread's
                        connections */
        ztp_db_unit_t *u = ztp_db_unit_new(0, on_swept, NULL);
        ztp_db_unit_add(u, &SQL_SWEEP, params, NULL);
        ztp_db_unit_timeout(u, SWEEP_TIMEOUT_MS);
        sweeping = 1;
        ztp_db_submit(ztp_self->db, u);
    }
    if (!ztp_self->stopping)
        h2o_timeout_link(ztp_self->ctx.loop, &sweep_timeout, &sweep_entry);
}

static void on_thread_init(ztp_thread_t *t)
{
    if (t->index != 0)
        return;
    sweep_entry.cb = on_sweep;
    h2o_timeout_init(t->ctx.loop, &sweep_timeout, (uint64_t)ztp_config.sweep_every_s * 1000);
    h2o_timeout_link(t->ctx.loop, &sweep_timeout, &sweep_entry);
}

void ztp_activation_register(size_t max_body)
{
    by_addr = ztp_limiter_new(LIMITER_CAPACITY, 16, ZTP_ACTIVATION_FAILURES, WINDOW_MS, MIN_BLOCK_MS);
    by_net = ztp_limiter_new(LIMITER_CAPACITY, 16, NET_FAILURES, WINDOW_MS, MIN_BLOCK_MS);
    by_mac = ztp_limiter_new(LIMITER_CAPACITY, 6, ZTP_ACTIVATION_FAILURES, WINDOW_MS, MIN_BLOCK_MS);
    for (int i = 0; i < AC_COUNT; i++)
        outcome_metric[i] = ztp_metrics_counter("ztp_activations_total", "Activation attempts by outcome.",
                                                outcome_labels[i]);
    failures_metric = ztp_metrics_counter("ztp_activation_failures_total",
                                          "Failed activation attempts (every 4xx but 429).", "kind=\"any\"");
    ztp_router_add("POST", "/activate", on_activate, max_body, NULL);
    ztp_server_on_thread_init(on_thread_init);
}

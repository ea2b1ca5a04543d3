/*
 * GET /redirect/{mac}: the phone asks who its provider is.
 *
 * The lookup and the recording of the contact are one statement for a whole
 * batch of phones (contacts.c), and the answer leaves only after that
 * transaction has committed: a 200 is never sent for a contact that could
 * be lost.
 *
 * Misses are counted per source (scan.c), here and on /boot, which answers
 * its misses through ztp_redirect_miss: past the limit, a source gets 429
 * before anything reaches the database.
 */
#include "handler.h"
#include "certmac.h"
#include "contacts.h"
#include "mac.h"
#include "profile.h"
#include "scan.h"
#include "useragent.h"

#include "../services/db.h"
#include "../services/http.h"
#include "../services/metrics.h"
#include "../services/server.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

enum {
    OUT_OK,
    OUT_NOT_FOUND, /* one for every miss, as the answers are one: /metrics is public */
    OUT_BAD_MAC,
    OUT_UNAVAILABLE,
    OUT_LIMITED,
    OUT_COUNT
};
static int outcome_metric[OUT_COUNT];

typedef struct redirect {
    ztp_hold_t *hold;
    int json;
    char mac[13];
    char model[48];
    char serial[48];
} redirect_t;

void ztp_redirect_init(void)
{
    static const char *const labels[OUT_COUNT] = {"outcome=\"ok\"", "outcome=\"not_found\"",
                                                  "outcome=\"bad_mac\"", "outcome=\"unavailable\"",
                                                  "outcome=\"rate_limited\""};
    ztp_scan_init();
    ztp_contacts_init();
    for (int i = 0; i < OUT_COUNT; i++)
        outcome_metric[i] =
            ztp_metrics_counter("ztp_redirects_total", "Redirect requests by outcome.", labels[i]);
}

int ztp_redirect_wants_json(h2o_req_t *req, int default_json)
{
    const char *accept = ztp_http_get_header(req, H2O_TOKEN_ACCEPT);
    return accept == NULL ? default_json : ztp_http_accept_json(accept, default_json);
}

/* text with $(ZTP_TOKEN) replaced by token, into b; b->p, or text itself when it has none */
static const char *with_token(ztp_buf_t *b, const char *text, const char *token)
{
    if (text == NULL || strstr(text, "$(ZTP_TOKEN)") == NULL)
        return text;
    ztp_profile_expand_token(b, text, token);
    return b->p;
}

/* The JSON 200 answer from rule, upgrade and params (borrowed), $(ZTP_TOKEN) already replaced. */
static void send_json(h2o_req_t *req, const char *mac, const char *model, const char *serial,
                      const char *rule, const char *upgrade, json_t *params)
{
    ztp_phone_facts_t f = {mac, model, serial};
    ztp_http_json(req, 200, ztp_profile_json(&f, rule, upgrade, params));
}

void ztp_redirect_send_profile(h2o_req_t *req, int json, const char *mac, const char *model,
                               const char *serial, const char *rule, const char *upgrade,
                               const char *params_text, const char *token_key)
{
    ztp_buf_t t_rule = {0}, t_upgrade = {0}, t_params = {0};
    unsigned char key[32];
    char token[33];

    if (token_key != NULL &&
        sodium_hex2bin(key, sizeof(key), token_key, strlen(token_key), NULL, NULL, NULL) == 0) {
        ztp_profile_token(key, mac, token);
        sodium_memzero(key, sizeof(key));
        rule = with_token(&t_rule, rule, token);
        upgrade = with_token(&t_upgrade, upgrade, token);
        params_text = with_token(&t_params, params_text, token); /* hex digits need no JSON escaping */
    }
    json_t *params = params_text ? json_loads(params_text, 0, NULL) : NULL;
    if (json) {
        send_json(req, mac, model, serial, rule, upgrade, params);
    } else {
        ztp_buf_t b = {0};
        ztp_profile_xml(&b, rule, upgrade, params);
        ztp_http_send(req, 200, "application/xml", b.p, b.len);
        ztp_buf_free(&b);
    }
    json_decref(params);
    ztp_buf_free(&t_rule);
    ztp_buf_free(&t_upgrade);
    ztp_buf_free(&t_params);
}

void ztp_redirect_send_answer(h2o_req_t *req, int json, const char *mac, const char *model,
                              const char *serial, const ztp_profile_answer_t *a)
{
    ztp_buf_t t_rule = {0}, t_upgrade = {0}, t_params = {0}, body = {0};
    char token[33];

    if (!a->has_token) {
        if (json)
            send_json(req, mac, model, serial, a->rule, a->upgrade, a->params);
        else
            ztp_http_send(req, 200, "application/xml", a->xml.p, a->xml.len);
        return;
    }
    ztp_profile_token(a->token_key, mac, token);
    if (json) {
        const char *params_text = with_token(&t_params, a->params_text, token);
        json_t *params =
            params_text != a->params_text ? json_loads(params_text, 0, NULL) : json_incref(a->params);
        send_json(req, mac, model, serial, with_token(&t_rule, a->rule, token),
                  with_token(&t_upgrade, a->upgrade, token), params);
        json_decref(params);
    } else {
        /* escaping left the macro as written (profcache.c): replace it in the rendered profile */
        ztp_profile_expand_token(&body, a->xml.p, token);
        ztp_http_send(req, 200, "application/xml", body.p, body.len);
    }
    ztp_buf_free(&t_rule);
    ztp_buf_free(&t_upgrade);
    ztp_buf_free(&t_params);
    ztp_buf_free(&body);
}

/* The request's source as the scanning limiter counts it. */
static void source_of(h2o_req_t *req, unsigned char addr[16])
{
    char text[64];
    if (ztp_http_client_addr(req, text, sizeof(text), addr) != 0)
        memset(addr, 0, 16);
}

int ztp_redirect_refuse_scanner(h2o_req_t *req)
{
    unsigned char addr[16];
    uint64_t wait;
    source_of(req, addr);
    if ((wait = ztp_scan_wait(addr)) == 0)
        return 0;
    ztp_metrics_inc(outcome_metric[OUT_LIMITED]);
    ztp_scan_refuse(req, wait);
    return 1;
}

void ztp_redirect_miss(h2o_req_t *req, const char *detail)
{
    unsigned char addr[16];
    uint64_t wait;
    source_of(req, addr);
    /* counted as it is about to leave; past the limit a 429 goes instead, so that a burst learns no more */
    if ((wait = ztp_scan_miss(addr)) > 0) {
        ztp_metrics_inc(outcome_metric[OUT_LIMITED]);
        ztp_scan_refuse(req, wait);
        return;
    }
    ztp_http_problem(req, 404, detail != NULL ? detail : "no profile for this device; retry later");
}

static void on_recorded(void *arg, const ztp_contact_result_t *res)
{
    redirect_t *r = arg;
    h2o_req_t *req = ztp_http_release(r->hold);

    if (req == NULL) {
        /* the client left; its contact was recorded all the same */
        free(r);
        return;
    }
    switch (res->outcome) {
    case ZTP_CONTACT_UNAVAILABLE:
        ztp_metrics_inc(outcome_metric[OUT_UNAVAILABLE]);
        ztp_http_unavailable(req);
        break;
    case ZTP_CONTACT_OK:
        if (ztp_redirect_refuse_scanner(req))
            break; /* the source went past its limit while this was in flight */
        ztp_metrics_inc(outcome_metric[OUT_OK]);
        ztp_redirect_send_answer(req, r->json, r->mac, r->model, r->serial, res->profile);
        break;
    case ZTP_CONTACT_RELEASED:
    case ZTP_CONTACT_NO_PROFILE:
    case ZTP_CONTACT_UNKNOWN:
        ztp_metrics_inc(outcome_metric[OUT_NOT_FOUND]);
        ztp_redirect_miss(req, NULL);
        break;
    }
    free(r);
}

/* A query parameter fit to record: printable ASCII, bounded. */
static void query_field(h2o_req_t *req, const char *name, char *out, size_t cap)
{
    const char *v = ztp_http_query(req, name);
    size_t n = 0;
    if (v == NULL)
        return;
    for (; v[n] != '\0'; n++)
        if ((unsigned char)v[n] < 0x20 || (unsigned char)v[n] >= 0x7f || n + 1 >= cap)
            return;
    memcpy(out, v, n + 1);
}

void ztp_redirect_on_get(h2o_req_t *req, const ztp_match_t *m)
{
    h2o_iovec_t seg = m->params[0];
    const char *ua_text;
    uint8_t mac[6];
    ztp_ua_t ua;
    redirect_t *r;
    int json;

    if (ztp_redirect_refuse_scanner(req))
        return;
    if (seg.len > 4 && memcmp(seg.base + seg.len - 4, ".xml", 4) == 0) {
        json = 0;
        seg.len -= 4;
    } else if (seg.len > 5 && memcmp(seg.base + seg.len - 5, ".json", 5) == 0) {
        json = 1;
        seg.len -= 5;
    } else {
        json = ztp_redirect_wants_json(req, 0);
    }
    if (ztp_mac_parse(seg.base, seg.len, mac) != 0) {
        ztp_metrics_inc(outcome_metric[OUT_BAD_MAC]);
        ztp_http_problem(req, 400, "not a unicast MAC address (use 00562b043615 or 00:56:2b:04:36:15)");
        return;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        abort(); /* as h2o_mem_alloc does */
    r->json = json;
    ztp_mac_format(mac, r->mac);
    ua_text = ztp_http_get_header(req, H2O_TOKEN_USER_AGENT);
    ztp_ua_parse(ua_text, ua_text ? strlen(ua_text) : 0, &ua);
    strcpy(r->model, ua.model);
    strcpy(r->serial, ua.serial);
    query_field(req, "model", r->model, sizeof(r->model));
    query_field(req, "sn", r->serial, sizeof(r->serial));
    r->hold = ztp_http_hold(req);
    ztp_redirect_record(req, r->mac, ua_text, &ua, r->model, r->serial, NULL, on_recorded, r);
}

/* Whether a verified device certificate names this (canonical) MAC: what a
 * profile with require_certificate asks of /redirect and /boot alike. */
static int certified_for(h2o_req_t *req, const char *mac)
{
    uint8_t bin[6];
    return ztp_mac_parse(mac, strlen(mac), bin) == 0 && ztp_certmac_names(req, bin);
}

void ztp_redirect_record(h2o_req_t *req, const char *mac, const char *ua_text, const ztp_ua_t *ua,
                         const char *model, const char *serial, const char *want, ztp_contact_cb cb,
                         void *arg)
{
    char addr[64], clean_ua[ZTP_UA_MAX + 1];
    unsigned char addrbin[16];

    if (ztp_http_client_addr(req, addr, sizeof(addr), addrbin) != 0)
        strcpy(addr, "0.0.0.0");
    ztp_ua_clean(ua_text, ua_text ? strlen(ua_text) : 0, clean_ua);
    ztp_contact_t contact = {.mac = mac,
                             .addr = addr,
                             .ua = ua_text ? clean_ua : NULL,
                             .vendor = ua->vendor,
                             .model = model && model[0] ? model : NULL,
                             .serial = serial && serial[0] ? serial : NULL,
                             .firmware = ua->firmware[0] ? ua->firmware : NULL,
                             .want = want,
                             .certified = certified_for(req, mac)};
    ztp_contacts_record(&contact, cb, arg);
}

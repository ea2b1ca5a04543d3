/*
 * GET /boot/{file}: the first files a phone asks its provisioning server
 * for, when DHCP (option 66, 160 or 43) or a person pointed it here.
 *
 * vendor.c settles which phone asks and for which MAC; the contact is then
 * recorded and the status moved through the same batch as /redirect
 * (ztp_redirect_record), whose answer carries the profile (its vendor_urls);
 * bootcfg.c renders the vendor's answer, and Cisco gets /redirect's flat
 * profile. Every miss goes through ztp_redirect_miss, as /redirect's do.
 */
#include "boot.h"
#include "bootcfg.h"
#include "handler.h"
#include "profile.h"
#include "vendor.h"

#include "../services/http.h"
#include "../services/metrics.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

enum { OUT_OK, OUT_MISS, OUT_UNAVAILABLE, OUT_COUNT };
static int outcome_metric[OUT_COUNT];

typedef struct boot {
    ztp_hold_t *hold;
    ztp_boot_target_t target;
    char model[48];
    char serial[48];
} boot_t;

void ztp_boot_init(void)
{
    static const char *const labels[OUT_COUNT] = {"outcome=\"ok\"", "outcome=\"not_found\"",
                                                  "outcome=\"unavailable\""};
    for (int i = 0; i < OUT_COUNT; i++)
        outcome_metric[i] =
            ztp_metrics_counter("ztp_boots_total", "Boot file requests by outcome.", labels[i]);
}

static void miss(h2o_req_t *req, const char *detail)
{
    ztp_metrics_inc(outcome_metric[OUT_MISS]);
    ztp_redirect_miss(req, detail);
}

/* The vendor's answer with the profile's URL for it: $(ZTP_TOKEN) becomes
 * the device's token, then macros are expanded as /redirect expands its
 * JSON "url". */
static void send_vendor_answer(h2o_req_t *req, boot_t *b, const ztp_profile_answer_t *a)
{
    const char *url = json_string_value(json_object_get(a->vendor_urls, ztp_vendor_name(b->target.vendor)));
    ztp_buf_t tokenized = {0}, expanded = {0}, body = {0};
    char token[33];

    if (url == NULL) { /* the batch said ok: the profile changed in between */
        miss(req, NULL);
        return;
    }
    ztp_phone_facts_t facts = {b->target.mac, b->model, b->serial};
    if (strstr(url, "$(ZTP_TOKEN)") != NULL) {
        ztp_profile_token(a->token_key, b->target.mac, token);
        ztp_profile_expand_token(&tokenized, url, token);
        url = tokenized.p;
    }
    ztp_profile_expand(&expanded, url, &facts);
    ztp_bootcfg_facts_t f = {b->target.mac, expanded.p ? expanded.p : ""};
    const char *ctype = ztp_bootcfg_render(&body, b->target.vendor, b->target.poly_ztp, &f);
    ztp_metrics_inc(outcome_metric[OUT_OK]);
    ztp_http_send(req, 200, ctype, body.p, body.len);
    ztp_buf_free(&body);
    ztp_buf_free(&expanded);
    ztp_buf_free(&tokenized);
}

static void on_recorded(void *arg, const ztp_contact_result_t *res)
{
    boot_t *b = arg;
    h2o_req_t *req = ztp_http_release(b->hold);

    if (req == NULL) {
        /* the client left; its contact was recorded all the same */
    } else if (res->outcome == ZTP_CONTACT_UNAVAILABLE) {
        ztp_metrics_inc(outcome_metric[OUT_UNAVAILABLE]);
        ztp_http_unavailable(req);
    } else if (res->outcome != ZTP_CONTACT_OK) {
        miss(req, NULL);
    } else if (ztp_redirect_refuse_scanner(req)) {
        /* the source went past its scanning limit while this was in flight */
    } else if (b->target.vendor == ZTP_VENDOR_CISCO) {
        ztp_metrics_inc(outcome_metric[OUT_OK]);
        ztp_redirect_send_answer(req, 0, b->target.mac, b->model, b->serial, res->profile);
    } else {
        send_vendor_answer(req, b, res->profile);
    }
    free(b);
}

void ztp_boot_on_get(h2o_req_t *req, const ztp_match_t *m)
{
    const char *ua_text = ztp_http_get_header(req, H2O_TOKEN_USER_AGENT);
    ztp_boot_target_t target;
    ztp_ua_t ua;
    boot_t *b;

    if (ztp_redirect_refuse_scanner(req))
        return;
    ztp_ua_parse(ua_text, ua_text ? strlen(ua_text) : 0, &ua);
    if (ztp_vendor_recognize(m->params[0].base, m->params[0].len, &ua, &target) != 0) {
        miss(req, "not a file openztp serves to this phone");
        return;
    }
    if (target.poly_any) {
        /* the same bytes to every Poly phone, telling nothing: the file it
         * names carries the MAC, and is answered as {MAC}.cfg would be */
        ztp_buf_t body = {0};
        const char *ctype =
            ztp_bootcfg_render(&body, ZTP_VENDOR_POLY, 0, &(ztp_bootcfg_facts_t){target.mac, ""});
        ztp_metrics_inc(outcome_metric[OUT_OK]);
        ztp_http_send(req, 200, ctype, body.p, body.len);
        ztp_buf_free(&body);
        return;
    }
    b = calloc(1, sizeof(*b));
    if (b == NULL)
        abort();
    b->target = target;
    strcpy(b->model, ua.model);
    strcpy(b->serial, ua.serial);
    b->hold = ztp_http_hold(req);
    ztp_redirect_record(req, b->target.mac, ua_text, &ua, b->model, b->serial,
                        target.vendor == ZTP_VENDOR_CISCO ? NULL : ztp_vendor_name(target.vendor),
                        on_recorded, b);
}

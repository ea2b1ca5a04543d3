/* /v1/webhooks: receivers of a provider's events (delivered by
 * services/outbound.c). */
#include "webhooks.h"

#include "../services/config.h"
#include "../services/http.h"
#include "../services/netguard.h"
#include "../services/outbound.h"
#include "../services/secret.h"
#include "../services/worker.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WEBHOOKS 20

ZTP_SQL(SQL_CREATE, 5, "SELECT * FROM ztp_webhook_create($1, $2::text[], $3, $4, $5::int)");
ZTP_SQL(SQL_LIST, 0, "SELECT * FROM ztp_webhook_list()");
ZTP_SQL(SQL_DELETE, 1, "SELECT * FROM ztp_webhook_delete($1::uuid)");
ZTP_SQL(SQL_ATTEMPTS, 2, "SELECT * FROM ztp_webhook_attempts($1::uuid, $2::int)");

static const char *const EVENTS[] = {"device.status_changed", "device.claimed", "device.released",
                                     "code.redeemed",         "import_job.finished", "transfer.accepted"};
#define NEVENTS (sizeof(EVENTS) / sizeof(EVENTS[0]))

/* A creation waiting for its URL's host to resolve on a worker thread. */
typedef struct pending {
    ztp_hold_t *hold;
    ztp_auth_t who;
    ztp_netguard_url_t url;
    char *url_text;
    char events[256]; /* a PostgreSQL array literal of known names */
    int rc;
    char err[256];
} pending_t;

typedef struct created {
    char secret[ZTP_OUTBOUND_SECRET_LEN + 1];
} created_t;

/* Checks "events": a non-empty list of known names without repeats, into
 * a PostgreSQL array literal. */
static void check_events(json_t *events, json_t *errors, char out[256])
{
    unsigned seen = 0;
    size_t i;
    json_t *v;

    if (!json_is_array(events) || json_array_size(events) == 0) {
        ztp_errors_add(errors, "events", "must be a non-empty list of event names");
        return;
    }
    strcpy(out, "{");
    json_array_foreach(events, i, v)
    {
        size_t k;
        for (k = 0; k < NEVENTS; k++)
            if (json_is_string(v) && strcmp(json_string_value(v), EVENTS[k]) == 0)
                break;
        if (k == NEVENTS) {
            ztp_errors_add(errors, "events", "unknown event name; known: device.status_changed, device.claimed, "
                                             "device.released, code.redeemed, import_job.finished, "
                                             "transfer.accepted");
            return;
        }
        if (seen & (1u << k)) {
            ztp_errors_add(errors, "events", "names an event twice");
            return;
        }
        seen |= 1u << k;
        strcat(out, i ? "," : "");
        strcat(out, EVENTS[k]);
    }
    strcat(out, "}");
}

/* Adds the secret, which only this answer carries, to the stored row. */
static void on_created(h2o_req_t *req, int status, const char *body, void *arg)
{
    created_t *c = arg;
    json_t *o;
    if (status != 201 || (o = json_loads(body, 0, NULL)) == NULL) {
        ztp_tenant_answer(req, status, body);
    } else {
        json_object_set_new(o, "secret", json_string(c->secret));
        ztp_http_json(req, 201, o);
    }
    sodium_memzero(c->secret, sizeof(c->secret));
}

/* On a worker thread: getaddrinfo blocks. */
static void on_resolve(void *arg)
{
    pending_t *p = arg;
    p->rc = ztp_netguard_check_host(p->url.host, p->url.port, ztp_config.webhook_allow_private, p->err,
                                    sizeof(p->err));
}

static void on_resolved(void *arg)
{
    pending_t *p = arg;
    h2o_req_t *req = ztp_http_release(p->hold);
    unsigned char key[ZTP_OUTBOUND_KEY_LEN];
    char box[2 * (24 + 16 + ZTP_OUTBOUND_KEY_LEN) + 1], key_id[17], max[8];
    created_t *c;

    if (req == NULL)
        goto done;
    if (p->rc != 0) {
        json_t *errors = json_array();
        ztp_errors_add(errors, "url", p->err);
        ztp_errors_answer(req, errors);
        goto done;
    }
    c = malloc(sizeof(*c));
    if (c == NULL)
        abort();
    randombytes_buf(key, sizeof(key));
    ztp_outbound_secret_text(key, c->secret);
    if (ztp_secret_seal(key, sizeof(key), box, sizeof(box)) != 0 ||
        ztp_secret_key_id(ZTP_SECRET_CURRENT, key_id) != 0)
        abort();
    sodium_memzero(key, sizeof(key));
    snprintf(max, sizeof(max), "%d", MAX_WEBHOOKS);
    const char *params[5] = {p->url_text, p->events, box, key_id, max};
    ztp_tenant_call(req, &p->who, &SQL_CREATE, params, on_created, c);
done:
    free(p->url_text);
    free(p);
}

void ztp_webhooks_create(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    json_t *body = ztp_json_body(req, 0), *url, *errors;
    pending_t *p;
    char err[256];

    if (body == NULL)
        return;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        abort();
    errors = json_array();
    url = json_object_get(body, "url");
    if (!json_is_string(url))
        ztp_errors_add(errors, "url", "must be a string");
    else if (ztp_netguard_parse_url(json_string_value(url), ztp_config.webhook_allow_private, &p->url, err,
                                    sizeof(err)) != 0)
        ztp_errors_add(errors, "url", err);
    check_events(json_object_get(body, "events"), errors, p->events);
    if (ztp_errors_answer(req, errors)) {
        free(p);
        json_decref(body);
        return;
    }
    p->url_text = strdup(json_string_value(url));
    p->who = *who;
    p->hold = ztp_http_hold(req);
    json_decref(body);
    ztp_worker_submit(on_resolve, on_resolved, p);
}

void ztp_webhooks_list(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    ztp_tenant_call(req, who, &SQL_LIST, NULL, NULL, NULL);
}

/* The {id} of the path, or NULL after answering 404 for one that is no id. */
static const char *webhook_id(h2o_req_t *req, const ztp_match_t *m)
{
    if (!ztp_uuid_ok(m->params[0].base, m->params[0].len)) {
        ztp_http_problem(req, 404, "no such webhook");
        return NULL;
    }
    return ztp_param(req, m->params[0]);
}

void ztp_webhooks_delete(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    const char *id = webhook_id(req, m);
    if (id != NULL)
        ztp_tenant_call(req, who, &SQL_DELETE, &id, NULL, NULL);
}

void ztp_webhooks_deliveries(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    json_t *errors = json_array();
    char limit[8];
    const char *id;

    ztp_query_limit(req, errors, limit);
    if (ztp_errors_answer(req, errors))
        return;
    if ((id = webhook_id(req, m)) == NULL)
        return;
    const char *params[2] = {id, limit};
    ztp_tenant_call(req, who, &SQL_ATTEMPTS, params, NULL, NULL);
}

/* /v1/devices: claiming, listing, releasing and reporting on phones. */
#include "devices.h"

#include "../redirect/mac.h"
#include "../redirect/status.h"
#include "../services/http.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TEXT 64
/* q: fewer than 3 hex digits hold no trigram, so no index could serve them;
 * a MAC has 12. The raw text may carry a separator between every digit. */
#define Q_MIN_DIGITS 3
#define Q_MAX_DIGITS 12
#define Q_MAX_TEXT 64

ZTP_SQL(SQL_PUT, 2, "SELECT * FROM ztp_device_put($1::macaddr, $2::jsonb)");
ZTP_SQL(SQL_GET, 1, "SELECT * FROM ztp_device_get($1::macaddr)");
ZTP_SQL(SQL_RELEASE, 1, "SELECT * FROM ztp_device_release($1::macaddr)");
ZTP_SQL(SQL_LIST, 6, "SELECT * FROM ztp_device_list($1, $2::uuid, $3, $4, $5::macaddr, $6::int)");
ZTP_SQL(SQL_EVENTS, 1, "SELECT * FROM ztp_device_events($1::macaddr)");
ZTP_SQL(SQL_REPORT, 2, "SELECT * FROM ztp_device_report($1::macaddr, $2)");

void ztp_devices_validate(json_t *body, json_t *errors)
{
    json_t *v;
    static const char *const texts[] = {"model", "serial"};

    if ((v = json_object_get(body, "profile_id")) != NULL && !json_is_null(v) &&
        !(json_is_string(v) && ztp_uuid_ok(json_string_value(v), json_string_length(v))))
        ztp_errors_add(errors, "profile_id", "must be a profile id or null");
    for (int i = 0; i < 2; i++) {
        v = json_object_get(body, texts[i]);
        if (v != NULL && !json_is_null(v) &&
            !(json_is_string(v) && ztp_text_ok(json_string_value(v), MAX_TEXT)))
            ztp_errors_add(errors, texts[i],
                           "must be a string of 1 to 64 bytes of UTF-8 without control characters");
    }
}

/* The canonical MAC of the path, or NULL after answering 400. */
static const char *path_mac(h2o_req_t *req, const ztp_match_t *m)
{
    uint8_t mac[6];
    char *text;
    if (ztp_mac_parse(m->params[0].base, m->params[0].len, mac) != 0) {
        ztp_http_problem(req, 400, "not a unicast MAC address (use 00562b043615 or 00:56:2b:04:36:15)");
        return NULL;
    }
    text = h2o_mem_alloc_pool(&req->pool, 13);
    ztp_mac_format(mac, text);
    return text;
}

void ztp_devices_put(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    const char *mac = path_mac(req, m);
    json_t *body, *errors;
    char *text;
    static const char *const known[] = {"profile_id", "model", "serial"};

    if (mac == NULL || (body = ztp_json_body(req, 1)) == NULL)
        return;
    errors = json_array();
    ztp_devices_validate(body, errors);
    if (ztp_errors_answer(req, errors)) {
        json_decref(body);
        return;
    }
    text = ztp_json_pick(body, known, 3);
    const char *p[2] = {mac, text};
    ztp_tenant_call(req, who, &SQL_PUT, p, NULL, NULL);
    free(text);
    json_decref(body);
}

void ztp_devices_get(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    const char *mac = path_mac(req, m);
    if (mac != NULL)
        ztp_tenant_call(req, who, &SQL_GET, &mac, NULL, NULL);
}

void ztp_devices_delete(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    const char *mac = path_mac(req, m);
    if (mac != NULL)
        ztp_tenant_call(req, who, &SQL_RELEASE, &mac, NULL, NULL);
}

void ztp_devices_events(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    const char *mac = path_mac(req, m);
    if (mac != NULL)
        ztp_tenant_call(req, who, &SQL_EVENTS, &mac, NULL, NULL);
}

/* q as lower-case hex digits into out, separators (: - .) dropped; -1 when
 * it is not 3 to 12 hex digits. */
static int search_digits(const char *q, char out[Q_MAX_DIGITS + 1])
{
    size_t n = 0;

    if (strlen(q) > Q_MAX_TEXT)
        return -1;
    for (; *q != '\0'; q++) {
        if (*q == ':' || *q == '-' || *q == '.')
            continue;
        if (!isxdigit((unsigned char)*q) || n == Q_MAX_DIGITS)
            return -1;
        out[n++] = (char)tolower((unsigned char)*q);
    }
    out[n] = '\0';
    return n < Q_MIN_DIGITS ? -1 : 0;
}

/* A query parameter, or NULL when absent or empty (no filter). */
static const char *filter(h2o_req_t *req, const char *name)
{
    const char *v = ztp_http_query(req, name);
    return v != NULL && *v != '\0' ? v : NULL;
}

void ztp_devices_list(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    const char *status = filter(req, "status"), *profile = filter(req, "profile_id"), *model = filter(req, "model");
    const char *q = filter(req, "q"), *cursor = filter(req, "cursor");
    json_t *errors = json_array();
    char limit_text[8], *digits = NULL;
    uint8_t after[6];

    if (status != NULL && ztp_status_from_name(status) == ZTP_STATUS_NONE)
        ztp_errors_add(errors, "status",
                       "must be one of open, pending, custom_pending, acquired, aborted, unavailable");
    if (profile != NULL && !ztp_uuid_ok(profile, strlen(profile)))
        ztp_errors_add(errors, "profile_id", "must be a profile id");
    if (model != NULL && !ztp_text_ok(model, MAX_TEXT))
        ztp_errors_add(errors, "model", "must be 1 to 64 bytes of UTF-8 without control characters");
    if (q != NULL) {
        digits = h2o_mem_alloc_pool(&req->pool, Q_MAX_DIGITS + 1);
        if (search_digits(q, digits) != 0)
            ztp_errors_add(errors, "q",
                           "must be 3 to 12 hex digits of a MAC (separators : - . are ignored)");
    }
    ztp_query_limit(req, errors, limit_text);
    if (cursor != NULL && (strlen(cursor) != 12 || ztp_mac_parse(cursor, 12, after) != 0))
        ztp_errors_add(errors, "cursor", "is not a cursor this API returned");
    if (ztp_errors_answer(req, errors))
        return;
    const char *p[6] = {status, profile, model, digits, cursor, limit_text};
    ztp_tenant_call(req, who, &SQL_LIST, p, NULL, NULL);
}

void ztp_devices_report(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    const char *mac = path_mac(req, m), *status;
    json_t *body;
    if (mac == NULL || (body = ztp_json_body(req, 0)) == NULL)
        return;
    status = json_string_value(json_object_get(body, "status"));
    if (status == NULL ||
        (strcmp(status, "acquired") != 0 && strcmp(status, "aborted") != 0 && strcmp(status, "open") != 0)) {
        json_t *errors = json_array();
        ztp_errors_add(errors, "status", "must be acquired, aborted or open");
        ztp_errors_answer(req, errors);
    } else {
        const char *p[2] = {mac, status};
        ztp_tenant_call(req, who, &SQL_REPORT, p, NULL, NULL);
    }
    json_decref(body);
}

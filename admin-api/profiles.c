/* /v1/profiles: the redirect targets of a provider. */
#include "profiles.h"

#include "../redirect/mac.h"
#include "../redirect/profile.h"
#include "../redirect/vendor.h"
#include "../services/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARAMS 200
#define MAX_PARAM_VALUE 1024

ZTP_SQL(SQL_CREATE, 7,
        "SELECT w.* FROM ztp_profile_create($1, $2, $3, $4, $5::jsonb, $6::jsonb) c,"
        " ztp_profile_with_vendor_urls(c.status, c.body, $7::jsonb) w");
ZTP_SQL(SQL_LIST, 2, "SELECT * FROM ztp_profile_list($1::text, $2::int)");
ZTP_SQL(SQL_GET, 1, "SELECT * FROM ztp_profile_get($1::uuid)");
ZTP_SQL(SQL_UPDATE, 2, "SELECT * FROM ztp_profile_update($1::uuid, $2::jsonb)");
ZTP_SQL(SQL_DELETE, 1, "SELECT * FROM ztp_profile_delete($1::uuid)");

static void check_rule(json_t *v, const char *field, int nullable, json_t *errors)
{
    const char *why;
    if (json_is_null(v) && nullable)
        return;
    if (!json_is_string(v)) {
        ztp_errors_add(errors, field, nullable ? "must be a string or null" : "must be a string");
        return;
    }
    if ((why = ztp_rule_check(json_string_value(v))) != NULL)
        ztp_errors_add(errors, field, why);
}

static void check_short_code(json_t *v, json_t *errors)
{
    const char *s;
    size_t n;
    if (json_is_null(v))
        return;
    s = json_string_value(v);
    n = s ? strlen(s) : 0;
    if (s == NULL || n < 3 || n > 16 || strspn(s, "0123456789") != n)
        ztp_errors_add(errors, "short_code", "must be a string of 3 to 16 digits, or null");
}

static void check_params(json_t *v, json_t *errors)
{
    const char *key;
    json_t *val;
    if (json_is_null(v))
        return;
    if (!json_is_object(v)) {
        ztp_errors_add(errors, "params", "must be an object of parameter name to string");
        return;
    }
    if (json_object_size(v) > MAX_PARAMS) {
        ztp_errors_add(errors, "params", "at most 200 parameters");
        return;
    }
    json_object_foreach(v, key, val)
    {
        char field[96];
        snprintf(field, sizeof(field), "params.%.64s", key);
        if (!ztp_param_name_ok(key))
            ztp_errors_add(errors, field,
                           "names are [A-Za-z0-9_]+ (at most 64), not Profile_Rule or Upgrade_Rule, and begin with a letter"
                           " or _ (each is an XML element)");
        else if (!json_is_string(val))
            ztp_errors_add(errors, field, "must be a string");
        else if (json_string_length(val) > MAX_PARAM_VALUE ||
                 strlen(json_string_value(val)) != json_string_length(val))
            ztp_errors_add(errors, field, "must be at most 1024 characters, without NUL");
        else
            for (const char *p = json_string_value(val); *p; p++)
                if ((unsigned char)*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r') {
                    ztp_errors_add(errors, field, "must not contain control characters");
                    break;
                }
    }
}

/* short_code_prefixes: null, or 1 to 100 MAC prefixes of 6 to 12 hex digits */
static void check_prefixes(json_t *v, json_t *errors)
{
    size_t i;
    json_t *p;
    if (json_is_null(v))
        return;
    if (!json_is_array(v) || json_array_size(v) < 1 || json_array_size(v) > 100) {
        ztp_errors_add(errors, "short_code_prefixes", "must be an array of 1 to 100 MAC prefixes, or null");
        return;
    }
    json_array_foreach(v, i, p)
    {
        const char *s = json_string_value(p);
        size_t n = s ? strlen(s) : 0;
        if (s == NULL || n < 6 || n > 12 || strspn(s, "0123456789abcdefABCDEF") != n) {
            char field[48];
            snprintf(field, sizeof(field), "short_code_prefixes.%zu", i);
            ztp_errors_add(errors, field, "must be a MAC prefix of 6 to 12 hex digits");
        }
    }
}

static void check_hourly_claims(json_t *v, json_t *errors)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000000)
        ztp_errors_add(errors, "short_code_hourly_claims", "must be an integer from 0 to 1000000");
}

/* vendor_urls: vendor name (the /boot table's, cisco excepted) to URL. */
static void check_vendor_urls(json_t *v, json_t *errors)
{
    const char *key, *why;
    json_t *val;
    if (json_is_null(v))
        return;
    if (!json_is_object(v)) {
        ztp_errors_add(errors, "vendor_urls", "must be an object of vendor name to URL");
        return;
    }
    json_object_foreach(v, key, val)
    {
        char field[96];
        ztp_vendor_t vendor = ztp_vendor_by_name(key);
        snprintf(field, sizeof(field), "vendor_urls.%.64s", key);
        if (vendor == ZTP_VENDOR_NONE || vendor == ZTP_VENDOR_CISCO)
            ztp_errors_add(
                errors, field,
                "vendors are yealink, poly, snom, grandstream, fanvil and gigaset (cisco phones get "
                "profile_rule)");
        else if (!json_is_string(val) || strlen(json_string_value(val)) != json_string_length(val))
            ztp_errors_add(errors, field, "must be a string without NUL");
        else if ((why = ztp_vendor_url_check(json_string_value(val))) != NULL)
            ztp_errors_add(errors, field, why);
    }
}

void ztp_profiles_validate(json_t *body, int partial, json_t *errors)
{
    json_t *v;
    if ((v = json_object_get(body, "name")) != NULL) {
        if (!json_is_string(v) || !ztp_text_ok(json_string_value(v), 200))
            ztp_errors_add(errors, "name",
                           "must be a string of 1 to 200 characters without control characters");
    } else if (!partial) {
        ztp_errors_add(errors, "name", "is required");
    }
    if ((v = json_object_get(body, "profile_rule")) != NULL)
        check_rule(v, "profile_rule", 0, errors);
    else if (!partial)
        ztp_errors_add(errors, "profile_rule", "is required");
    if ((v = json_object_get(body, "upgrade_rule")) != NULL)
        check_rule(v, "upgrade_rule", 1, errors);
    if ((v = json_object_get(body, "short_code")) != NULL)
        check_short_code(v, errors);
    if ((v = json_object_get(body, "params")) != NULL)
        check_params(v, errors);
    if ((v = json_object_get(body, "short_code_prefixes")) != NULL)
        check_prefixes(v, errors);
    if ((v = json_object_get(body, "short_code_hourly_claims")) != NULL)
        check_hourly_claims(v, errors);
    if ((v = json_object_get(body, "vendor_urls")) != NULL)
        check_vendor_urls(v, errors);
    /* with secret params it must be true: the database, which sees the whole row, says so */
    if ((v = json_object_get(body, "require_certificate")) != NULL && !json_is_boolean(v))
        ztp_errors_add(errors, "require_certificate", "must be true or false");
}

/* The fields beyond the first five, as JSON text (malloc'ed): only what the
 * SQL knows travels. */
static const char *const more_fields[] = {"short_code_prefixes", "short_code_hourly_claims",
                                          "require_certificate"};

static const char *str_or_null(json_t *body, const char *key)
{
    return json_string_value(json_object_get(body, key));
}

void ztp_profiles_create(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    json_t *body = ztp_json_body(req, 0), *errors;
    char *params_text;
    if (body == NULL)
        return;
    errors = json_array();
    ztp_profiles_validate(body, 0, errors);
    if (ztp_errors_answer(req, errors)) {
        json_decref(body);
        return;
    }
    json_t *params = json_object_get(body, "params");
    params_text = json_is_object(params) ? json_dumps(params, JSON_COMPACT) : strdup("{}");
    char *more = ztp_json_pick(body, more_fields, sizeof(more_fields) / sizeof(more_fields[0]));
    json_t *urls = json_object_get(body, "vendor_urls");
    char *urls_text = json_is_object(urls) ? json_dumps(urls, JSON_COMPACT) : NULL;
    const char *p[7] = {str_or_null(body, "name"),
                        str_or_null(body, "profile_rule"),
                        str_or_null(body, "upgrade_rule"),
                        str_or_null(body, "short_code"),
                        params_text,
                        more,
                        urls_text};
    ztp_tenant_call(req, who, &SQL_CREATE, p, NULL, NULL);
    free(more);
    free(urls_text);
    free(params_text);
    json_decref(body);
}

/* One page, oldest first: `limit` 1 to 1000 (100), `cursor` the
 * next_cursor of the page before. */
void ztp_profiles_list(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    (void)m;
    ztp_list_page(req, who, &SQL_LIST, NULL, NULL);
}

/* The {id} of the path, or NULL after answering 404 for a malformed one. */
static const char *profile_id(h2o_req_t *req, const ztp_match_t *m)
{
    if (!ztp_uuid_ok(m->params[0].base, m->params[0].len)) {
        ztp_http_problem(req, 404, "no such profile");
        return NULL;
    }
    return ztp_param(req, m->params[0]);
}

void ztp_profiles_get(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    const char *id = profile_id(req, m);
    if (id != NULL)
        ztp_tenant_call(req, who, &SQL_GET, &id, NULL, NULL);
}

void ztp_profiles_update(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    const char *id = profile_id(req, m);
    json_t *body, *errors, *v;
    char *text;
    if (id == NULL || (body = ztp_json_body(req, 0)) == NULL)
        return;
    errors = json_array();
    ztp_profiles_validate(body, 1, errors);
    if ((v = json_object_get(body, "name")) != NULL && json_is_null(v))
        ztp_errors_add(errors, "name", "cannot be null");
    if (ztp_errors_answer(req, errors)) {
        json_decref(body);
        return;
    }
    static const char *const known[] = {"name",
                                        "profile_rule",
                                        "upgrade_rule",
                                        "short_code",
                                        "params",
                                        "vendor_urls",
                                        "short_code_prefixes",
                                        "short_code_hourly_claims",
                                        "require_certificate"};
    text = ztp_json_pick(body, known, sizeof(known) / sizeof(known[0]));
    const char *p[2] = {id, text};
    ztp_tenant_call(req, who, &SQL_UPDATE, p, NULL, NULL);
    free(text);
    json_decref(body);
}

void ztp_profiles_delete(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    const char *id = profile_id(req, m);
    if (id != NULL)
        ztp_tenant_call(req, who, &SQL_DELETE, &id, NULL, NULL);
}

/* ---- GET /v1/profiles/{id}/preview?mac=&model=&serial= ----
 * The answers /redirect/{mac}.xml and .json give that phone, rendered by
 * the one renderer phones get (redirect/profile.c), for the console's
 * preview. $(ZTP_TOKEN) stays as written: the device's token is minted
 * from the provider's key, which only an admin may read. */
#define PREVIEW_TEXT_MAX 64

typedef struct preview {
    char mac[13];
    char model[PREVIEW_TEXT_MAX + 1];
    char serial[PREVIEW_TEXT_MAX + 1];
} preview_t;

static void on_preview(h2o_req_t *req, int status, const char *body, void *arg)
{
    const preview_t *p = arg;
    json_t *prof = status == 200 ? json_loads(body, 0, NULL) : NULL;
    if (prof == NULL) {
        ztp_tenant_answer(req, status, body);
        return;
    }
    const char *rule = json_string_value(json_object_get(prof, "profile_rule"));
    const char *upgrade = json_string_value(json_object_get(prof, "upgrade_rule"));
    json_t *params = json_object_get(prof, "params");
    ztp_phone_facts_t f = {p->mac, p->model, p->serial};
    ztp_buf_t xml = {0};
    ztp_profile_xml(&xml, rule ? rule : "", upgrade, json_is_object(params) ? params : NULL);
    json_t *out = json_pack("{s:s#, s:o}", "xml", xml.p ? xml.p : "", xml.len, "json",
                            ztp_profile_json(&f, rule ? rule : "", upgrade, json_is_object(params) ? params : NULL));
    ztp_buf_free(&xml);
    json_decref(prof);
    ztp_http_json(req, 200, out);
}

/* Copies query parameter `name` (absent: "") into out when it is printable
 * UTF-8 of at most PREVIEW_TEXT_MAX bytes; else notes the error. */
static void preview_text(h2o_req_t *req, const char *name, char *out, size_t outlen, json_t *errors)
{
    const char *v = ztp_http_query(req, name);
    if (v == NULL || *v == '\0')
        *out = '\0';
    else if (!ztp_text_ok(v, PREVIEW_TEXT_MAX) || strlen(v) >= outlen)
        ztp_errors_add(errors, name, "at most 64 bytes of printable UTF-8");
    else
        memcpy(out, v, strlen(v) + 1);
}

void ztp_profiles_preview(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    const char *id = profile_id(req, m);
    const char *mac = ztp_http_query(req, "mac");
    uint8_t bin[6];
    json_t *errors = json_array();
    preview_t *p;

    if (id == NULL) {
        json_decref(errors);
        return;
    }
    if ((p = calloc(1, sizeof(*p))) == NULL)
        abort();
    if (mac == NULL || ztp_mac_parse(mac, strlen(mac), bin) != 0)
        ztp_errors_add(errors, "mac", "a MAC address: 12 hex digits, separators allowed");
    else
        ztp_mac_format(bin, p->mac);
    preview_text(req, "model", p->model, sizeof(p->model), errors);
    preview_text(req, "serial", p->serial, sizeof(p->serial), errors);
    if (ztp_errors_answer(req, errors)) {
        free(p);
        return;
    }
    ztp_tenant_call(req, who, &SQL_GET, &id, on_preview, p);
}

/*
 * Parsing of device imports. Everything is validated here, at the edge, so
 * that what reaches SQL is canonical: MACs as 12 hex digits, texts without
 * control characters (hence newline-joined columns are unambiguous).
 */
#include "import.h"

#include "../redirect/mac.h"
#include "tenant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FIELD 256

enum { COL_MAC, COL_PROFILE, COL_MODEL, COL_SERIAL, COL_NONE };

void ztp_import_init(ztp_import_t *im)
{
    memset(im, 0, sizeof(*im));
    im->errors = json_array();
}

void ztp_import_free(ztp_import_t *im)
{
    ztp_buf_free(&im->macs);
    ztp_buf_free(&im->profiles);
    ztp_buf_free(&im->profile_ids);
    ztp_buf_free(&im->models);
    ztp_buf_free(&im->serials);
    ztp_buf_free(&im->lines);
    json_decref(im->errors);
}

static void error_at(ztp_import_t *im, size_t line, const char *fmt, const char *arg)
{
    char detail[256];
    if (im->nerrors++ >= ZTP_IMPORT_MAX_ERRORS)
        return;
    snprintf(detail, sizeof(detail), fmt, arg);
    json_array_append_new(im->errors, json_pack("{s:I, s:s}", "line", (json_int_t)line, "detail", detail));
}

/* Whether a text field is acceptable (empty is allowed: NULL). */
static int text_ok(const char *s, size_t max)
{
    return *s == '\0' || ztp_text_ok(s, max);
}

static void column(ztp_buf_t *b, const char *v, size_t row)
{
    if (row > 0)
        ztp_buf_append(b, "\n", 1);
    ztp_buf_puts(b, v);
}

/* Adds one validated row; returns 0, or -1 after recording why not. */
static int add_row(ztp_import_t *im, size_t line, const char *mac, const char *profile,
                   const char *profile_id, const char *model, const char *serial)
{
    uint8_t bin[6];
    char canon[13], num[24];
    int ok = 1;

    if (ztp_mac_parse(mac, strlen(mac), bin) != 0) {
        error_at(im, line, "\"%.40s\" is not a unicast MAC address", mac);
        ok = 0;
    }
    if (!text_ok(profile, 200)) {
        error_at(im, line, "profile must be at most 200 characters without control characters%s", "");
        ok = 0;
    }
    if (*profile_id != '\0' && !ztp_uuid_ok(profile_id, strlen(profile_id))) {
        error_at(im, line, "profile_id must be a profile id%s", "");
        ok = 0;
    }
    if (!text_ok(model, 64) || !text_ok(serial, 64)) {
        error_at(im, line, "model and serial must be at most 64 characters without control characters%s", "");
        ok = 0;
    }
    if (!ok)
        return -1;
    ztp_mac_format(bin, canon);
    snprintf(num, sizeof(num), "%zu", line);
    column(&im->macs, canon, im->rows);
    column(&im->profiles, profile, im->rows);
    column(&im->profile_ids, profile_id, im->rows);
    column(&im->models, model, im->rows);
    column(&im->serials, serial, im->rows);
    column(&im->lines, num, im->rows);
    im->rows++;
    return 0;
}

/* ---- CSV -------------------------------------------------------------- */

typedef struct csv {
    const char *p, *end;
    size_t line;
} csv_t;

/* Reads one record into fields (each at most MAX_FIELD-1 bytes); returns the
 * number of fields, 0 at the end, -1 for a malformed record (skipped). */
static int csv_record(csv_t *c, char fields[][MAX_FIELD], int maxfields, const char **why)
{
    int n = 0;
    size_t len = 0;
    int quoted = 0, was_quoted = 0, too_long = 0;

    if (c->p >= c->end)
        return 0;
    *why = NULL;
    for (;;) {
        int ch = c->p < c->end ? (unsigned char)*c->p++ : -1;
        if (quoted) {
            if (ch == -1) {
                *why = "an unterminated quoted field";
                return -1;
            }
            if (ch == '"') {
                if (c->p < c->end && *c->p == '"') {
                    c->p++;
                } else {
                    quoted = 0;
                    continue;
                }
            } else if (ch == '\n') {
                c->line++;
            }
        } else if (ch == '"' && len == 0 && !was_quoted) {
            quoted = was_quoted = 1;
            continue;
        } else if (ch == ',' || ch == '\n' || ch == '\r' || ch == -1) {
            if (n < maxfields) {
                fields[n][len < MAX_FIELD ? len : MAX_FIELD - 1] = '\0';
                if (too_long)
                    *why = "a field longer than 255 characters";
            }
            n++;
            len = 0;
            too_long = was_quoted = 0;
            if (ch == ',')
                continue;
            if (ch == '\r' && c->p < c->end && *c->p == '\n')
                c->p++;
            break;
        }
        if (n < maxfields) {
            if (len < MAX_FIELD - 1)
                fields[n][len] = (char)ch;
            else
                too_long = 1;
        }
        len++;
    }
    if (n > maxfields && *why == NULL)
        *why = "more fields than the header";
    return *why != NULL ? -1 : n;
}

static int is_blank(int n, char fields[][MAX_FIELD])
{
    return n == 1 && fields[0][0] == '\0';
}

void ztp_import_parse_csv(ztp_import_t *im, const char *body, size_t len)
{
    csv_t c = {body, body + len, 1};
    char fields[8][MAX_FIELD];
    int cols[8], ncols, n;
    const char *why;

    ncols = csv_record(&c, fields, 8, &why);
    if (ncols <= 0) {
        error_at(im, 1, "the first line must be a header naming the columns (mac, profile, model, serial)%s",
                 "");
        return;
    }
    int have[COL_NONE] = {0};
    for (int i = 0; i < ncols; i++) {
        static const char *const names[COL_NONE] = {"mac", "profile", "model", "serial"};
        cols[i] = COL_NONE;
        for (int k = 0; k < COL_NONE; k++)
            if (strcmp(fields[i], names[k]) == 0)
                cols[i] = k;
        if (cols[i] == COL_NONE || have[cols[i]]++)
            error_at(im, 1, "unknown or repeated column \"%.40s\"", fields[i]);
    }
    if (!have[COL_MAC])
        error_at(im, 1, "the header has no mac column%s", "");
    if (im->nerrors > 0)
        return;
    im->has_profile = have[COL_PROFILE];
    im->has_model = have[COL_MODEL];
    im->has_serial = have[COL_SERIAL];
    for (;;) {
        size_t line = ++c.line;
        n = csv_record(&c, fields, 8, &why);
        if (n == 0)
            break;
        if (n < 0) {
            error_at(im, line, "malformed CSV: %s", why);
            continue;
        }
        if (is_blank(n, fields))
            continue;
        if (n != ncols) {
            error_at(im, line, "expected as many fields as the header%s", "");
            continue;
        }
        const char *v[COL_NONE] = {"", "", "", ""};
        for (int i = 0; i < ncols; i++)
            v[cols[i]] = fields[i];
        add_row(im, line, v[COL_MAC], v[COL_PROFILE], "", v[COL_MODEL], v[COL_SERIAL]);
    }
}

/* ---- JSON ------------------------------------------------------------- */

static const char *member(json_t *o, const char *key, size_t line, ztp_import_t *im, int *bad)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL || json_is_null(v))
        return "";
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        error_at(im, line, "%s must be a string", key);
        *bad = 1;
        return "";
    }
    return json_string_value(v);
}

void ztp_import_parse_json(ztp_import_t *im, const char *body, size_t len)
{
    json_error_t err;
    json_t *doc = json_loadb(body, len, 0, &err), *item;
    size_t i;

    if (!json_is_array(doc)) {
        error_at(im, 1, doc == NULL ? "malformed JSON: %s" : "the body must be a JSON array of devices%s",
                 doc == NULL ? err.text : "");
        json_decref(doc);
        return;
    }
    json_array_foreach(doc, i, item)
    {
        size_t line = i + 1;
        int bad = 0;
        if (!json_is_object(item)) {
            error_at(im, line, "each item must be an object%s", "");
            continue;
        }
        const char *mac = member(item, "mac", line, im, &bad),
                   *profile = member(item, "profile", line, im, &bad);
        const char *pid = member(item, "profile_id", line, im, &bad),
                   *model = member(item, "model", line, im, &bad);
        const char *serial = member(item, "serial", line, im, &bad);
        if (bad)
            continue;
        if (*profile && *pid) {
            error_at(im, line, "give profile or profile_id, not both%s", "");
            continue;
        }
        im->has_profile |=
            json_object_get(item, "profile") != NULL || json_object_get(item, "profile_id") != NULL;
        im->has_model |= json_object_get(item, "model") != NULL;
        im->has_serial |= json_object_get(item, "serial") != NULL;
        add_row(im, line, mac, profile, pid, model, serial);
    }
    json_decref(doc);
}

/* ---- the handler ------------------------------------------------------ */

#include "../services/http.h"
#include "../services/worker.h"

#define IMPORT_TIMEOUT_MS (15 * 60 * 1000)

ZTP_SQL(SQL_IMPORT, 13,
        "SELECT r.status, r.body, ztp_idem_store('devices-import', $12, $13, NULL, r.status, r.body)"
        " FROM ztp_devices_import($1, $2, $3, $4, $5, $6, $7::boolean, $8::boolean, $9::boolean,"
        " $10::boolean, $11::boolean) r");

typedef struct import_opts {
    int dry, skip;
} import_opts_t;

static int flag(h2o_req_t *req, const char *name, const char *yes, const char *no, int *out, json_t *errors)
{
    const char *v = ztp_http_query(req, name);
    char detail[64];
    *out = 0;
    if (v == NULL || *v == '\0' || strcmp(v, no) == 0)
        return 0;
    if (strcmp(v, yes) == 0) {
        *out = 1;
        return 0;
    }
    snprintf(detail, sizeof(detail), "must be %s or %s", yes, no);
    ztp_errors_add(errors, name, detail);
    return -1;
}

static int looks_like_json(h2o_req_t *req)
{
    const char *p = req->entity.base, *end = p + req->entity.len;
    if (ztp_http_content_type_is(req, "application/json"))
        return 1;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return !ztp_http_content_type_is(req, "text/csv") && p < end && *p == '[';
}

static void on_replay(h2o_req_t *req, int status, const char *body, const char *nonce, void *arg)
{
    ztp_tenant_answer(req, status, body);
}

/* An import on its way: parsed on a worker thread (a million rows would
 * hold an event loop for a good part of a second), then sent to SQL. */
typedef struct job {
    ztp_hold_t *hold;
    ztp_auth_t who;
    ztp_idem_t idem;
    int has_idem, json;
    import_opts_t opts;
    char *body;
    size_t len;
    ztp_import_t im;
} job_t;

static void parse(void *arg)
{
    job_t *j = arg;
    if (j->json)
        ztp_import_parse_json(&j->im, j->body, j->len);
    else
        ztp_import_parse_csv(&j->im, j->body, j->len);
    free(j->body);
    j->body = NULL;
}

static void send_parse_errors(h2o_req_t *req, ztp_import_t *im)
{
    json_t *report = json_pack("{s:i, s:i, s:i, s:[], s:O}", "created", 0, "updated", 0, "skipped", 0,
                               "conflicts", "errors", im->errors);
    char detail[96] = "the import holds no devices";
    if (im->nerrors > 0)
        snprintf(detail, sizeof(detail), "%zu rows have errors; nothing was applied", im->nerrors);
    ztp_http_problem_with(req, 422, detail, report);
}

static void parsed(void *arg)
{
    job_t *j = arg;
    h2o_req_t *req = ztp_http_release(j->hold);
    ztp_import_t *im = &j->im;

    if (req == NULL) {
        /* the client left while we parsed */
    } else if (im->nerrors > 0 || im->rows == 0) {
        send_parse_errors(req, im);
    } else {
        const char *p[13] = {im->macs.p,
                             im->profiles.p ? im->profiles.p : "",
                             im->profile_ids.p ? im->profile_ids.p : "",
                             im->models.p ? im->models.p : "",
                             im->serials.p ? im->serials.p : "",
                             im->lines.p,
                             im->has_profile ? "true" : "false",
                             im->has_model ? "true" : "false",
                             im->has_serial ? "true" : "false",
                             j->opts.dry ? "true" : "false",
                             j->opts.skip ? "true" : "false",
                             j->has_idem ? j->idem.key : NULL,
                             j->has_idem ? j->idem.hash : NULL};
        ztp_tenant_call_timeout(req, &j->who, &SQL_IMPORT, p, NULL, NULL, IMPORT_TIMEOUT_MS);
    }
    ztp_import_free(im);
    free(j);
}

static void on_fresh(h2o_req_t *req, const ztp_auth_t *who, const ztp_idem_t *idem, void *arg)
{
    import_opts_t *o = arg;
    job_t *j = calloc(1, sizeof(*j));

    j->who = *who;
    if (idem != NULL) {
        j->idem = *idem;
        j->has_idem = 1;
    }
    j->opts = *o;
    j->json = looks_like_json(req);
    j->len = req->entity.len;
    j->body = malloc(j->len + 1);
    memcpy(j->body, req->entity.base, j->len); /* the request may be freed while the worker reads */
    j->body[j->len] = '\0';
    ztp_import_init(&j->im);
    j->hold = ztp_http_hold(req);
    ztp_worker_submit(parse, parsed, j);
    free(o);
}

void ztp_import_handle(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    json_t *errors = json_array();
    import_opts_t *o = calloc(1, sizeof(*o));

    flag(req, "dry_run", "true", "false", &o->dry, errors);
    flag(req, "on_conflict", "skip", "fail", &o->skip, errors);
    if (ztp_errors_answer(req, errors)) {
        free(o);
        return;
    }
    if (req->entity.base == NULL || req->entity.len == 0) {
        free(o);
        ztp_http_problem(
            req, 400, "send the devices as text/csv (a header row, then one device a line) or a JSON array");
        return;
    }
    ztp_idem_begin(req, who, "devices-import", on_fresh, on_replay, o);
}

/*
 * Parsing of device imports. Everything is validated here, at the edge, so
 * that what reaches SQL is canonical: MACs as 12 hex digits, texts without
 * control characters, UTF-8 without NUL; the rows are then written in COPY
 * text format, escaped whatever they hold (services/copytext.c).
 */
#include "import.h"

#include "../redirect/mac.h"
#include "../services/copytext.h"
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
    ztp_buf_free(&im->copy);
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
        error_at(im, line, "profile must be UTF-8, at most 200 characters without control characters%s", "");
        ok = 0;
    }
    if (*profile_id != '\0' && !ztp_uuid_ok(profile_id, strlen(profile_id))) {
        error_at(im, line, "profile_id must be a profile id%s", "");
        ok = 0;
    }
    if (!text_ok(model, 64) || !text_ok(serial, 64)) {
        error_at(im, line, "model and serial must be UTF-8, at most 64 characters without control characters%s",
                 "");
        ok = 0;
    }
    if (!ok)
        return -1;
    ztp_mac_format(bin, canon);
    snprintf(num, sizeof(num), "%zu", line);
    /* the texts were checked above: the encoder cannot refuse them */
    const char *v[6] = {num, canon, profile, profile_id, model, serial};
    for (int i = 0; i < 6; i++)
        if (ztp_copy_field(&im->copy, i == 0, v[i], strlen(v[i]), 1) != 0)
            abort();
    ztp_copy_end_row(&im->copy);
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
    int quoted = 0, was_quoted = 0, too_long = 0, nul = 0;

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
                if (nul)
                    *why = "a NUL byte, which no text may hold";
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
        nul |= ch == 0;
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

/* The end of the JSON value starting at p: the first ',' or ']' outside
 * strings and brackets, or the unbalanced closer. Strings and nesting are
 * only tracked here; jansson validates each item itself. */
static const char *item_end(const char *p, const char *end)
{
    int depth = 0, in_string = 0;
    for (; p < end; p++) {
        char c = *p;
        if (in_string) {
            if (c == '\\')
                p++;
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return p;
            depth--;
        } else if (c == ',' && depth == 0) {
            return p;
        }
    }
    return end;
}

static const char *skip_space(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

static void add_json_item(ztp_import_t *im, size_t line, const char *text, size_t len)
{
    json_error_t err;
    json_t *item = json_loadb(text, len, 0, &err);
    int bad = 0;

    if (item == NULL) {
        error_at(im, line, "malformed JSON: %s", err.text);
        return;
    }
    if (!json_is_object(item)) {
        error_at(im, line, "each item must be an object%s", "");
        json_decref(item);
        return;
    }
    const char *mac = member(item, "mac", line, im, &bad), *profile = member(item, "profile", line, im, &bad);
    const char *pid = member(item, "profile_id", line, im, &bad), *model = member(item, "model", line, im, &bad);
    const char *serial = member(item, "serial", line, im, &bad);
    if (!bad && *profile && *pid) {
        error_at(im, line, "give profile or profile_id, not both%s", "");
        bad = 1;
    }
    if (!bad) {
        im->has_profile |= json_object_get(item, "profile") != NULL || json_object_get(item, "profile_id") != NULL;
        im->has_model |= json_object_get(item, "model") != NULL;
        im->has_serial |= json_object_get(item, "serial") != NULL;
        add_row(im, line, mac, profile, pid, model, serial);
    }
    json_decref(item);
}

/* Item by item: only one item's tree is ever in memory, so that a body of
 * N bytes costs about N more in COPY rows, not the 20 N of a whole tree. */
void ztp_import_parse_json(ztp_import_t *im, const char *body, size_t len)
{
    const char *p = skip_space(body, body + len), *end = body + len;
    size_t line = 0;

    if (p == end || *p != '[') {
        error_at(im, 1, "the body must be a JSON array of devices%s", "");
        return;
    }
    p = skip_space(p + 1, end);
    if (p < end && *p == ']') {
        p++;
    } else {
        for (;;) {
            const char *stop = item_end(p, end), *last = stop;
            while (last > p && (last[-1] == ' ' || last[-1] == '\n' || last[-1] == '\r' || last[-1] == '\t'))
                last--;
            add_json_item(im, ++line, p, (size_t)(last - p));
            if (stop == end || *stop == '}') {
                error_at(im, line, "malformed JSON: %s", stop == end ? "the array is not closed" : "unbalanced '}'");
                return;
            }
            p = stop + 1;
            if (*stop == ']')
                break;
            p = skip_space(p, end);
        }
    }
    if (skip_space(p, end) != end)
        error_at(im, line + 1, "malformed JSON: %s", "text after the array");
}

#ifndef ZTP_IMPORT_H
#define ZTP_IMPORT_H

#include <jansson.h>
#include <stddef.h>

#include "../services/buf.h"

#define ZTP_IMPORT_MAX_ERRORS 1000

/* The columns of ztp_import_t.copy's rows, as COPY names them. */
#define ZTP_IMPORT_COPY_COLUMNS "line, mac, profile_name, profile_in, model, serial"

/* A parsed import: its rows in COPY text format (services/copytext.h), ready
 * for COPY ... (ZTP_IMPORT_COPY_COLUMNS) FROM STDIN; an empty field is NULL. */
typedef struct ztp_import {
    size_t rows;
    ztp_buf_t copy;
    int has_profile, has_model, has_serial;
    json_t *errors; /* [{"line", "detail"}], at most ZTP_IMPORT_MAX_ERRORS */
    size_t nerrors; /* all of them, reported or not */
} ztp_import_t;

void ztp_import_init(ztp_import_t *im);
void ztp_import_free(ztp_import_t *im);

/* Parses a CSV body (RFC 4180, header row with mac and optionally profile,
 * model, serial). Pure; problems land in im->errors with their line. */
void ztp_import_parse_csv(ztp_import_t *im, const char *body, size_t len);

/* Parses a JSON array of device objects; "line" is the item's position (1-based). */
void ztp_import_parse_json(ztp_import_t *im, const char *body, size_t len);

#endif

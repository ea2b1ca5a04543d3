#ifndef ZTP_IMPORT_H
#define ZTP_IMPORT_H

#include <jansson.h>
#include <stddef.h>

#include "../services/buf.h"

#define ZTP_IMPORT_MAX_ERRORS 1000

/* A parsed import: one newline-joined column per field (an empty line is
 * NULL), ready to travel to PostgreSQL as text parameters. */
typedef struct ztp_import {
    size_t rows;
    ztp_buf_t macs, profiles, profile_ids, models, serials, lines;
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

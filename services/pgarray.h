#ifndef ZTP_PGARRAY_H
#define ZTP_PGARRAY_H

#include <stddef.h>

#include "buf.h"

/*
 * PostgreSQL array literals ("{...}" in text format), the one way rows go to
 * the database as arrays (a bind parameter cast to type[] and unnested).
 * Every element is double-quoted with " and \ escaped, so that no text (an
 * empty string, "NULL", braces, commas, spaces) can change the array's shape;
 * a C NULL is the SQL NULL. PostgreSQL text cannot hold a NUL byte: one ends
 * the element. The bytes must be valid in the database encoding (UTF-8) or
 * the statement fails: callers pass validated text.
 */
typedef struct ztp_pgarray {
    ztp_buf_t buf;
    size_t n;   /* elements so far */
    int closed; /* buf ends with the closing brace (ztp_pgarray_text) */
} ztp_pgarray_t;

/* Empties a (zero-initialised or used) array for reuse, keeping its memory. */
void ztp_pgarray_reset(ztp_pgarray_t *a);

/* Appends s (NUL-terminated), or SQL NULL when s is NULL. */
void ztp_pgarray_add(ztp_pgarray_t *a, const char *s);

/* Appends the first len bytes of s (up to a NUL), or SQL NULL when s is NULL. */
void ztp_pgarray_addn(ztp_pgarray_t *a, const char *s, size_t len);

/* The literal, NUL-terminated; valid until the next call on a. */
const char *ztp_pgarray_text(ztp_pgarray_t *a);

/* Frees a's memory; a is empty and reusable afterwards. */
void ztp_pgarray_free(ztp_pgarray_t *a);

#endif

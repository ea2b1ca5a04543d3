#ifndef ZTP_COPYTEXT_H
#define ZTP_COPYTEXT_H

#include <stddef.h>

#include "buf.h"

/* COPY ... FROM STDIN in PostgreSQL's text format: one row a line, fields
 * separated by tabs, \N for NULL. Every byte a field may hold is written so
 * that PostgreSQL reads back exactly the field: backslash, tab, newline,
 * carriage return and the other control characters are escaped. What
 * PostgreSQL cannot hold in a text column is refused, not sent: a NUL byte,
 * or bytes that are not UTF-8. */

/* The length of the UTF-8 character at s (n bytes left: 1 to 4), or 0 when
 * the bytes there are none (a stray continuation byte, an overlong form, a
 * surrogate, past U+10FFFF, cut short). NUL is a character of length 1. */
size_t ztp_utf8_char(const char *s, size_t n);

/* Whether the character at p (in NUL-terminated UTF-8) is a control
 * character: C0, DEL or C1 (U+0080 to U+009F, NEL among them). */
int ztp_utf8_is_control(const char *p);

/* Whether s[0..len) is UTF-8 without NUL (what a text column accepts). */
int ztp_copy_text_ok(const char *s, size_t len);

/* Appends one field, preceded by a tab unless it is the row's first; NULL
 * (or, with empty_is_null, an empty field) is written \N. Returns 0, or -1
 * when s is no text PostgreSQL can hold (nothing is appended). */
int ztp_copy_field(ztp_buf_t *b, int first, const char *s, size_t len, int empty_is_null);

/* Ends a row. */
void ztp_copy_end_row(ztp_buf_t *b);

#endif

#ifndef ZTP_BUF_H
#define ZTP_BUF_H

#include <stddef.h>

/* A growable byte buffer; zero-initialise, then ztp_buf_free. */
typedef struct ztp_buf {
    char *p;
    size_t len, cap;
} ztp_buf_t;

void ztp_buf_append(ztp_buf_t *b, const char *s, size_t len);
void ztp_buf_puts(ztp_buf_t *b, const char *s);
void ztp_buf_printf(ztp_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s with & < > " ' written as XML entities. */
void ztp_buf_xml_escaped(ztp_buf_t *b, const char *s);
void ztp_buf_free(ztp_buf_t *b);

/* The value of one hexadecimal digit, or -1. */
static inline int ztp_hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif

#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void reserve(ztp_buf_t *b, size_t more)
{
    size_t cap = b->cap ? b->cap : 256;
    if (b->len + more + 1 <= b->cap)
        return;
    while (cap < b->len + more + 1)
        cap *= 2;
    b->p = realloc(b->p, cap);
    if (b->p == NULL)
        abort();
    b->cap = cap;
}

void ztp_buf_append(ztp_buf_t *b, const char *s, size_t len)
{
    reserve(b, len);
    memcpy(b->p + b->len, s, len);
    b->len += len;
    b->p[b->len] = '\0';
}

void ztp_buf_puts(ztp_buf_t *b, const char *s)
{
    ztp_buf_append(b, s, strlen(s));
}

void ztp_buf_printf(ztp_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void ztp_buf_xml_escaped(ztp_buf_t *b, const char *s)
{
    const char *run = s;
    for (; *s != '\0'; s++) {
        const char *ent;
        switch (*s) {
        case '&': ent = "&amp;"; break;
        case '<': ent = "&lt;"; break;
        case '>': ent = "&gt;"; break;
        case '"': ent = "&quot;"; break;
        case '\'': ent = "&apos;"; break;
        default: continue;
        }
        ztp_buf_append(b, run, (size_t)(s - run));
        ztp_buf_puts(b, ent);
        run = s + 1;
    }
    ztp_buf_append(b, run, (size_t)(s - run));
}

void ztp_buf_free(ztp_buf_t *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

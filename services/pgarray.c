#include "pgarray.h"

#include <string.h>

void ztp_pgarray_reset(ztp_pgarray_t *a)
{
    a->buf.len = 0;
    a->n = 0;
    a->closed = 0;
    ztp_buf_append(&a->buf, "{", 1);
}

void ztp_pgarray_addn(ztp_pgarray_t *a, const char *s, size_t len)
{
    const char *end, *run;

    if (a->buf.len == 0)
        ztp_pgarray_reset(a);
    if (a->closed) {
        a->buf.p[--a->buf.len] = '\0';
        a->closed = 0;
    }
    if (a->n++ > 0)
        ztp_buf_append(&a->buf, ",", 1);
    if (s == NULL) {
        ztp_buf_append(&a->buf, "NULL", 4);
        return;
    }
    end = memchr(s, '\0', len);
    if (end == NULL)
        end = s + len;
    ztp_buf_append(&a->buf, "\"", 1);
    for (run = s; s < end; s++) {
        if (*s != '"' && *s != '\\')
            continue;
        ztp_buf_append(&a->buf, run, (size_t)(s - run));
        ztp_buf_append(&a->buf, "\\", 1);
        run = s;
    }
    ztp_buf_append(&a->buf, run, (size_t)(end - run));
    ztp_buf_append(&a->buf, "\"", 1);
}

void ztp_pgarray_add(ztp_pgarray_t *a, const char *s)
{
    ztp_pgarray_addn(a, s, s != NULL ? strlen(s) : 0);
}

const char *ztp_pgarray_text(ztp_pgarray_t *a)
{
    if (a->buf.len == 0)
        ztp_pgarray_reset(a);
    if (!a->closed)
        ztp_buf_append(&a->buf, "}", 1);
    a->closed = 1;
    return a->buf.p;
}

void ztp_pgarray_free(ztp_pgarray_t *a)
{
    ztp_buf_free(&a->buf);
    *a = (ztp_pgarray_t){0};
}

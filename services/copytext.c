/* COPY text format (see copytext.h). */
#include "copytext.h"

#include <stdint.h>

size_t ztp_utf8_char(const char *s, size_t n)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t len;
    uint32_t cp;
    if (n == 0)
        return 0;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2;
        cp = p[0] & 0x1f;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        len = 3;
        cp = p[0] & 0x0f;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4;
        cp = p[0] & 0x07;
    } else {
        return 0; /* a continuation byte first, an overlong C0/C1, or past U+10FFFF */
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    /* overlong forms, surrogates, beyond Unicode */
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

int ztp_copy_text_ok(const char *s, size_t len)
{
    for (size_t i = 0, k; i < len; i += k)
        if (s[i] == '\0' || (k = ztp_utf8_char(s + i, len - i)) == 0)
            return 0;
    return 1;
}

int ztp_copy_field(ztp_buf_t *b, int first, const char *s, size_t len, int empty_is_null)
{
    static const char hex[] = "0123456789abcdef";
    if (s != NULL && !ztp_copy_text_ok(s, len))
        return -1;
    if (!first)
        ztp_buf_append(b, "\t", 1);
    if (s == NULL || (len == 0 && empty_is_null)) {
        ztp_buf_append(b, "\\N", 2);
        return 0;
    }
    const char *run = s, *end = s + len;
    for (const char *p = s; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        char esc[4];
        size_t n = 2;
        if (c == '\\') {
            esc[1] = '\\';
        } else if (c == '\t') {
            esc[1] = 't';
        } else if (c == '\n') {
            esc[1] = 'n';
        } else if (c == '\r') {
            esc[1] = 'r';
        } else if (c < 0x20 || c == 0x7f) {
            esc[1] = 'x'; /* \xHH: the byte itself */
            esc[2] = hex[c >> 4];
            esc[3] = hex[c & 15];
            n = 4;
        } else {
            continue;
        }
        esc[0] = '\\';
        ztp_buf_append(b, run, (size_t)(p - run));
        ztp_buf_append(b, esc, n);
        run = p + 1;
    }
    ztp_buf_append(b, run, (size_t)(end - run));
    return 0;
}

void ztp_copy_end_row(ztp_buf_t *b)
{
    ztp_buf_append(b, "\n", 1);
}

int ztp_utf8_is_control(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return u[0] < 0x20 || u[0] == 0x7f || (u[0] == 0xc2 && u[1] >= 0x80 && u[1] <= 0x9f);
}

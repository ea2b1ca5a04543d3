#include "log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static void emit(const char *level, const char *fmt, va_list ap)
{
    char line[1024];
    int n = vsnprintf(line, sizeof(line), fmt, ap);

    if (n < 0)
        return;
    /* A message is one line, whatever it quotes (a database error's DETAIL,
     * a name someone typed): control characters become spaces, so no text
     * can split a line or forge another. */
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    while (n > 0 && (size_t)n <= sizeof(line) && line[n - 1] == ' ')
        line[--n] = '\0';
    /* One fprintf per line keeps lines from several threads whole. */
    fprintf(stderr, "ztpd: %s%s\n", level, line);
}

void ztp_log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit("error: ", fmt, ap);
    va_end(ap);
}

void ztp_log_info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit("", fmt, ap);
    va_end(ap);
}

#include <unistd.h>

#define ACCESS_BUF 65536

static __thread char access_buf[ACCESS_BUF];
static __thread size_t access_len;

void ztp_log_flush(void)
{
    size_t off = 0;
    while (off < access_len) {
        ssize_t n = write(STDOUT_FILENO, access_buf + off, access_len - off);
        if (n <= 0)
            break; /* stdout gone: drop the lines rather than block the loop */
        off += (size_t)n;
    }
    access_len = 0;
}

void ztp_log_access(const char *line, size_t len)
{
    if (access_len + len > ACCESS_BUF)
        ztp_log_flush();
    if (len > ACCESS_BUF)
        return;
    memcpy(access_buf + access_len, line, len);
    access_len += len;
}

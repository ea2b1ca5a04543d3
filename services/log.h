#ifndef ZTP_LOG_H
#define ZTP_LOG_H

#include <stdarg.h>
#include <stddef.h>

/* Operational messages go to stderr as one line each, prefixed "ztpd: ".
 * Never pass a secret (API key, activation code) to these. */
void ztp_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ztp_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Appends one access-log line (already JSON, ending in '\n') to this
 * thread's buffer; ztp_log_flush writes the buffer to stdout. */
void ztp_log_access(const char *line, size_t len);
void ztp_log_flush(void);
#endif

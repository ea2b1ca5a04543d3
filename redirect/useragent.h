#ifndef ZTP_USERAGENT_H
#define ZTP_USERAGENT_H

#include <stddef.h>

#define ZTP_UA_MAX 512 /* longer User-Agents are cut here before parsing */

/* What a phone's User-Agent tells. Every field is printable ASCII, possibly
 * empty; vendor is "unknown" when no pattern matched. */
typedef struct ztp_ua {
    char vendor[16];
    char model[48];
    char firmware[48];
    char mac[13]; /* canonical, or empty */
    char serial[48];
} ztp_ua_t;

/* Copies at most ZTP_UA_MAX bytes of ua, each byte outside printable ASCII
 * replaced by '?', and a NUL; returns the length. Only this text is parsed,
 * recorded or logged. */
size_t ztp_ua_clean(const char *ua, size_t len, char out[ZTP_UA_MAX + 1]);

/* Parses a User-Agent of any length or content; never fails. */
void ztp_ua_parse(const char *ua, size_t len, ztp_ua_t *out);

/* The Cisco product series number of a model: "CP-8845-3PCC" -> "8845-3PCC". */
void ztp_ua_series(const char *model, char *out, size_t cap);

#endif

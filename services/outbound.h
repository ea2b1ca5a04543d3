#ifndef ZTP_OUTBOUND_H
#define ZTP_OUTBOUND_H

#include <stddef.h>

/*
 * Webhook delivery: one thread of its own per ztpd, with its own database
 * connection and a libcurl multi handle, so that no event loop ever waits
 * on a receiver. It claims due deliveries (every replica may; SKIP LOCKED
 * and a lease keep each attempt to one), posts them signed as Standard
 * Webhooks do, records each attempt and schedules retries.
 */

/* A webhook secret as shown to its owner: "whsec_" + base64 of 32 bytes. */
#define ZTP_OUTBOUND_KEY_LEN 32
#define ZTP_OUTBOUND_SECRET_LEN (6 + 44)

/* The Standard Webhooks signature header value "v1,<base64 HMAC-SHA256 of
 * id.timestamp.body under key>" into out (at least 48 bytes). */
void ztp_outbound_sign(const unsigned char *key, size_t keylen, const char *msg_id, long long timestamp,
                       const char *body, size_t bodylen, char *out, size_t outlen);

/* Writes the "whsec_..." text of key (ZTP_OUTBOUND_KEY_LEN bytes) into out
 * (ZTP_OUTBOUND_SECRET_LEN + 1 bytes). */
void ztp_outbound_secret_text(const unsigned char key[ZTP_OUTBOUND_KEY_LEN], char *out);

/* Seconds until attempt number `attempt` (1 = the first retry) of a
 * delivery `age` seconds old, or a negative number when the 24 hours (both
 * divided by scale) are over. */
double ztp_outbound_retry_delay(int attempt, double age, int scale);

/* Starts the delivery thread (after ztp_config is loaded and
 * ztp_secret_init has run). */
void ztp_outbound_start(void);

/* Stops it: in-flight attempts are abandoned (their leases expire and they
 * are tried again) and the thread joined. Safe to call when not started. */
void ztp_outbound_stop(void);

#endif

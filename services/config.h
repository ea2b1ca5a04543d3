#ifndef ZTP_CONFIG_H
#define ZTP_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define ZTP_MAX_TRUSTED_PROXIES 16

/* Everything ztpd reads from its environment, validated once at start. */
typedef struct ztp_config {
    const char *database_url;
    char listen_host[64];
    int listen_port;
    char public_url[512]; /* ZTP_PUBLIC_URL, no trailing slash: where people open links */
    char tls_host[64];
    int tls_port; /* 0: no HTTPS listener */
    const char *tls_cert;
    const char *tls_key;
    const char *device_ca; /* ZTP_DEVICE_CA: manufacturers' authorities, or NULL */
    unsigned char secret[32];
    int have_secret;
    unsigned char secret_previous[32]; /* ZTP_SECRET_PREVIOUS, while rotating */
    int have_secret_previous;
    int threads;
    int db_conns;   /* connections per event-loop thread */
    int db_prepare; /* 0: unnamed statements (PgBouncer in transaction mode) */
    int db_timeout_ms;
    int http2;
    int access_log;
    size_t max_body_bytes; /* ZTP_MAX_BODY_MB: the largest body of any route */
    int max_connections;   /* open client connections per process */
    int max_active_codes;
    int code_retention_days;
    int audit_retention_days; /* 0: the audit trail is kept for ever */
    int sweep_every_s;        /* ZTP_SWEEP_EVERY_S: how often ended rows are swept */
    int webhook_allow_private; /* ZTP_WEBHOOK_ALLOW_PRIVATE: http and non-public receivers */
    int webhook_retry_scale;   /* ZTP_WEBHOOK_RETRY_SCALE: retry delays divided by it (tests) */
    int ntrusted;
    unsigned char trusted[ZTP_MAX_TRUSTED_PROXIES][16]; /* IPv6 or v4-mapped */
    int trusted_bits[ZTP_MAX_TRUSTED_PROXIES];
} ztp_config_t;

extern ztp_config_t ztp_config;

/* Fills `c` from the environment. On a bad variable returns -1 and writes one
 * human-readable line to `err`. `need_secret` makes ZTP_SECRET mandatory. */
int ztp_config_load(ztp_config_t *c, int need_secret, char *err, size_t errlen);

/* Parses "host:port" (host may be "[v6]"). Returns 0 or -1. */
int ztp_config_parse_hostport(const char *s, char *host, size_t hostlen, int *port);
/* ZTP_PUBLIC_URL s as an origin (http or https, host, optional port; a
 * trailing slash dropped, scheme and host in lower case) into out; -1 for
 * anything else (a path, a query, a user, a control character). */
int ztp_config_parse_public_url(const char *s, char *out, size_t outlen);

/* Parses 64 hex characters into 32 bytes. Returns 0 or -1. */
int ztp_config_parse_secret(const char *hex, unsigned char out[32]);

/* Whether the 16-byte address (v4 as v4-mapped) lies in a trusted proxy range. */
int ztp_config_is_trusted(const ztp_config_t *c, const unsigned char addr[16]);

#endif

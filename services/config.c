#include "config.h"
#include "buf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

ztp_config_t ztp_config;

int ztp_config_parse_hostport(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon;
    size_t hl;
    char *end;
    long p;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':')
            return -1;
        hl = (size_t)(close - s - 1);
        s++;
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return -1;
        hl = (size_t)(colon - s);
    }
    if (hl == 0 || hl >= hostlen)
        return -1;
    memcpy(host, s, hl);
    host[hl] = '\0';
    errno = 0;
    p = strtol(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || end == colon + 1 || p < 0 || p > 65535)
        return -1;
    *port = (int)p;
    return 0;
}

int ztp_config_parse_secret(const char *hex, unsigned char out[32])
{
    if (hex == NULL || strlen(hex) != 64)
        return -1;
    for (int i = 0; i < 32; i++) {
        unsigned v = 0;
        for (int j = 0; j < 2; j++) {
            int d = ztp_hex_value((unsigned char)hex[2 * i + j]);
            if (d < 0)
                return -1;
            v = v << 4 | (unsigned)d;
        }
        out[i] = (unsigned char)v;
    }
    return 0;
}

static int parse_int(const char *name, int def, int lo, int hi, int *out, char *err, size_t errlen)
{
    const char *v = getenv(name);
    char *end;
    long n;

    if (v == NULL || *v == '\0') {
        *out = def;
        return 0;
    }
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno != 0 || *end != '\0' || n < lo || n > hi) {
        snprintf(err, errlen, "%s must be an integer from %d to %d, got \"%.40s\"", name, lo, hi, v);
        return -1;
    }
    *out = (int)n;
    return 0;
}

static int parse_cidr(const char *s, unsigned char addr[16], int *bits)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    int maxbits, b;
    struct in_addr v4;

    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET, buf, &v4) == 1) {
        memset(addr, 0, 10);
        addr[10] = addr[11] = 0xff;
        memcpy(addr + 12, &v4, 4);
        maxbits = 32;
    } else if (inet_pton(AF_INET6, buf, addr) == 1) {
        maxbits = 128;
    } else {
        return -1;
    }
    b = maxbits;
    if (slash != NULL) {
        char *end;
        long l = strtol(slash + 1, &end, 10);
        if (*end != '\0' || end == slash + 1 || l < 0 || l > maxbits)
            return -1;
        b = (int)l;
    }
    *bits = maxbits == 32 ? b + 96 : b;
    return 0;
}

static int parse_trusted(ztp_config_t *c, char *err, size_t errlen)
{
    const char *v = getenv("ZTP_TRUSTED_PROXIES");
    char buf[1024], *save = NULL, *tok;

    c->ntrusted = 0;
    if (v == NULL || *v == '\0')
        return 0;
    if (strlen(v) >= sizeof(buf)) {
        snprintf(err, errlen, "ZTP_TRUSTED_PROXIES is too long");
        return -1;
    }
    strcpy(buf, v);
    for (tok = strtok_r(buf, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save)) {
        if (c->ntrusted == ZTP_MAX_TRUSTED_PROXIES ||
            parse_cidr(tok, c->trusted[c->ntrusted], &c->trusted_bits[c->ntrusted]) != 0) {
            snprintf(err, errlen,
                     "ZTP_TRUSTED_PROXIES: \"%.60s\" is not an address or CIDR range (at most %d)", tok,
                     ZTP_MAX_TRUSTED_PROXIES);
            return -1;
        }
        c->ntrusted++;
    }
    return 0;
}

int ztp_config_is_trusted(const ztp_config_t *c, const unsigned char addr[16])
{
    for (int i = 0; i < c->ntrusted; i++) {
        int bits = c->trusted_bits[i], full = bits / 8, rest = bits % 8;
        if (memcmp(addr, c->trusted[i], (size_t)full) != 0)
            continue;
        if (rest != 0) {
            unsigned char mask = (unsigned char)(0xff << (8 - rest));
            if ((addr[full] & mask) != (c->trusted[i][full] & mask))
                continue;
        }
        return 1;
    }
    return 0;
}

int ztp_config_parse_public_url(const char *s, char *out, size_t outlen)
{
    size_t scheme = strncmp(s, "https://", 8) == 0 ? 8 : strncmp(s, "http://", 7) == 0 ? 7 : 0;
    size_t len = strlen(s);
    char hostpart[300], host[300], *end;
    int port, ok;

    while (len > scheme && s[len - 1] == '/')
        len--;
    if (scheme == 0 || len == scheme || len >= outlen || len - scheme >= sizeof(hostpart))
        return -1;
    for (size_t i = scheme; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        /* an origin only: no path, query, fragment or user, nothing to escape */
        if (ch <= ' ' || ch >= 0x7f || strchr("/?#@\\\"'<>`{}|^%", ch) != NULL)
            return -1;
    }
    memcpy(hostpart, s + scheme, len - scheme);
    hostpart[len - scheme] = '\0';
    /* host, [v6 host], or either with a port checked as ZTP_LISTEN is */
    if (hostpart[0] == '[' && (end = strchr(hostpart, ']')) != NULL && end[1] == '\0')
        ok = end > hostpart + 1;
    else if (strchr(hostpart, ':') != NULL || hostpart[0] == '[')
        ok = ztp_config_parse_hostport(hostpart, host, sizeof(host), &port) == 0 && port > 0 &&
             (hostpart[0] == '[' || strchr(host, ':') == NULL);
    else
        ok = 1;
    if (!ok)
        return -1;
    /* browsers send Origin in lower case: compare like with like */
    for (size_t i = 0; i < len; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[len] = '\0';
    return 0;
}

/* ZTP_DEVICE_CA: a readable file, and an HTTPS listener to use it on. */
static int load_device_ca(ztp_config_t *c, char *err, size_t errlen)
{
    const char *v = getenv("ZTP_DEVICE_CA");
    FILE *f;

    if (v == NULL || *v == '\0')
        return 0;
    if (c->tls_port == 0) {
        snprintf(err, errlen,
                 "ZTP_DEVICE_CA needs the HTTPS listener (ZTP_TLS_LISTEN, ZTP_TLS_CERT, ZTP_TLS_KEY)");
        return -1;
    }
    if ((f = fopen(v, "r")) == NULL) {
        snprintf(err, errlen, "ZTP_DEVICE_CA: cannot read %.200s: %s", v, strerror(errno));
        return -1;
    }
    fclose(f);
    c->device_ca = v;
    return 0;
}

int ztp_config_load(ztp_config_t *c, int need_secret, char *err, size_t errlen)
{
    const char *v;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int body_mb;

    memset(c, 0, sizeof(*c));
    c->database_url = getenv("DATABASE_URL");
    if (c->database_url == NULL || *c->database_url == '\0') {
        snprintf(err, errlen, "DATABASE_URL is not set (a libpq URI such as postgresql://user@host/db)");
        return -1;
    }
    v = getenv("ZTP_LISTEN");
    if (v == NULL || *v == '\0')
        v = "127.0.0.1:8080";
    if (ztp_config_parse_hostport(v, c->listen_host, sizeof(c->listen_host), &c->listen_port) != 0) {
        snprintf(err, errlen, "ZTP_LISTEN must be host:port, got \"%.60s\"", v);
        return -1;
    }
    v = getenv("ZTP_PUBLIC_URL");
    if (v == NULL || *v == '\0') {
        int v6 = strchr(c->listen_host, ':') != NULL;
        snprintf(c->public_url, sizeof(c->public_url), "http://%s%s%s:%d", v6 ? "[" : "", c->listen_host,
                 v6 ? "]" : "", c->listen_port);
    } else if (ztp_config_parse_public_url(v, c->public_url, sizeof(c->public_url)) != 0) {
        snprintf(err, errlen,
                 "ZTP_PUBLIC_URL must be http:// or https:// and a host, with an optional port and no path,"
                 " got \"%.60s\"",
                 v);
        return -1;
    }
    v = getenv("ZTP_TLS_LISTEN");
    if (v != NULL && *v != '\0') {
        if (ztp_config_parse_hostport(v, c->tls_host, sizeof(c->tls_host), &c->tls_port) != 0) {
            snprintf(err, errlen, "ZTP_TLS_LISTEN must be host:port, got \"%.60s\"", v);
            return -1;
        }
        c->tls_cert = getenv("ZTP_TLS_CERT");
        c->tls_key = getenv("ZTP_TLS_KEY");
        if (c->tls_cert == NULL || *c->tls_cert == '\0' || c->tls_key == NULL || *c->tls_key == '\0') {
            snprintf(err, errlen, "ZTP_TLS_LISTEN needs ZTP_TLS_CERT and ZTP_TLS_KEY");
            return -1;
        }
    }
    if (load_device_ca(c, err, errlen) != 0)
        return -1;
    v = getenv("ZTP_SECRET");
    if (v != NULL && *v != '\0') {
        if (ztp_config_parse_secret(v, c->secret) != 0) {
            snprintf(err, errlen, "ZTP_SECRET must be exactly 64 hexadecimal characters");
            return -1;
        }
        c->have_secret = 1;
    } else if (need_secret) {
        snprintf(err, errlen, "ZTP_SECRET is not set (64 hex characters, e.g. from: openssl rand -hex 32)");
        return -1;
    }
    v = getenv("ZTP_SECRET_PREVIOUS");
    if (v != NULL && *v != '\0') {
        if (ztp_config_parse_secret(v, c->secret_previous) != 0) {
            snprintf(err, errlen, "ZTP_SECRET_PREVIOUS must be exactly 64 hexadecimal characters");
            return -1;
        }
        c->have_secret_previous = 1;
    }
    if (parse_int("ZTP_THREADS", ncpu > 0 ? (int)ncpu : 1, 1, 256, &c->threads, err, errlen) != 0 ||
        parse_int("ZTP_DB_CONNS", 2, 1, 64, &c->db_conns, err, errlen) != 0 ||
        parse_int("ZTP_DB_PREPARE", 1, 0, 1, &c->db_prepare, err, errlen) != 0 ||
        parse_int("ZTP_DB_TIMEOUT_MS", 5000, 100, 600000, &c->db_timeout_ms, err, errlen) != 0 ||
        parse_int("ZTP_HTTP2", 0, 0, 1, &c->http2, err, errlen) != 0 ||
        parse_int("ZTP_ACCESS_LOG", 1, 0, 1, &c->access_log, err, errlen) != 0 ||
        parse_int("ZTP_MAX_BODY_MB", 8, 1, 1024, &body_mb, err, errlen) != 0 ||
        parse_int("ZTP_MAX_CONNECTIONS", 10000, 1, 1000000, &c->max_connections, err, errlen) != 0 ||
        parse_int("ZTP_MAX_ACTIVE_CODES", 100000, 1, 100000000, &c->max_active_codes, err, errlen) != 0 ||
        parse_int("ZTP_CODE_RETENTION_DAYS", 30, 0, 3650, &c->code_retention_days, err, errlen) != 0 ||
        parse_int("ZTP_AUDIT_RETENTION_DAYS", 0, 0, 36500, &c->audit_retention_days, err, errlen) != 0 ||
        parse_int("ZTP_SWEEP_EVERY_S", 3600, 1, 86400, &c->sweep_every_s, err, errlen) != 0 ||
        parse_int("ZTP_WEBHOOK_ALLOW_PRIVATE", 0, 0, 1, &c->webhook_allow_private, err, errlen) != 0 ||
        parse_int("ZTP_WEBHOOK_RETRY_SCALE", 1, 1, 100000, &c->webhook_retry_scale, err, errlen) != 0)
        return -1;
    c->max_body_bytes = (size_t)body_mb << 20;
    return parse_trusted(c, err, errlen);
}

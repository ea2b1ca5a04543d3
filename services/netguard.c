#include "netguard.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct range4 {
    uint32_t net;
    int bits;
} range4_t;

/* IANA's special-purpose IPv4 registry, less what is globally reachable. */
static const range4_t NOT_PUBLIC4[] = {
    {0x00000000, 8},  /* this network, 0.0.0.0 */
    {0x0a000000, 8},  /* private */
    {0x64400000, 10}, /* shared address space (carrier-grade NAT) */
    {0x7f000000, 8},  /* loopback */
    {0xa9fe0000, 16}, /* link-local (cloud metadata at 169.254.169.254) */
    {0xac100000, 12}, /* private */
    {0xc0000000, 24}, /* IETF protocol assignments */
    {0xc0000200, 24}, /* documentation */
    {0xc0586300, 24}, /* 6to4 relay anycast */
    {0xc0a80000, 16}, /* private */
    {0xc6120000, 15}, /* benchmarking */
    {0xc6336400, 24}, /* documentation */
    {0xcb007100, 24}, /* documentation */
    {0xe0000000, 4},  /* multicast */
    {0xf0000000, 4},  /* reserved, broadcast */
};

static int public4(uint32_t a)
{
    for (size_t i = 0; i < sizeof(NOT_PUBLIC4) / sizeof(NOT_PUBLIC4[0]); i++) {
        uint32_t mask = 0xffffffffu << (32 - NOT_PUBLIC4[i].bits);
        if ((a & mask) == NOT_PUBLIC4[i].net)
            return 0;
    }
    return 1;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int prefix_is(const unsigned char *a, const unsigned char *prefix, int bits)
{
    int bytes = bits / 8, rest = bits % 8;
    if (memcmp(a, prefix, (size_t)bytes) != 0)
        return 0;
    return rest == 0 || ((a[bytes] ^ prefix[bytes]) & (0xff << (8 - rest))) == 0;
}

static int public6(const unsigned char *a)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char zero[12] = {0};
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b};
    static const unsigned char six_to_four[2] = {0x20, 0x02};
    static const struct {
        unsigned char p[16];
        int bits;
    } not_public[] = {
        {{0xfc}, 7},               /* unique local */
        {{0xfe, 0x80}, 10},        /* link-local */
        {{0xfe, 0xc0}, 10},        /* site-local (deprecated) */
        {{0xff}, 8},               /* multicast */
        {{0x01, 0x00}, 64},        /* discard-only */
        {{0x20, 0x01, 0x0d, 0xb8}, 32}, /* documentation */
        {{0x20, 0x01}, 23},        /* IETF protocol assignments, Teredo */
        {{0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}, 48}, /* local-use NAT64 */
    };

    if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
        return public4(be32(a + 12));
    if (memcmp(a, zero, 12) == 0) /* ::, ::1 and the deprecated IPv4-compatible form */
        return 0;
    if (memcmp(a, six_to_four, 2) == 0)
        return public4(be32(a + 2));
    for (size_t i = 0; i < sizeof(not_public) / sizeof(not_public[0]); i++)
        if (prefix_is(a, not_public[i].p, not_public[i].bits))
            return 0;
    return 1;
}

int ztp_netguard_addr_public(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return public4(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
    if (sa->sa_family == AF_INET6)
        return public6(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
    return 0;
}

static int fail(char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return -1;
}

/* Copies a part of u into out; returns 0, or -1 when absent or too long. */
static int get_part(CURLU *u, CURLUPart what, unsigned flags, char *out, size_t outlen)
{
    char *v = NULL;
    int rc = -1;
    if (curl_url_get(u, what, &v, flags) == CURLUE_OK && strlen(v) < outlen) {
        strcpy(out, v);
        rc = 0;
    }
    curl_free(v);
    return rc;
}

int ztp_netguard_parse_url(const char *url, int allow_http, ztp_netguard_url_t *out, char *err, size_t errlen)
{
    CURLU *u;
    char *v = NULL;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (strlen(url) > 2048)
        return fail(err, errlen, "must be at most 2048 characters");
    for (const char *s = url; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f)
            return fail(err, errlen, "must not contain spaces or control characters");
    const char *authority = strstr(url, "://");
    if (authority == NULL || authority[3] == '/' || authority[3] == '\0')
        return fail(err, errlen, "must be an absolute URL");
    if ((u = curl_url()) == NULL)
        return fail(err, errlen, "cannot parse URLs now");
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        fail(err, errlen, "must be an absolute URL");
    } else if (get_part(u, CURLUPART_SCHEME, 0, out->scheme, sizeof(out->scheme)) != 0 ||
               (strcmp(out->scheme, "https") != 0 && (!allow_http || strcmp(out->scheme, "http") != 0))) {
        fail(err, errlen, allow_http ? "must be an http or https URL" : "must be an https URL");
    } else if (curl_url_get(u, CURLUPART_USER, &v, 0) == CURLUE_OK) {
        fail(err, errlen, "must not carry credentials");
    } else if (get_part(u, CURLUPART_HOST, 0, out->host, sizeof(out->host)) != 0 || out->host[0] == '\0') {
        fail(err, errlen, "must name a host");
    } else if (get_part(u, CURLUPART_PORT, CURLU_DEFAULT_PORT, out->port, sizeof(out->port)) != 0 ||
               strtol(out->port, NULL, 10) < 1) { /* libcurl takes port 0, which nothing listens on */
        fail(err, errlen, "must name a valid port");
    } else {
        size_t n = strlen(out->host);
        if (out->host[0] == '[' && n > 2 && out->host[n - 1] == ']') {
            memmove(out->host, out->host + 1, n - 2);
            out->host[n - 2] = '\0';
            char *zone = strchr(out->host, '%');
            if (zone != NULL)
                *zone = '\0';
        }
        rc = 0;
    }
    curl_free(v);
    curl_url_cleanup(u);
    return rc;
}

int ztp_netguard_check_host(const char *host, const char *port, int allow_private, char *err, size_t errlen)
{
    struct addrinfo hints = {0}, *res = NULL, *ai;
    int gai;

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if ((gai = getaddrinfo(host, port, &hints, &res)) != 0)
        return fail(err, errlen, "the host does not resolve");
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        if (!allow_private && !ztp_netguard_addr_public(ai->ai_addr)) {
            freeaddrinfo(res);
            return fail(err, errlen, "the host resolves to a loopback, private, link-local or otherwise "
                                     "non-public address");
        }
    }
    freeaddrinfo(res);
    return 0;
}

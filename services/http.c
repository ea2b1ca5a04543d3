#include "http.h"
#include "buf.h"
#include "config.h"
#include "log.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct ztp_hold {
    h2o_req_t *req;
    int refs;
};

/* The reason phrase of a status code. */
static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

void ztp_http_header(h2o_req_t *req, const h2o_token_t *token, const char *value)
{
    size_t len = strlen(value);
    char *copy = h2o_mem_alloc_pool(&req->pool, len + 1);
    memcpy(copy, value, len + 1);
    h2o_add_header(&req->pool, &req->res.headers, token, NULL, copy, len);
}

void ztp_http_send(h2o_req_t *req, int status, const char *content_type, const char *body, size_t len)
{
    req->res.status = status;
    req->res.reason = reason(status);
    if (content_type != NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type,
                       strlen(content_type));
    req->res.content_length = len;
    h2o_send_inline(req, body, len);
}

void ztp_http_json(h2o_req_t *req, int status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (text ==
        NULL) { /* no body: json_pack refused its values (text that is not UTF-8), or memory ran out */
        ztp_log_error("an answer could not be encoded as JSON");
        ztp_http_problem(req, 500, "internal error");
        return;
    }
    ztp_http_send(req, status, "application/json", text, strlen(text));
    free(text);
}

void ztp_http_problem_with(h2o_req_t *req, int status, const char *detail, json_t *members)
{
    json_t *p = json_is_object(members) ? members : json_object();
    char *text;

    if (p != members)
        json_decref(members);
    json_object_set_new(p, "type", json_string("about:blank"));
    json_object_set_new(p, "title", json_string(reason(status)));
    json_object_set_new(p, "status", json_integer(status));
    if (!json_is_string(json_object_get(p, "detail")))
        json_object_set_new(p, "detail", json_string(detail != NULL ? detail : reason(status)));
    text = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    ztp_http_send(req, status, "application/problem+json", text, strlen(text));
    free(text);
}

void ztp_http_problem_errors(h2o_req_t *req, int status, const char *detail, json_t *errors)
{
    json_t *members = json_object();
    if (errors != NULL)
        json_object_set_new(members, "errors", errors);
    ztp_http_problem_with(req, status, detail, members);
}

void ztp_http_problem(h2o_req_t *req, int status, const char *detail)
{
    ztp_http_problem_errors(req, status, detail, NULL);
}

void ztp_http_unavailable_because(h2o_req_t *req, const char *detail)
{
    ztp_http_header(req, H2O_TOKEN_RETRY_AFTER, "1");
    ztp_http_problem(req, 503, detail);
}

void ztp_http_unavailable(h2o_req_t *req)
{
    ztp_http_unavailable_because(req, "the database is unavailable; retry shortly");
}

void ztp_http_too_many(h2o_req_t *req, uint64_t wait_ms, const char *detail)
{
    char secs[24];
    uint64_t s = (wait_ms + 999) / 1000;
    snprintf(secs, sizeof(secs), "%llu", (unsigned long long)(s < 60 ? 60 : s));
    ztp_http_header(req, H2O_TOKEN_RETRY_AFTER, secs);
    ztp_http_problem(req, 429, detail);
}

const char *ztp_http_get_header(h2o_req_t *req, const h2o_token_t *token)
{
    ssize_t i = h2o_find_header(&req->headers, token, -1);
    char *copy;
    if (i < 0)
        return NULL;
    h2o_iovec_t v = req->headers.entries[i].value;
    copy = h2o_mem_alloc_pool(&req->pool, v.len + 1);
    memcpy(copy, v.base, v.len);
    copy[v.len] = '\0';
    return copy;
}

const char *ztp_http_get_header_str(h2o_req_t *req, const char *name)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
    if (i < 0)
        return NULL;
    h2o_iovec_t v = req->headers.entries[i].value;
    return h2o_strdup(&req->pool, v.base, v.len).base;
}

/* Percent-decodes s[0..len) into a NUL-terminated pool string ('+' is a space
 * when `plus`). Returns NULL on a bad escape or an embedded NUL. */
static char *urldecode(h2o_mem_pool_t *pool, const char *s, size_t len, int plus)
{
    char *out = h2o_mem_alloc_pool(pool, len + 1), *o = out;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= len)
                return NULL;
            hi = ztp_hex_value((unsigned char)s[i + 1]);
            lo = ztp_hex_value((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return NULL;
            c = hi * 16 + lo;
            i += 2;
        } else if (c == '+' && plus) {
            c = ' ';
        }
        if (c == 0)
            return NULL;
        *o++ = (char)c;
    }
    *o = '\0';
    return out;
}

int ztp_http_form_get(h2o_mem_pool_t *pool, const char *s, size_t len, const char *name, const char **out)
{
    size_t nlen = strlen(name);
    const char *q = s, *end = s + len;
    *out = NULL;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q)), *stop = amp ? amp : end;
        const char *eq = memchr(q, '=', (size_t)(stop - q));
        const char *kend = eq ? eq : stop;
        if ((size_t)(kend - q) == nlen && memcmp(q, name, nlen) == 0) {
            const char *v = eq ? eq + 1 : stop;
            *out = urldecode(pool, v, (size_t)(stop - v), 1);
            return *out != NULL ? 0 : -1;
        }
        q = stop + 1;
    }
    return 0;
}

int ztp_http_form_ok(const char *s, size_t len)
{
    if (memchr(s, '\0', len) != NULL)
        return 0;
    for (const char *p = memchr(s, '%', len); p != NULL; p = memchr(p + 1, '%', len - (size_t)(p + 1 - s))) {
        size_t left = len - (size_t)(p - s);
        if (left < 3 || ztp_hex_value((unsigned char)p[1]) < 0 || ztp_hex_value((unsigned char)p[2]) < 0 ||
            (p[1] == '0' && p[2] == '0'))
            return 0;
    }
    return 1;
}

int ztp_http_query_ok(h2o_req_t *req)
{
    return req->query_at == SIZE_MAX ||
           ztp_http_form_ok(req->path.base + req->query_at + 1, req->path.len - req->query_at - 1);
}

const char *ztp_http_query(h2o_req_t *req, const char *name)
{
    const char *v;
    if (req->query_at == SIZE_MAX)
        return NULL;
    ztp_http_form_get(&req->pool, req->path.base + req->query_at + 1, req->path.len - req->query_at - 1, name,
                      &v);
    return v;
}

int ztp_http_content_type_is(h2o_req_t *req, const char *type)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    size_t tlen = strlen(type);
    if (i < 0)
        return 0;
    h2o_iovec_t v = req->headers.entries[i].value;
    if (v.len < tlen || strncasecmp(v.base, type, tlen) != 0)
        return 0;
    return v.len == tlen || v.base[tlen] == ';' || v.base[tlen] == ' ';
}

static void on_hold_dispose(void *p)
{
    ztp_hold_t *h = *(ztp_hold_t **)p;
    h->req = NULL;
    if (--h->refs == 0)
        free(h);
}

ztp_hold_t *ztp_http_hold(h2o_req_t *req)
{
    ztp_hold_t *h = malloc(sizeof(*h));
    ztp_hold_t **slot;
    if (h == NULL)
        abort();
    h->req = req;
    h->refs = 2;
    slot = h2o_mem_alloc_shared(&req->pool, sizeof(*slot), on_hold_dispose);
    *slot = h;
    return h;
}

h2o_req_t *ztp_http_release(ztp_hold_t *h)
{
    h2o_req_t *req = h->req;
    if (--h->refs == 0)
        free(h);
    return req;
}

/* Dotted decimal without inet_ntop, whose sprintf showed in every phone's
 * request (perf, make bench). */
static int ipv4_text(const unsigned char a[4], char *out, size_t outlen)
{
    char *o = out;
    if (outlen < 16)
        return -1;
    for (int i = 0; i < 4; i++) {
        unsigned v = a[i];
        if (v >= 100)
            *o++ = (char)('0' + v / 100);
        if (v >= 10)
            *o++ = (char)('0' + v / 10 % 10);
        *o++ = (char)('0' + v % 10);
        *o++ = i < 3 ? '.' : '\0';
    }
    return 0;
}

static int addr_of(const struct sockaddr *sa, char *out, size_t outlen, unsigned char bin[16])
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const void *)sa;
        memset(bin, 0, 10);
        bin[10] = bin[11] = 0xff;
        memcpy(bin + 12, &sin->sin_addr, 4);
        return ipv4_text(bin + 12, out, outlen);
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const void *)sa;
        memcpy(bin, &sin6->sin6_addr, 16);
        return inet_ntop(AF_INET6, &sin6->sin6_addr, out, (socklen_t)outlen) ? 0 : -1;
    }
    return -1;
}

/* Whether p[0..n) is ":" and 1 to 5 digits: a port after an address. */
static int port_suffix(const char *p, size_t n)
{
    if (n < 2 || n > 6 || p[0] != ':')
        return 0;
    for (size_t i = 1; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return 1;
}

/* Parses one X-Forwarded-For element (spaces around it allowed) into a
 * 16-byte address: an IPv4 or IPv6 address, or, as some load balancers
 * write them, IPv4:port, [IPv6] and [IPv6]:port (an element read as
 * malformed made the proxy the client). Returns 0 or -1. */
static int xff_element(const char *p, size_t n, unsigned char bin[16])
{
    char tmp[INET6_ADDRSTRLEN];
    struct in_addr v4;
    const char *colon;
    while (n > 0 && (*p == ' ' || *p == '\t'))
        p++, n--;
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if (n > 0 && p[0] == '[') {
        const char *close = memchr(p, ']', n);
        size_t after;
        if (close == NULL)
            return -1;
        after = n - (size_t)(close + 1 - p);
        if (after != 0 && !port_suffix(close + 1, after))
            return -1;
        n = (size_t)(close - p) - 1;
        if (n == 0 || n >= sizeof(tmp))
            return -1;
        memcpy(tmp, p + 1, n);
        tmp[n] = '\0';
        return inet_pton(AF_INET6, tmp, bin) == 1 ? 0 : -1;
    }
    if ((colon = memchr(p, ':', n)) != NULL && memchr(colon + 1, ':', n - (size_t)(colon + 1 - p)) == NULL &&
        port_suffix(colon, n - (size_t)(colon - p)))
        n = (size_t)(colon - p); /* IPv4:port (one colon: no IPv6 address has only one) */
    if (n == 0 || n >= sizeof(tmp))
        return -1;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    if (inet_pton(AF_INET, tmp, &v4) == 1) {
        memset(bin, 0, 10);
        bin[10] = bin[11] = 0xff;
        memcpy(bin + 12, &v4, 4);
        return 0;
    }
    return inet_pton(AF_INET6, tmp, bin) == 1 ? 0 : -1;
}

/* Walks X-Forwarded-For from its right end, across every header line (a
 * proxy may add a line of its own rather than extend the last): the first
 * address that is not a trusted proxy is the client. A malformed element
 * stops the walk; bin keeps the last address trusted so far. */
static void forwarded_for(h2o_req_t *req, unsigned char bin[16])
{
    enum { LINES = 64 }; /* the last lines: a client may send any number before the proxies' */
    ssize_t idx[LINES];
    size_t nlines = 0, first;
    for (ssize_t i = -1; (i = h2o_find_header(&req->headers, H2O_TOKEN_X_FORWARDED_FOR, i)) >= 0;)
        idx[nlines++ % LINES] = i;
    first = nlines > LINES ? nlines - LINES : 0;
    while (nlines-- > first) {
        h2o_iovec_t v = req->headers.entries[idx[nlines % LINES]].value;
        size_t end = v.len;
        for (;;) {
            size_t start = end;
            unsigned char a[16];
            while (start > 0 && v.base[start - 1] != ',')
                start--;
            if (xff_element(v.base + start, end - start, a) != 0)
                return;
            memcpy(bin, a, 16);
            if (!ztp_config_is_trusted(&ztp_config, a))
                return;
            if (start == 0)
                break;
            end = start - 1;
        }
    }
}

int ztp_http_client_addr(h2o_req_t *req, char *out, size_t outlen, unsigned char bin[16])
{
    struct sockaddr_storage ss;
    socklen_t len;

    if (req->conn->callbacks->get_peername == NULL ||
        (len = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss)) == 0)
        return -1;
    if (addr_of((struct sockaddr *)&ss, out, outlen, bin) != 0)
        return -1;
    if (ztp_config.ntrusted > 0 && ztp_config_is_trusted(&ztp_config, bin)) {
        forwarded_for(req, bin);
        if (memcmp(bin, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
            inet_ntop(AF_INET, bin + 12, out, (socklen_t)outlen);
        else
            inet_ntop(AF_INET6, bin, out, (socklen_t)outlen);
    }
    return 0;
}

/* The q of one media range's parameters (text between its type and the
 * next comma): 1 when none says otherwise, 0 to 1. */
static double accept_q(const char *p, const char *end)
{
    double q = 1;
    for (; p < end; p++) {
        if (*p != ';')
            continue;
        const char *s = p + 1;
        while (s < end && (*s == ' ' || *s == '\t'))
            s++;
        if (end - s >= 2 && (s[0] == 'q' || s[0] == 'Q') && s[1] == '=') {
            char num[8];
            size_t n = 0;
            for (s += 2; s < end && n < sizeof(num) - 1 && ((*s >= '0' && *s <= '9') || *s == '.'); s++)
                num[n++] = *s;
            num[n] = '\0';
            q = n ? strtod(num, NULL) : 0;
        }
    }
    return q < 0 ? 0 : q > 1 ? 1 : q;
}

int ztp_http_accept_json(const char *accept, int default_json)
{
    double json_q = 0, xml_q = 0;
    int json_at = -1, xml_at = -1, i = 0;

    for (const char *p = accept; *p != '\0'; i++) {
        const char *end = p + strcspn(p, ",");
        const char *t = p, *te, *slash;
        while (t < end && (*t == ' ' || *t == '\t'))
            t++;
        te = t;
        while (te < end && *te != ';' && *te != ' ' && *te != '\t')
            te++;
        double q = accept_q(te, end);
        slash = memchr(t, '/', (size_t)(te - t));
        int json = te - t == 16 && strncasecmp(t, "application/json", 16) == 0;
        int xml = 0;
        for (const char *s = slash; s != NULL && s + 3 <= te && !xml; s++)
            xml = strncasecmp(s, "xml", 3) == 0;
        if (json && q > json_q)
            json_q = q, json_at = i;
        if (xml && q > xml_q)
            xml_q = q, xml_at = i;
        p = *end ? end + 1 : end;
    }
    if (json_at < 0 && xml_at < 0)
        return default_json;
    if (json_q != xml_q)
        return json_q > xml_q;
    return json_at >= 0 && (xml_at < 0 || json_at < xml_at);
}

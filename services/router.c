#include "router.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "config.h"
#include "server.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#define MAX_ROUTES 128
#define MAX_SEGMENTS 8

typedef struct route {
    const char *method;
    const char *pattern;
    int nsegs;
    h2o_iovec_t segs[MAX_SEGMENTS];
    ztp_route_fn fn;
    size_t max_body;
    void *data;
    int metric;
} route_t;

static route_t routes[MAX_ROUTES];
static int nroutes;
static int unmatched_metric = -1;

void ztp_router_add(const char *method, const char *pattern, ztp_route_fn fn, size_t max_body, void *data)
{
    route_t *r;
    const char *p = pattern + 1;

    if (nroutes == MAX_ROUTES)
        abort(); /* a build with more routes than MAX_ROUTES: raise it */
    r = &routes[nroutes++];

    r->method = method;
    r->pattern = pattern;
    r->fn = fn;
    r->max_body = max_body;
    r->data = data;
    while (*p != '\0') {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        r->segs[r->nsegs++] = h2o_iovec_init(p, len);
        p += len;
        if (*p == '/')
            p++;
    }
    /* one metric per pattern, shared by its methods */
    r->metric = -1;
    for (int i = 0; i < nroutes - 1; i++)
        if (strcmp(routes[i].pattern, pattern) == 0)
            r->metric = routes[i].metric;
    if (r->metric < 0)
        r->metric = ztp_metrics_route(pattern);
}

static int match(const route_t *r, h2o_iovec_t path, ztp_match_t *m)
{
    const char *p = path.base, *end = path.base + path.len;
    int i = 0;

    m->nparams = 0;
    m->data = r->data;
    if (p == end || *p != '/')
        return 0;
    p++;
    for (; i < r->nsegs; i++) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *stop = slash ? slash : end;
        h2o_iovec_t seg = h2o_iovec_init(p, (size_t)(stop - p));
        if (r->segs[i].len > 1 && r->segs[i].base[0] == '{' && r->segs[i].base[1] == '*') {
            /* the last segment "{*name}": the rest of the path, slashes included */
            if (p == end || m->nparams == ZTP_ROUTE_MAX_PARAMS)
                return 0;
            m->params[m->nparams++] = h2o_iovec_init(p, (size_t)(end - p));
            return i + 1 == r->nsegs;
        }
        if (r->segs[i].len > 0 && r->segs[i].base[0] == '{') {
            if (seg.len == 0 || m->nparams == ZTP_ROUTE_MAX_PARAMS)
                return 0;
            m->params[m->nparams++] = seg;
        } else if (seg.len != r->segs[i].len || memcmp(seg.base, r->segs[i].base, seg.len) != 0) {
            return 0;
        }
        if (slash == NULL) {
            p = end;
            i++;
            break;
        }
        p = slash + 1;
    }
    return i == r->nsegs && p == end;
}

typedef struct reqinfo {
    h2o_req_t *req;
    struct timeval start;
    int metric;
    char id[24];
} reqinfo_t;

static void append_escaped(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    for (size_t i = 0; i < n && *len + 7 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[(*len)++] = '\\';
            out[(*len)++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            *len += (size_t)snprintf(out + *len, cap - *len, "\\u%04x", c);
        } else {
            out[(*len)++] = (char)c;
        }
    }
}

/* The access log's pieces, written without printf: it runs for every
 * request (ZTP_ACCESS_LOG=1 is the default), and printf was the largest
 * user-space cost of a redirect in ztpd's profile. */
static size_t literal(char *out, const char *s)
{
    size_t n = strlen(s);
    memcpy(out, s, n);
    return n;
}

/* v in decimal, at least `width` digits (zero-padded); returns the length. */
static size_t digits(char *out, uint64_t v, int width)
{
    char tmp[24];
    size_t n = 0, len = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0 || (int)n < width);
    while (n > 0)
        out[len++] = tmp[--n];
    return len;
}

/* {"time":"YYYY-MM-DDTHH:MM:SS.uuuuuuZ","id":"  (the seconds formatted once per second per thread) */
static size_t time_prefix(char *out, struct timeval t)
{
    static __thread time_t cached_sec = -1;
    static __thread char cached[48];
    static __thread size_t cached_len;
    size_t len;
    if (t.tv_sec != cached_sec) {
        struct tm tm;
        gmtime_r(&t.tv_sec, &tm);
        cached_len = strftime(cached, sizeof(cached), "{\"time\":\"%Y-%m-%dT%H:%M:%S.", &tm);
        cached_sec = t.tv_sec;
    }
    memcpy(out, cached, cached_len);
    len = cached_len + digits(out + cached_len, (uint64_t)t.tv_usec, 6);
    return len + literal(out + len, "Z\",\"id\":\"");
}

static size_t id_field(char *out, const char *id)
{
    size_t len = literal(out, id);
    return len + literal(out + len, "\",\"method\":\"");
}

static void on_request_done(void *p)
{
    reqinfo_t *ri = p;
    h2o_req_t *req = ri->req;
    struct timeval now;
    uint64_t us;
    ztp_thread_t *t = ztp_self;

    gettimeofday(&now, NULL);
    us = (uint64_t)((now.tv_sec - ri->start.tv_sec) * 1000000 + (now.tv_usec - ri->start.tv_usec));
    ztp_metrics_request(ri->metric, req->res.status, us);
    if (t != NULL)
        t->inflight--;
    if (ztp_config.access_log) {
        char line[1024];
        size_t len = 0;
        size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
        len += time_prefix(line, ri->start);
        len += id_field(line + len, ri->id);
        append_escaped(line, sizeof(line) - 200, &len, req->method.base,
                       req->method.len > 16 ? 16 : req->method.len);
        len += literal(line + len, "\",\"path\":\"");
        append_escaped(line, sizeof(line) - 120, &len, req->path.base, plen > 256 ? 256 : plen);
        len += literal(line + len, "\",\"status\":");
        len += digits(line + len, (uint64_t)(req->res.status < 0 ? 0 : req->res.status), 1);
        len += literal(line + len, ",\"ms\":");
        len += digits(line + len, us / 1000, 1);
        line[len++] = '.';
        len += digits(line + len, us % 1000, 3);
        len += literal(line + len, "}\n");
        ztp_log_access(line, len);
    }
}

/* "<thread>-<sequence>" in hex, as "%x-%lx" would write it, without printf
 * (measured on every request). out holds 24 bytes. */
static void request_id(char out[24], unsigned thread, uint64_t seq)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[24];
    size_t n = 0, len = 0;
    do {
        tmp[n++] = hex[seq & 15];
        seq >>= 4;
    } while (seq != 0 && n < 16);
    tmp[n++] = '-';
    do {
        tmp[n++] = hex[thread & 15];
        thread >>= 4;
    } while (thread != 0 && n < 23);
    while (n > 0)
        out[len++] = tmp[--n];
    out[len] = '\0';
}

static int same_method(h2o_iovec_t m, const char *want)
{
    return m.len == strlen(want) && memcmp(m.base, want, m.len) == 0;
}

int ztp_router_on_req(h2o_handler_t *self, h2o_req_t *req)
{
    reqinfo_t *ri = h2o_mem_alloc_shared(&req->pool, sizeof(*ri), on_request_done);
    h2o_iovec_t path =
        h2o_iovec_init(req->path.base, req->query_at != SIZE_MAX ? req->query_at : req->path.len);
    ztp_match_t m;
    char allow[128] = "";
    int method = same_method(req->method, "HEAD") ? -1 : 0;
    (void)self;

    ri->req = req;
    gettimeofday(&ri->start, NULL);
    ri->metric = unmatched_metric;
    if (ztp_self != NULL) {
        ztp_self->inflight++;
        request_id(ri->id, (unsigned)ztp_self->index, ++ztp_self->reqseq);
    } else {
        strcpy(ri->id, "-");
    }
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, ri->id,
                          strlen(ri->id));
    for (int i = 0; i < nroutes; i++) {
        route_t *r = &routes[i];
        if (!match(r, path, &m))
            continue;
        ri->metric = r->metric;
        if (!same_method(req->method, r->method) && !(method < 0 && strcmp(r->method, "GET") == 0)) {
            if (strlen(allow) + strlen(r->method) + 3 < sizeof(allow))
                snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), "%s%s", allow[0] ? ", " : "",
                         r->method);
            continue;
        }
        if (req->entity.base != NULL && req->entity.len > r->max_body) {
            ztp_http_problem(req, 413, "the request body is larger than this endpoint accepts");
            return 0;
        }
        r->fn(req, &m);
        return 0;
    }
    if (allow[0] != '\0') {
        ztp_http_header(req, H2O_TOKEN_ALLOW, allow);
        ztp_http_problem(req, 405, "this method is not allowed here");
        return 0;
    }
    ztp_http_problem(req, 404, "no such resource");
    return 0;
}

/* Called once before routes are added, so that unknown paths have a metric. */
__attribute__((constructor)) static void router_init(void)
{
    unmatched_metric = ztp_metrics_route("unmatched");
}

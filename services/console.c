/* Serves the web console's embedded files (contract section 8). */
#include "console.h"
#include "http.h"
#include "router.h"

#include <stdlib.h>
#include <string.h>

/* The page, filled in by build_index: not an asset of its own. */
#define TEMPLATE "index.html"

/* Only the console's own origin; no inline script or style. */
#define CSP                                                                                                        \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "          \
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
#define IMMUTABLE "public, max-age=31536000, immutable"
/* index.html names its assets with this placeholder; the real prefix carries the hash */
#define ASSETS_MARK "@ASSETS@"

static char *index_html; /* index.html with ASSETS_MARK replaced, built at registration */
static size_t index_len;

const char *ztp_console_content_type(const char *name, size_t len)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},   {".svg", "image/svg+xml"},
        {".png", "image/png"},                 {".ico", "image/x-icon"},
        {".json", "application/json"},         {".txt", "text/plain; charset=utf-8"},
        {".woff2", "font/woff2"},
    };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        size_t n = strlen(types[i].ext);
        if (len > n && memcmp(name + len - n, types[i].ext, n) == 0)
            return types[i].type;
    }
    return "application/octet-stream";
}

/* The headers of every console answer; `cache` is a static string. */
static void security_headers(h2o_req_t *req, const char *cache)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("content-security-policy"), 0, NULL,
                          H2O_STRLIT(CSP));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-content-type-options"), 0, NULL,
                          H2O_STRLIT("nosniff"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("referrer-policy"), 0, NULL,
                          H2O_STRLIT("no-referrer"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, cache, strlen(cache));
}

static void not_found(h2o_req_t *req)
{
    security_headers(req, "no-store");
    ztp_http_problem(req, 404, "no such console file");
}

static const ztp_console_file_t *find(h2o_iovec_t name)
{
    for (int i = 0; i < ztp_console_nfiles; i++) {
        const ztp_console_file_t *f = &ztp_console_files[i];
        if (strlen(f->name) == name.len && memcmp(f->name, name.base, name.len) == 0)
            return f;
    }
    return NULL;
}

/* /console/ and /console/invite: the page; /console (the router matches both
 * with and without the slash): a redirect, so relative links resolve alike. */
static void on_index(h2o_req_t *req, const ztp_match_t *m)
{
    size_t len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    if (m->data == NULL && req->path.base[len - 1] != '/') {
        ztp_http_header(req, H2O_TOKEN_LOCATION, "/console/");
        security_headers(req, "no-cache");
        ztp_http_send(req, 301, "text/plain; charset=utf-8", "/console/\n", 10);
        return;
    }
    security_headers(req, "no-cache");
    ztp_http_send(req, 200, "text/html; charset=utf-8", index_html, index_len);
}

/* /console/a/{hash}/{*file}: only this build's hash and only embedded names,
 * compared as raw bytes, so "..", "%2e%2e" and the like name nothing. The
 * page's template is no asset: it is served, filled in, as /console/. */
static void on_asset(h2o_req_t *req, const ztp_match_t *m)
{
    const ztp_console_file_t *f;
    if (!h2o_memis(m->params[0].base, m->params[0].len, ztp_console_hash, strlen(ztp_console_hash)) ||
        (f = find(m->params[1])) == NULL || strcmp(f->name, TEMPLATE) == 0) {
        not_found(req);
        return;
    }
    security_headers(req, IMMUTABLE);
    ztp_http_send(req, 200, ztp_console_content_type(f->name, strlen(f->name)), f->data, (size_t)(f->end - f->data));
}

static void build_index(void)
{
    h2o_iovec_t src = {NULL, 0};
    char prefix[64];
    size_t plen, marklen = strlen(ASSETS_MARK), n = 0;

    for (int i = 0; i < ztp_console_nfiles; i++)
        if (strcmp(ztp_console_files[i].name, TEMPLATE) == 0)
            src = h2o_iovec_init(ztp_console_files[i].data,
                                 (size_t)(ztp_console_files[i].end - ztp_console_files[i].data));
    if (src.base == NULL)
        abort(); /* a build without console/index.html */
    plen = (size_t)snprintf(prefix, sizeof(prefix), "/console/a/%s", ztp_console_hash);
    for (const char *p = src.base; (p = memmem(p, src.len - (size_t)(p - src.base), ASSETS_MARK, marklen)); p += marklen)
        n++;
    index_html = malloc(src.len + n * plen + 1);
    if (index_html == NULL)
        abort();
    for (const char *p = src.base, *end = src.base + src.len; p < end;) {
        const char *hit = memmem(p, (size_t)(end - p), ASSETS_MARK, marklen);
        size_t take = hit ? (size_t)(hit - p) : (size_t)(end - p);
        memcpy(index_html + index_len, p, take);
        index_len += take;
        p += take;
        if (hit) {
            memcpy(index_html + index_len, prefix, plen);
            index_len += plen;
            p += marklen;
        }
    }
}

void ztp_console_register(void)
{
    build_index();
    ztp_router_add("GET", "/console", on_index, 0, NULL);
    ztp_router_add("GET", "/console/invite", on_index, 0, "invite");
    ztp_router_add("GET", "/console/a/{hash}/{*file}", on_asset, 0, NULL);
}

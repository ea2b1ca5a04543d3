#ifndef ZTP_ROUTER_H
#define ZTP_ROUTER_H

#define H2O_USE_LIBUV 0
#include <h2o.h>

#define ZTP_ROUTE_MAX_PARAMS 4

/* What a route matched: the raw text of each {param} of its pattern. */
typedef struct ztp_match {
    void *data; /* as given to ztp_router_add */
    int nparams;
    h2o_iovec_t params[ZTP_ROUTE_MAX_PARAMS];
} ztp_match_t;

/* A handler owns the request: it answers now or later, exactly once. */
typedef void (*ztp_route_fn)(h2o_req_t *req, const ztp_match_t *m);

/* Registers METHOD PATTERN (segments, "{name}" matching one segment, a last
 * "{*name}" matching the rest of the path, slashes included) with a
 * body limit in bytes; `data` reaches the handler in its match. Call before
 * the server starts. */
void ztp_router_add(const char *method, const char *pattern, ztp_route_fn fn, size_t max_body, void *data);

/* The h2o handler that dispatches to the routes: 404 for an unknown path,
 * 405 (with Allow) for a known path and another method, 413 over the limit. */
int ztp_router_on_req(h2o_handler_t *self, h2o_req_t *req);

#endif

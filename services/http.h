#ifndef ZTP_HTTP_H
#define ZTP_HTTP_H

#define H2O_USE_LIBUV 0
#include <h2o.h>
#include <jansson.h>

/* Sends body (copied into the request's pool) with status and content type. */
void ztp_http_send(h2o_req_t *req, int status, const char *content_type, const char *body, size_t len);

/* Sends a JSON document; takes over the reference to `body`. */
void ztp_http_json(h2o_req_t *req, int status, json_t *body);

/* Sends an RFC 9457 problem carrying the members of the object `members`
 * (taken over; may be NULL) beside type, title and status; a string
 * "detail" among them wins over `detail` (NULL: the reason phrase). The one
 * place a problem is built. */
void ztp_http_problem_with(h2o_req_t *req, int status, const char *detail, json_t *members);

/* Sends an RFC 9457 problem; `errors` (may be NULL) is taken over. */
void ztp_http_problem_errors(h2o_req_t *req, int status, const char *detail, json_t *errors);

/* ztp_http_problem_errors without an errors list. */
void ztp_http_problem(h2o_req_t *req, int status, const char *detail);

/* 503 with Retry-After: the database is away or saturated. */
void ztp_http_unavailable(h2o_req_t *req);

/* 503 with Retry-After: 1, for another reason, said in detail. */
void ztp_http_unavailable_because(h2o_req_t *req, const char *detail);

/* 429 with Retry-After: the remaining wait_ms in whole seconds, never less
 * than 60 (what the contract promises a refused client). */
void ztp_http_too_many(h2o_req_t *req, uint64_t wait_ms, const char *detail);

/* Adds a response header; value is copied. */
void ztp_http_header(h2o_req_t *req, const h2o_token_t *token, const char *value);

/* A request header's value as a NUL-terminated copy in the request's pool,
 * or NULL when absent. */
const char *ztp_http_get_header(h2o_req_t *req, const h2o_token_t *token);

/* ztp_http_get_header for a header h2o has no token for (lower-case name). */
const char *ztp_http_get_header_str(h2o_req_t *req, const char *name);

/* Looks up `name` in application/x-www-form-urlencoded text s[0..len) (a
 * query string or a form body); *out is its percent-decoded value in the
 * pool, or NULL when absent. Returns 0, or -1 for a malformed escape. */
int ztp_http_form_get(h2o_mem_pool_t *pool, const char *s, size_t len, const char *name, const char **out);

/* Whether every percent-escape of form text s[0..len) is two hex digits
 * and no byte, raw or escaped, is a NUL: what ztp_http_form_get decodes for
 * any name. */
int ztp_http_form_ok(const char *s, size_t len);

/* ztp_http_form_ok for the request's query string (none is fine). */
int ztp_http_query_ok(h2o_req_t *req);

/* Looks up query parameter `name` (percent-decoded into the pool). Returns
 * NULL when absent, and when its value is malformed: where that must not
 * read as absent, check ztp_http_query_ok first. */
const char *ztp_http_query(h2o_req_t *req, const char *name);

/* Whether the request's Content-Type is `type` (parameters ignored). */
int ztp_http_content_type_is(h2o_req_t *req, const char *type);

/* Whether an Accept header's value asks for JSON rather than XML: the media
 * type (application/json; any subtype naming xml) of the higher q, q=0
 * meaning not at all, case ignored; of equal q the first named; default_json
 * when it names neither. Pure. */
int ztp_http_accept_json(const char *accept, int default_json);

/*
 * A handle on a request that an asynchronous callback may outlive: h2o frees
 * a request whose client went away. ztp_http_hold takes one; ztp_http_release
 * gives back the request, or NULL when it is gone, and drops the handle.
 */
typedef struct ztp_hold ztp_hold_t;
ztp_hold_t *ztp_http_hold(h2o_req_t *req);
h2o_req_t *ztp_http_release(ztp_hold_t *h);

/* The client's address as text (out: at least INET6_ADDRSTRLEN bytes) and as
 * 16 bytes (v4-mapped for IPv4): the connection's peer or, when the peer is
 * a trusted proxy, the right-most address of X-Forwarded-For (all its header
 * lines, in order) that is not a trusted proxy. Returns 0 or -1. */
int ztp_http_client_addr(h2o_req_t *req, char *out, size_t outlen, unsigned char bin[16]);
#endif

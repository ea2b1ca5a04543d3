#ifndef ZTP_TENANT_H
#define ZTP_TENANT_H

#include <jansson.h>

#include "../services/db.h"
#include "../services/router.h"
#include "auth.h"

/*
 * A /v1 handler runs after authentication with the caller known. It
 * validates its input, then runs one statement as the caller's tenant
 * (role ztp_tenant, row-level security bound to its provider) whose single
 * row is (status int, body json); ztp_tenant_call answers with it.
 */
typedef void (*ztp_v1_fn)(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);

/* Registers a /v1 route: authentication first, then the least role the
 * route needs (roles.h: 403 below it), then fn. */
void ztp_v1_route(const char *method, const char *pattern, ztp_role_t role, ztp_v1_fn fn, size_t max_body);

/* Called with the live request and the (status, body) row, to answer in a
 * way of its own; arg as given. */
typedef void (*ztp_tenant_row_fn)(h2o_req_t *req, int status, const char *body, void *arg);

/* Runs sql (params as text) for who; answers from its (status, body) row:
 * 2xx bodies as JSON, 204 empty, 4xx as problems built from the body's
 * "detail" and "errors". With row_fn, hands the row over instead (arg is
 * then freed with free() after it returns, or when the request is gone). */
void ztp_tenant_call(h2o_req_t *req, const ztp_auth_t *who, ztp_sql_t *sql, const char *const *params,
                     ztp_tenant_row_fn row_fn, void *arg);

/* ztp_tenant_call for a statement allowed to run up to timeout_ms. */
void ztp_tenant_call_timeout(h2o_req_t *req, const ztp_auth_t *who, ztp_sql_t *sql, const char *const *params,
                             ztp_tenant_row_fn row_fn, void *arg, uint64_t timeout_ms);

/* Answers a (status, body) row as ztp_tenant_call does. */
void ztp_tenant_answer(h2o_req_t *req, int status, const char *body);

/* ---- Idempotency-Key ---- */

#define ZTP_IDEM_KEY_MAX 200

typedef struct ztp_idem {
    char key[ZTP_IDEM_KEY_MAX + 1];
    char hash[65]; /* of the query string and the body */
} ztp_idem_t;

/* The request runs for the first time; idem is NULL without the header.
 * Takes over arg. */
typedef void (*ztp_idem_fresh_fn)(h2o_req_t *req, const ztp_auth_t *who, const ztp_idem_t *idem, void *arg);

/* The same key came with the same request: answer with the kept (status,
 * body) and nonce (may be NULL). arg is freed after it returns. */
typedef void (*ztp_idem_replay_fn)(h2o_req_t *req, int status, const char *body, const char *nonce,
                                   void *arg);

/* Looks the request's Idempotency-Key up for `route`, then calls fresh or
 * replay; answers 422 itself for a malformed key or one used with another
 * request (freeing arg then, or when the client is gone). */
void ztp_idem_begin(h2o_req_t *req, const ztp_auth_t *who, const char *route, ztp_idem_fresh_fn fresh,
                    ztp_idem_replay_fn replay, void *arg);

/* ---- input helpers ---- */

/* Parses the request body as a JSON object (an empty body is {} when
 * allow_empty), whatever Content-Type says (curl -d sends a form type). On
 * failure answers 400 and returns NULL. */
json_t *ztp_json_body(h2o_req_t *req, int allow_empty);

/* Collects validation errors: {"field", "detail"} entries. */
void ztp_errors_add(json_t *errors, const char *field, const char *detail);

/* Answers 422 with the errors (taken over) when there are any; returns 1 then. */
int ztp_errors_answer(h2o_req_t *req, json_t *errors);

/* Whether s is printable text of 1..max bytes: UTF-8 (what the database
 * takes: else its refusal would read as an outage), no control characters. */
int ztp_text_ok(const char *s, size_t max);

/* Whether s is a canonical UUID. */
int ztp_uuid_ok(const char *s, size_t len);

/* The members of body named in keys (n of them) as compact JSON text
 * (malloc'ed): only what the SQL knows travels. */
char *ztp_json_pick(json_t *body, const char *const *keys, size_t n);

/* Reads ?limit= (1..1000, default 100) into out, or adds an error. */
void ztp_query_limit(h2o_req_t *req, json_t *errors, char out[8]);

/* A list paged by ?limit= and ?cursor= (the position of the page's last
 * item, as ztp_page_cursor writes it): sql takes (cursor, limit), or (state, cursor, limit) when states
 * is not NULL: ?state= is then one of states (NULL-terminated; else 422
 * with states_text). */
void ztp_list_page(h2o_req_t *req, const ztp_auth_t *who, ztp_sql_t *sql, const char *const *states,
                   const char *states_text);

/* Copies a path parameter into a NUL-terminated pool string. */
char *ztp_param(h2o_req_t *req, h2o_iovec_t v);

#endif

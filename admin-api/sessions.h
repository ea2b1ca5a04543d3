#ifndef ZTP_SESSIONS_H
#define ZTP_SESSIONS_H

#include <stddef.h>

#include "../services/router.h"
#include "auth.h"

/*
 * Sign-in: an email and a password give a session, an opaque random token
 * in a cookie (HttpOnly, SameSite=Strict, Secure over HTTPS), stored only
 * as a keyed hash; it ends after 1 hour idle, 12 hours in all, or at
 * sign-out. Passwords are checked on a worker thread.
 */
#define ZTP_SESSION_COOKIE "ztp_session"
#define ZTP_TOKEN_LEN 43 /* 32 random bytes, base64url without padding */

/* Finds the session token in a Cookie header value (len bytes); copies it
 * into out and returns 0; -1 when absent, -2 when the first cookie of that
 * name is malformed (no later one is tried). */
int ztp_session_cookie_find(const char *header, size_t len, char out[ZTP_TOKEN_LEN + 1]);

/* The same over a request's Cookie fields in order (HTTP/2 clients may send
 * each cookie in a field of its own), looking into at most 100 fields and
 * 32 KiB: 0, or below 0 when there is no well-formed session cookie. */
int ztp_session_cookie_of(h2o_req_t *req, char out[ZTP_TOKEN_LEN + 1]);

/* Whether s is a well-formed token (ZTP_TOKEN_LEN base64url characters). */
int ztp_token_ok(const char *s, size_t len);

/* Writes a new random token and the hex of its keyed hash (what is stored). */
void ztp_token_generate(char token[ZTP_TOKEN_LEN + 1], char hash_hex[65]);

/* The hex of a token's keyed hash under the current ZTP_SECRET. */
void ztp_token_hash(const char *token, char hash_hex[65]);

/* Authenticates req by its session token as ztp_auth_request does by a
 * key: calls cb with the person, or answers 401/503 and frees arg. */
void ztp_session_authenticate(h2o_req_t *req, const char *token, ztp_auth_cb cb, void *arg);

/* Whether a state-changing request authenticated by its cookie (or a
 * sign-in) came from the console: it carries X-ZTP-Console, or an Origin equal to
 * ZTP_PUBLIC_URL or to this request's own scheme and Host. Pure over the
 * three strings (each may be NULL). */
int ztp_session_same_origin(const char *console_header, const char *origin, const char *own_origin,
                            const char *public_url);

/* Whether req, authenticated by who, may go on: 0, or answers 403 and
 * returns -1 for a cross-site state change. */
int ztp_session_guard(h2o_req_t *req, const ztp_auth_t *who);

/* Registers POST /v1/sessions and GET and DELETE /v1/sessions/current. */
void ztp_sessions_register(size_t max_body);

#endif

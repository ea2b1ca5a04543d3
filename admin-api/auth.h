#ifndef ZTP_AUTH_H
#define ZTP_AUTH_H

#include <stddef.h>

#include "../services/router.h"
#include "roles.h"

/* An API key: "ztp_" + 16 hex key id + "_" + 43 base64url secret chars. */
#define ZTP_APIKEY_LEN 64
#define ZTP_APIKEY_ID_LEN 16

/* Makes a new key; writes the whole key, its id and the hex of its keyed
 * hash (the only thing stored). */
void ztp_apikey_generate(char key[ZTP_APIKEY_LEN + 1], char id[ZTP_APIKEY_ID_LEN + 1], char hash_hex[65]);

/* Extracts the key id of a well-formed key; returns 0 or -1. */
int ztp_apikey_parse(const char *key, size_t len, char id[ZTP_APIKEY_ID_LEN + 1]);

/* Whether key hashes to the stored hex hash under ZTP_SECRET or, while
 * rotating, ZTP_SECRET_PREVIOUS (constant time). */
int ztp_apikey_verify(const char *key, size_t len, const char *stored_hex);

/* Who a request acts for, once authenticated. */
typedef struct ztp_auth {
    char provider_id[40];
    char key_id[ZTP_APIKEY_ID_LEN + 1]; /* "" for a person signed in */
    char user_id[40];                   /* "" for an API key */
    char email[256];                    /* the person's, "" for an API key */
    ztp_role_t role;                    /* ZTP_ROLE_ADMIN for an API key */
} ztp_auth_t;

/* Called with the live request and the caller once the key checks out. */
typedef void (*ztp_auth_cb)(h2o_req_t *req, const ztp_auth_t *who, void *arg);

/* Authenticates the bearer key of req (or, without one, its session
 * cookie: sessions.h), then calls cb. When the key is bad,
 * the database away or the client gone, it answers 401 (with
 * WWW-Authenticate) or 503 itself, does not call cb, and frees arg. */
void ztp_auth_request(h2o_req_t *req, ztp_auth_cb cb, void *arg);

#endif

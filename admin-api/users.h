#ifndef ZTP_USERS_H
#define ZTP_USERS_H

#include <stddef.h>

#include "../services/router.h"
#include "auth.h"

/*
 * /v1/users: a provider's people. Inviting one gives a link, shown once,
 * whose token (stored only as a keyed hash) works once within 7 days to
 * choose a password, stored only as Argon2id (hashed on a worker thread).
 */
#define ZTP_EMAIL_MAX 254
#define ZTP_PASSWORD_MIN 12  /* characters */
#define ZTP_PASSWORD_MAX 256 /* bytes */

/* Writes s lower-cased and trimmed of surrounding spaces into out (cap
 * bytes, truncated). */
void ztp_user_email_normalise(const char *s, char *out, size_t cap);

/* Whether a normalised email is acceptable: 3..254 bytes, exactly one @
 * with text on both sides, no spaces or control characters. */
int ztp_user_email_ok(const char *s);

/* NULL when password is acceptable (12 characters .. 256 bytes, no NUL),
 * else what is wrong with it. */
const char *ztp_user_password_problem(const char *password, size_t len);

/* Writes the invitation link for token into out (cap bytes). */
void ztp_user_invite_url(const char *token, char *out, size_t cap);

/* Registers /v1/users and POST /v1/invites/accept. */
void ztp_users_register(size_t max_body);

#endif

#ifndef ZTP_SECRET_H
#define ZTP_SECRET_H

#include <stddef.h>

#define ZTP_HASH_LEN 32

typedef enum {
    ZTP_SECRET_API_KEY = 1,
    ZTP_SECRET_ACTIVATION_CODE = 2, /* hashing codes for storage */
    ZTP_SECRET_CODE_DERIVE = 3,     /* deriving codes from a random nonce */
    ZTP_SECRET_SEAL = 4,            /* encrypting what must be read back (webhook secrets) */
    ZTP_SECRET_PERSON = 5,          /* hashing invitation and session tokens for storage */
    ZTP_SECRET_CURSOR = 6,          /* page cursors over positions shared by every provider */
} ztp_secret_purpose_t;

/* Which master secret: ZTP_SECRET, or ZTP_SECRET_PREVIOUS while rotating. */
typedef enum { ZTP_SECRET_CURRENT = 0, ZTP_SECRET_PREVIOUS = 1 } ztp_secret_gen_t;

/* Derives one subkey per purpose from the 32-byte master secret, and from
 * the previous one (NULL when not rotating). Call once before any hash;
 * returns 0, or -1 when libsodium cannot start. */
int ztp_secret_init(const unsigned char master[32], const unsigned char *previous);

/* Whether a master secret of that generation is configured. */
int ztp_secret_have(ztp_secret_gen_t gen);

/* out = keyed BLAKE2b of msg under the purpose's subkey of gen, outlen
 * (16..64) bytes. Returns 0, or -1 when gen is not configured. */
int ztp_secret_hash(ztp_secret_gen_t gen, ztp_secret_purpose_t purpose, const void *msg, size_t len,
                    unsigned char *out, size_t outlen);

/* A short public fingerprint of gen's master secret (16 hex chars + NUL),
 * stored beside each hash so that a rotated secret can be told apart.
 * Returns 0, or -1 when gen is not configured. */
int ztp_secret_key_id(ztp_secret_gen_t gen, char out[17]);

/* Encrypts msg under the ZTP_SECRET_SEAL subkey of the current secret
 * (XSalsa20-Poly1305, random nonce); writes hex of nonce || box into out,
 * which needs 2 * (24 + 16 + len) + 1 bytes. Returns 0, or -1. */
int ztp_secret_seal(const unsigned char *msg, size_t len, char *out, size_t outlen);

/* Decrypts what ztp_secret_seal wrote under generation gen into out (cap
 * bytes); *len is its length. Returns 0, or -1 when it does not open. */
int ztp_secret_open(ztp_secret_gen_t gen, const char *hex, unsigned char *out, size_t cap, size_t *len);

/* A page cursor for position `pos` in a sequence every provider shares (an
 * audit row's id), opaque to the provider `scope` it is made for: AES-256
 * of (pos, 8 zero bytes) under a key of the current secret and scope, as
 * 32 hex chars. Successive cursors tell nothing of the rows between them,
 * which are other providers'. Returns 0, or -1. */
#define ZTP_CURSOR_LEN 32
int ztp_secret_cursor_seal(const char *scope, unsigned long long pos, char out[ZTP_CURSOR_LEN + 1]);

/* *pos from a cursor ztp_secret_cursor_seal made for scope, under the
 * current or previous secret. Returns 0, or -1 for anything else (another
 * scope's cursor, a forged or altered one). */
int ztp_secret_cursor_open(const char *scope, const char *text, unsigned long long *pos);

/* Writes hex of `len` bytes into out (2*len+1 bytes). */
void ztp_secret_hex(const unsigned char *bin, size_t len, char *out);

#endif

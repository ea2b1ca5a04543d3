#ifndef ZTP_SECRET_H
#define ZTP_SECRET_H

#include <stddef.h>

#define ZTP_HASH_LEN 32

typedef enum {
    ZTP_SECRET_API_KEY = 1,
    ZTP_SECRET_ACTIVATION_CODE = 2, /* hashing codes for storage */
    ZTP_SECRET_CODE_DERIVE = 3,     /* deriving codes from a random nonce */
} ztp_secret_purpose_t;

/* Derives one subkey per purpose from the 32-byte master secret. Call once
 * before any hash; returns 0, or -1 when libsodium cannot start. */
int ztp_secret_init(const unsigned char master[32]);

/* out = keyed BLAKE2b-256 of msg under the purpose's subkey. */
void ztp_secret_hash(ztp_secret_purpose_t purpose, const void *msg, size_t len,
                     unsigned char out[ZTP_HASH_LEN]);

/* Like ztp_secret_hash with an output of outlen (16..64) bytes. */
void ztp_secret_hash_long(ztp_secret_purpose_t purpose, const void *msg, size_t len, unsigned char *out,
                          size_t outlen);

/* A short public fingerprint of the purpose's subkey (16 hex chars + NUL),
 * stored beside each hash so that a rotated secret can be told apart. */
void ztp_secret_key_id(ztp_secret_purpose_t purpose, char out[17]);

/* Writes hex of `len` bytes into out (2*len+1 bytes). */
void ztp_secret_hex(const unsigned char *bin, size_t len, char *out);

#endif

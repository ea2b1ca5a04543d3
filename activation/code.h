#ifndef ZTP_CODE_H
#define ZTP_CODE_H

#include <stddef.h>

#include "../services/secret.h"

#define ZTP_CODE_DIGITS 16
#define ZTP_CODE_INPUT_MAX 64 /* what a user may type, separators included */

typedef enum {
    ZTP_CODE_INVALID = -1,
    ZTP_CODE_ACTIVATION, /* 16 digits */
    ZTP_CODE_SHORT,      /* '#' and 3..16 digits */
} ztp_code_kind_t;

/* Normalises what the user typed: spaces and dashes dropped; "#" and 3..16
 * digits is a short code, 16 digits an activation code. Writes the digits
 * (without '#') to out. Pure. */
ztp_code_kind_t ztp_code_normalise(const char *in, size_t len, char out[ZTP_CODE_DIGITS + 1]);

#define ZTP_CODE_NONCE_LEN 16

/* The index-th code of a batch: 16 digits taken without bias from a keyed
 * BLAKE2b stream of (nonce, index) under a subkey of ZTP_SECRET. With a
 * random nonce the codes are as unpredictable as ztp_code_generate's, and
 * the batch can be derived again from the nonce alone (Idempotency-Key
 * replays) without ever storing a code. */
int ztp_code_derive(ztp_secret_gen_t gen, const unsigned char nonce[ZTP_CODE_NONCE_LEN], unsigned index,
                    char out[ZTP_CODE_DIGITS + 1]);

/* What an Idempotency-Key row keeps of codes derived from a nonce: "HEX:KEYID",
 * the nonce and the fingerprint of the secret they were derived under. */
#define ZTP_CODE_KEPT_LEN (2 * ZTP_CODE_NONCE_LEN + 1 + 16 + 1)

/* Writes the kept text of nonce under the current secret into out. */
void ztp_code_kept_format(const unsigned char nonce[ZTP_CODE_NONCE_LEN], char out[ZTP_CODE_KEPT_LEN]);

/* Reads kept text back into the nonce and the generation (current or
 * previous) of the secret that made it. Returns 0; -1 when kept is
 * malformed; -2 when no configured secret has its fingerprint. */
int ztp_code_kept_parse(const char *kept, unsigned char nonce[ZTP_CODE_NONCE_LEN], ztp_secret_gen_t *gen);

/* Hex of the keyed hash of 16 normalised digits under gen's secret.
 * Returns 0, or -1 when gen is not configured. */
int ztp_code_hash_hex(ztp_secret_gen_t gen, const char digits[ZTP_CODE_DIGITS + 1], char out[65]);

#endif

#include "code.h"

#include "../services/secret.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

ztp_code_kind_t ztp_code_normalise(const char *in, size_t len, char out[ZTP_CODE_DIGITS + 1])
{
    size_t n = 0, i = 0;
    int hash = 0;

    if (len > ZTP_CODE_INPUT_MAX)
        return ZTP_CODE_INVALID;
    while (i < len && (in[i] == ' ' || in[i] == '-'))
        i++;
    if (i < len && in[i] == '#') {
        hash = 1;
        i++;
    }
    for (; i < len; i++) {
        if (in[i] == ' ' || in[i] == '-')
            continue;
        if (in[i] < '0' || in[i] > '9' || n == ZTP_CODE_DIGITS)
            return ZTP_CODE_INVALID;
        out[n++] = in[i];
    }
    out[n] = '\0';
    if (hash)
        return n >= 3 ? ZTP_CODE_SHORT : ZTP_CODE_INVALID;
    return n == ZTP_CODE_DIGITS ? ZTP_CODE_ACTIVATION : ZTP_CODE_INVALID;
}

int ztp_code_derive(ztp_secret_gen_t gen, const unsigned char nonce[ZTP_CODE_NONCE_LEN], unsigned index,
                    char out[ZTP_CODE_DIGITS + 1])
{
    unsigned char in[ZTP_CODE_NONCE_LEN + 8], stream[64];
    int n = 0;

    if (!ztp_secret_have(gen))
        return -1;
    memcpy(in, nonce, ZTP_CODE_NONCE_LEN);
    for (uint32_t block = 0; n < ZTP_CODE_DIGITS; block++) {
        memcpy(in + ZTP_CODE_NONCE_LEN, &index, 4);
        memcpy(in + ZTP_CODE_NONCE_LEN + 4, &block, 4);
        ztp_secret_hash(gen, ZTP_SECRET_CODE_DERIVE, in, sizeof(in), stream, sizeof(stream));
        /* bytes of 250 and more are dropped, so that each digit is uniform */
        for (size_t i = 0; i < sizeof(stream) && n < ZTP_CODE_DIGITS; i++)
            if (stream[i] < 250)
                out[n++] = (char)('0' + stream[i] % 10);
    }
    out[ZTP_CODE_DIGITS] = '\0';
    sodium_memzero(stream, sizeof(stream));
    return 0;
}

int ztp_code_hash_hex(ztp_secret_gen_t gen, const char digits[ZTP_CODE_DIGITS + 1], char out[65])
{
    unsigned char h[ZTP_HASH_LEN];
    if (ztp_secret_hash(gen, ZTP_SECRET_ACTIVATION_CODE, digits, ZTP_CODE_DIGITS, h, sizeof(h)) != 0)
        return -1;
    ztp_secret_hex(h, sizeof(h), out);
    sodium_memzero(h, sizeof(h));
    return 0;
}

void ztp_code_kept_format(const unsigned char nonce[ZTP_CODE_NONCE_LEN], char out[ZTP_CODE_KEPT_LEN])
{
    char id[17] = "";
    ztp_secret_key_id(ZTP_SECRET_CURRENT, id);
    sodium_bin2hex(out, 2 * ZTP_CODE_NONCE_LEN + 1, nonce, ZTP_CODE_NONCE_LEN);
    snprintf(out + 2 * ZTP_CODE_NONCE_LEN, ZTP_CODE_KEPT_LEN - 2 * ZTP_CODE_NONCE_LEN, ":%s", id);
}

int ztp_code_kept_parse(const char *kept, unsigned char nonce[ZTP_CODE_NONCE_LEN], ztp_secret_gen_t *gen)
{
    const char *colon = kept ? strchr(kept, ':') : NULL;
    size_t n = 0;

    if (colon == NULL ||
        sodium_hex2bin(nonce, ZTP_CODE_NONCE_LEN, kept, (size_t)(colon - kept), NULL, &n, NULL) != 0 ||
        n != ZTP_CODE_NONCE_LEN)
        return -1;
    for (int g = ZTP_SECRET_CURRENT; g <= ZTP_SECRET_PREVIOUS; g++) {
        char id[17];
        if (ztp_secret_key_id((ztp_secret_gen_t)g, id) == 0 && strcmp(id, colon + 1) == 0) {
            *gen = (ztp_secret_gen_t)g;
            return 0;
        }
    }
    return -2;
}

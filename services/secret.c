#include "secret.h"

#include <sodium.h>
#include <string.h>

static unsigned char subkeys[4][crypto_generichash_KEYBYTES];

int ztp_secret_init(const unsigned char master[32])
{
    if (sodium_init() < 0)
        return -1;
    for (uint64_t id = 1; id <= 3; id++)
        crypto_kdf_derive_from_key(subkeys[id], sizeof(subkeys[id]), id, "openztp_", master);
    return 0;
}

void ztp_secret_hash(ztp_secret_purpose_t purpose, const void *msg, size_t len,
                     unsigned char out[ZTP_HASH_LEN])
{
    crypto_generichash(out, ZTP_HASH_LEN, msg, len, subkeys[purpose], sizeof(subkeys[purpose]));
}

void ztp_secret_hash_long(ztp_secret_purpose_t purpose, const void *msg, size_t len, unsigned char *out,
                          size_t outlen)
{
    crypto_generichash(out, outlen, msg, len, subkeys[purpose], sizeof(subkeys[purpose]));
}

void ztp_secret_key_id(ztp_secret_purpose_t purpose, char out[17])
{
    unsigned char fp[8];
    static const char label[] = "openztp key id";

    crypto_generichash(fp, sizeof(fp), (const unsigned char *)label, sizeof(label) - 1, subkeys[purpose],
                       sizeof(subkeys[purpose]));
    ztp_secret_hex(fp, sizeof(fp), out);
}

void ztp_secret_hex(const unsigned char *bin, size_t len, char *out)
{
    sodium_bin2hex(out, 2 * len + 1, bin, len);
}

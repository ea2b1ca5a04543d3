#include "secret.h"

#include <openssl/evp.h>
#include <sodium.h>
#include <string.h>

static unsigned char subkeys[2][ZTP_SECRET_CURSOR + 1][crypto_generichash_KEYBYTES];
static int have[2];

static void derive(ztp_secret_gen_t gen, const unsigned char master[32])
{
    for (uint64_t id = 1; id <= ZTP_SECRET_CURSOR; id++)
        crypto_kdf_derive_from_key(subkeys[gen][id], sizeof(subkeys[gen][id]), id, "openztp_", master);
    have[gen] = 1;
}

int ztp_secret_init(const unsigned char master[32], const unsigned char *previous)
{
    if (sodium_init() < 0)
        return -1;
    derive(ZTP_SECRET_CURRENT, master);
    have[ZTP_SECRET_PREVIOUS] = 0;
    if (previous != NULL)
        derive(ZTP_SECRET_PREVIOUS, previous);
    return 0;
}

int ztp_secret_have(ztp_secret_gen_t gen)
{
    return have[gen];
}

int ztp_secret_hash(ztp_secret_gen_t gen, ztp_secret_purpose_t purpose, const void *msg, size_t len,
                    unsigned char *out, size_t outlen)
{
    if (!have[gen])
        return -1;
    crypto_generichash(out, outlen, msg, len, subkeys[gen][purpose], sizeof(subkeys[gen][purpose]));
    return 0;
}

int ztp_secret_key_id(ztp_secret_gen_t gen, char out[17])
{
    unsigned char fp[8];
    static const char label[] = "openztp key id";

    if (!have[gen])
        return -1;
    /* the fingerprint of the API-key subkey names the whole master secret */
    crypto_generichash(fp, sizeof(fp), (const unsigned char *)label, sizeof(label) - 1,
                       subkeys[gen][ZTP_SECRET_API_KEY], sizeof(subkeys[gen][ZTP_SECRET_API_KEY]));
    ztp_secret_hex(fp, sizeof(fp), out);
    return 0;
}

void ztp_secret_hex(const unsigned char *bin, size_t len, char *out)
{
    sodium_bin2hex(out, 2 * len + 1, bin, len);
}

int ztp_secret_seal(const unsigned char *msg, size_t len, char *out, size_t outlen)
{
    size_t boxlen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + len;
    unsigned char buf[crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + 256];

    if (!have[ZTP_SECRET_CURRENT] || len > 256 || outlen < 2 * boxlen + 1)
        return -1;
    randombytes_buf(buf, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(buf + crypto_secretbox_NONCEBYTES, msg, len, buf,
                          subkeys[ZTP_SECRET_CURRENT][ZTP_SECRET_SEAL]);
    ztp_secret_hex(buf, boxlen, out);
    sodium_memzero(buf, sizeof(buf));
    return 0;
}

int ztp_secret_open(ztp_secret_gen_t gen, const char *hex, unsigned char *out, size_t cap, size_t *len)
{
    unsigned char buf[crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + 256];
    size_t n;

    if (!have[gen] || sodium_hex2bin(buf, sizeof(buf), hex, strlen(hex), NULL, &n, NULL) != 0 ||
        n < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
        return -1;
    *len = n - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
    if (*len > cap || crypto_secretbox_open_easy(out, buf + crypto_secretbox_NONCEBYTES,
                                                 n - crypto_secretbox_NONCEBYTES, buf,
                                                 subkeys[gen][ZTP_SECRET_SEAL]) != 0)
        return -1;
    return 0;
}

/* One AES-256 block, either way, under the cursor key of gen and scope. */
static int cursor_block(ztp_secret_gen_t gen, const char *scope, int encrypt, const unsigned char in[16],
                        unsigned char out[16])
{
    unsigned char key[32];
    EVP_CIPHER_CTX *ctx;
    int n = 0, ok;

    if (ztp_secret_hash(gen, ZTP_SECRET_CURSOR, scope, strlen(scope), key, sizeof(key)) != 0 ||
        (ctx = EVP_CIPHER_CTX_new()) == NULL)
        return -1;
    ok = EVP_CipherInit_ex(ctx, EVP_aes_256_ecb(), NULL, key, NULL, encrypt) == 1 &&
         EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 && EVP_CipherUpdate(ctx, out, &n, in, 16) == 1 && n == 16;
    EVP_CIPHER_CTX_free(ctx);
    sodium_memzero(key, sizeof(key));
    return ok ? 0 : -1;
}

int ztp_secret_cursor_seal(const char *scope, unsigned long long pos, char out[ZTP_CURSOR_LEN + 1])
{
    unsigned char block[16] = {0}, sealed[16];
    for (int i = 0; i < 8; i++)
        block[i] = (unsigned char)(pos >> (56 - 8 * i));
    if (cursor_block(ZTP_SECRET_CURRENT, scope, 1, block, sealed) != 0)
        return -1;
    ztp_secret_hex(sealed, sizeof(sealed), out);
    return 0;
}

int ztp_secret_cursor_open(const char *scope, const char *text, unsigned long long *pos)
{
    unsigned char sealed[16], block[16];
    size_t n;

    if (strlen(text) != ZTP_CURSOR_LEN ||
        sodium_hex2bin(sealed, sizeof(sealed), text, ZTP_CURSOR_LEN, NULL, &n, NULL) != 0 || n != sizeof(sealed))
        return -1;
    for (int gen = ZTP_SECRET_CURRENT; gen <= ZTP_SECRET_PREVIOUS; gen++) {
        if (cursor_block((ztp_secret_gen_t)gen, scope, 0, sealed, block) != 0 || !sodium_is_zero(block + 8, 8))
            continue;
        *pos = 0;
        for (int i = 0; i < 8; i++)
            *pos = *pos << 8 | block[i];
        return 0;
    }
    return -1;
}

/*
 * The MAC a phone's manufacturer certificate names, and whether a request
 * proves it. Manufacturers write it in many ways (Cisco's MIC: CN
 * "CP-8845-3PCC-00562b043615" or "SEP00562B043615"; others put it in a
 * subjectAltName), so the text is searched for the first spelling that
 * stands on its own.
 */
#include "certmac.h"
#include "mac.h"

#include "../services/buf.h"
#include "../services/devcert.h"

#include <openssl/x509v3.h>
#include <string.h>

static int is_hex(const char *s, size_t len, size_t i)
{
    return i < len && ztp_hex_value((unsigned char)s[i]) >= 0;
}

/* Whether the n characters at s+i spell a unicast MAC that nothing
 * continues: no hex digit after it, nor its own separator (so that a longer
 * identifier such as an EUI-64 is not cut short). */
static int mac_at(const char *s, size_t len, size_t i, size_t n, char sep, uint8_t out[6])
{
    if (i + n > len || ztp_mac_parse(s + i, n, out) != 0)
        return 0;
    if (is_hex(s, len, i + n))
        return 0;
    return !(sep != 0 && i + n < len && s[i + n] == sep);
}

int ztp_certmac_find(const char *s, size_t len, uint8_t out[6])
{
    for (size_t i = 0; i < len; i++) {
        size_t run = 0;
        if (!is_hex(s, len, i) || (i > 0 && is_hex(s, len, i - 1)))
            continue;
        while (is_hex(s, len, i + run))
            run++;
        if (run == 12 && mac_at(s, len, i, 12, 0, out))
            return 0;
        if (run == 2 && i + 2 < len && (s[i + 2] == ':' || s[i + 2] == '-') &&
            mac_at(s, len, i, 17, s[i + 2], out))
            return 0;
        if (run == 4 && i + 4 < len && s[i + 4] == '.' && mac_at(s, len, i, 14, '.', out))
            return 0;
        i += run - 1; /* the rest of this run follows a hex digit */
    }
    return -1;
}

static int find_in_asn1(const ASN1_STRING *str, uint8_t out[6])
{
    if (str == NULL)
        return -1;
    return ztp_certmac_find((const char *)ASN1_STRING_get0_data(str), (size_t)ASN1_STRING_length(str), out);
}

static int find_in_subject_cn(X509 *cert, uint8_t out[6])
{
    const X509_NAME *name = X509_get_subject_name(cert);
    for (int i = -1; (i = X509_NAME_get_index_by_NID(name, NID_commonName, i)) >= 0;) {
        unsigned char *utf8 = NULL;
        int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
        int rc = n >= 0 ? ztp_certmac_find((const char *)utf8, (size_t)n, out) : -1;
        OPENSSL_free(utf8);
        if (rc == 0)
            return 0;
    }
    return -1;
}

static int find_in_general_name(const GENERAL_NAME *g, uint8_t out[6])
{
    switch (g->type) {
    case GEN_DNS:
    case GEN_EMAIL:
    case GEN_URI: return find_in_asn1(g->d.ia5, out);
    case GEN_OTHERNAME: {
        const ASN1_TYPE *v = g->d.otherName->value;
        if (v->type == V_ASN1_UTF8STRING || v->type == V_ASN1_IA5STRING || v->type == V_ASN1_PRINTABLESTRING)
            return find_in_asn1(v->value.asn1_string, out);
        return -1;
    }
    default: return -1;
    }
}

int ztp_certmac_of_cert(X509 *cert, uint8_t out[6])
{
    GENERAL_NAMES *sans;
    int rc = -1;

    if (find_in_subject_cn(cert, out) == 0)
        return 0;
    sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; rc != 0 && i < sk_GENERAL_NAME_num(sans); i++)
        rc = find_in_general_name(sk_GENERAL_NAME_value(sans, i), out);
    GENERAL_NAMES_free(sans);
    return rc;
}

int ztp_certmac_names(h2o_req_t *req, const uint8_t mac[6])
{
    X509 *cert = ztp_devcert_peer(req);
    uint8_t named[6];
    return cert != NULL && ztp_certmac_of_cert(cert, named) == 0 && memcmp(named, mac, 6) == 0;
}

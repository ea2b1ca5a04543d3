#ifndef ZTP_CERTMAC_H
#define ZTP_CERTMAC_H

#include <stddef.h>
#include <stdint.h>

#define H2O_USE_LIBUV 0
#include <h2o.h>
#include <openssl/x509.h>

/* The first MAC written in text s[0..len): one of the five spellings of
 * ztp_mac_parse, or 12 hex digits, that starts the text or follows a
 * non-hex character and is not followed by another hex digit (or by its
 * own separator): "SEP00562B043615", "CP-8845-3PCC-00562b043615". Group
 * addresses are skipped. Returns 0 and fills out, or -1 when there is none. */
int ztp_certmac_find(const char *s, size_t len, uint8_t out[6]);

/* The MAC a device certificate names: the first found in its subject CNs,
 * then in its subjectAltNames (DNS, e-mail, URI, and string otherNames).
 * Returns 0 and fills out, or -1. */
int ztp_certmac_of_cert(X509 *cert, uint8_t out[6]);

/* Whether req came over HTTPS with a verified device certificate naming
 * exactly this MAC: the one check every phone route makes before a profile
 * that requires a certificate may answer (or record) anything. */
int ztp_certmac_names(h2o_req_t *req, const uint8_t mac[6]);

#endif

#ifndef ZTP_DEVCERT_H
#define ZTP_DEVCERT_H

#define H2O_USE_LIBUV 0
#include <h2o.h>
#include <openssl/ssl.h>

/* Makes the HTTPS context ask every client for a certificate (without
 * requiring one) and verify it against the authorities in ca_file (PEM).
 * Returns 0, or -1 after logging one line. ctx stays the caller's. */
int ztp_devcert_setup(SSL_CTX *ctx, const char *ca_file);

/* The client certificate of req's connection when it was verified against
 * ZTP_DEVICE_CA (chain and validity), else NULL: plain HTTP, no or a bad
 * certificate, no ZTP_DEVICE_CA. Owned by the connection; valid while req is. */
X509 *ztp_devcert_peer(h2o_req_t *req);

#endif

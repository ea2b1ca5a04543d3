/*
 * Device certificates on the HTTPS listener (mutual TLS, optional).
 *
 * The listener asks every client for a certificate and requires none: the
 * verify callback lets the handshake go on whatever the chain, and notes a
 * failure on the connection. A request then asks whether its connection
 * proved a certificate; anything short of that counts as no certificate,
 * so a phone with a bad one is served exactly like one without.
 */
#include "devcert.h"
#include "log.h"

#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <stdatomic.h>

static SSL_CTX *device_ctx;
static int failed_index = -1; /* SSL ex_data: set when a verification step failed */

static int on_verify(int ok, X509_STORE_CTX *store)
{
    if (!ok) {
        SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
        if (ssl != NULL)
            SSL_set_ex_data(ssl, failed_index, ssl);
    }
    return 1; /* requested, not required: the handshake goes on */
}

int ztp_devcert_setup(SSL_CTX *ctx, const char *ca_file)
{
    static const unsigned char sid_ctx[] = "openztp";
    STACK_OF(X509_NAME) * names;

    if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1 ||
        (names = SSL_load_client_CA_file(ca_file)) == NULL) {
        ERR_clear_error();
        ztp_log_error("ZTP_DEVICE_CA: no certificate authority could be read from %s (PEM expected)",
                      ca_file);
        return -1;
    }
    if (failed_index < 0)
        failed_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    SSL_CTX_set_client_CA_list(ctx, names);
    /* every authority in the file is trusted as it stands, intermediates too */
    X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx), X509_V_FLAG_PARTIAL_CHAIN);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, on_verify);
    /* a resumed session keeps its certificate and verdict; OpenSSL refuses
     * to resume a verifying context's sessions without an id context */
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
    device_ctx = ctx;
    return 0;
}

/*
 * h2o 2.2.5 has no accessor for a connection's SSL *. Its private
 * struct st_h2o_socket_ssl_t (lib/common/socket.c) begins with the SSL_CTX
 * the connection was made from and then the SSL; this prefix is declared
 * here and read in this one function only. The first member must be our own
 * context before the second is trusted, so a different layout (another h2o)
 * shows as "no certificate", logged once, never as a crash; the
 * certificate tests of tests/integration/test_devcert.py then fail.
 */
struct h2o_225_socket_ssl_prefix {
    SSL_CTX *ssl_ctx;
    SSL *ossl;
};

static SSL *connection_ssl(h2o_req_t *req)
{
    static atomic_int warned;
    const struct h2o_225_socket_ssl_prefix *prefix;
    h2o_socket_t *sock;

    if (req->conn->callbacks->get_socket == NULL ||
        (sock = req->conn->callbacks->get_socket(req->conn)) == NULL || sock->ssl == NULL)
        return NULL;
    prefix = (const void *)sock->ssl;
    if (prefix->ssl_ctx == device_ctx && prefix->ossl != NULL && SSL_get_SSL_CTX(prefix->ossl) == device_ctx)
        return prefix->ossl;
    if (atomic_exchange(&warned, 1) == 0)
        ztp_log_error("device certificates: h2o's TLS socket is not laid out as in h2o 2.2.5; "
                      "no certificate will be seen");
    return NULL;
}

X509 *ztp_devcert_peer(h2o_req_t *req)
{
    SSL *ssl;
    X509 *cert;

    if (device_ctx == NULL || (ssl = connection_ssl(req)) == NULL)
        return NULL;
    cert = SSL_get0_peer_certificate(ssl);
    if (cert == NULL || SSL_get_verify_result(ssl) != X509_V_OK || SSL_get_ex_data(ssl, failed_index) != NULL)
        return NULL;
    return cert;
}

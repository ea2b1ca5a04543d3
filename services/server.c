/*
 * Listeners, loop threads and shutdown.
 *
 * Each listening socket is bound once (so a port held by another process is
 * reported, not shared) and each loop thread watches its own duplicate of it.
 * SIGINT and SIGTERM are blocked everywhere and awaited by the main thread,
 * which is no event loop; it raises a flag the loops see within 100 ms.
 */
#include "server.h"
#include "devcert.h"
#include "http.h"
#include "log.h"
#include "router.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DRAIN_MS 8000 /* + 1 s for the delivery thread: the exit comes within 10 s */
#define MAX_INIT_HOOKS 8

__thread ztp_thread_t *ztp_self;

static h2o_globalconf_t globalconf;
static ztp_thread_t *threads;
static int nthreads;
static atomic_int stop_requested;
static const ztp_config_t *config;
static ztp_thread_init_fn init_hooks[MAX_INIT_HOOKS];
static int ninit_hooks;

void ztp_server_on_thread_init(ztp_thread_init_fn fn)
{
    init_hooks[ninit_hooks++] = fn;
}

int ztp_server_nthreads(void)
{
    return nthreads;
}

ztp_thread_t *ztp_server_thread(int i)
{
    return &threads[i];
}

static int bind_listener(const char *host, int port, const char *var)
{
    struct addrinfo hints = {0}, *res;
    char portstr[8];
    int fd, on = 1, rc;

    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(portstr, sizeof(portstr), "%d", port);
    if ((rc = getaddrinfo(host, portstr, &hints, &res)) != 0) {
        ztp_log_error("%s: cannot resolve \"%s\": %s", var, host, gai_strerror(rc));
        return -1;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) != 0) {
        ztp_log_error("%s: socket: %s", var, strerror(errno));
        freeaddrinfo(res);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        ztp_log_error("%s: cannot listen on %s:%d: %s", var, host, port,
                      errno == EADDRINUSE ? "the port is already in use" : strerror(errno));
        freeaddrinfo(res);
        close(fd);
        return -1;
    }
    freeaddrinfo(res);
    return fd;
}

static SSL_CTX *tls_context(const ztp_config_t *cfg)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    static const h2o_iovec_t h2_protocols[] = {{H2O_STRLIT("h2")}, {H2O_STRLIT("http/1.1")}, {NULL, 0}};

    if (ctx == NULL)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
        ztp_log_error("ZTP_TLS_CERT: cannot load a certificate chain from %s", cfg->tls_cert);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        ztp_log_error("ZTP_TLS_KEY: cannot load a private key matching the certificate from %s",
                      cfg->tls_key);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (cfg->device_ca != NULL && ztp_devcert_setup(ctx, cfg->device_ca) != 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (cfg->http2)
        h2o_ssl_register_alpn_protocols(ctx, h2_protocols);
    return ctx;
}

/* Open client connections of the whole process, against ZTP_MAX_CONNECTIONS. */
static atomic_int nconns;

static void on_conn_close(void *unused)
{
    (void)unused;
    atomic_fetch_sub(&nconns, 1);
}

static void pause_accepting(ztp_thread_t *t)
{
    t->accept_paused = 1;
    if (t->listener != NULL)
        h2o_socket_read_stop(t->listener);
    if (t->tls_listener != NULL)
        h2o_socket_read_stop(t->tls_listener);
}

static void on_accept(h2o_socket_t *listener, const char *err);

/* Once per loop pass: a connection closed on any thread frees room here. */
static void maybe_resume_accepting(ztp_thread_t *t)
{
    if (!t->accept_paused || atomic_load(&nconns) >= config->max_connections)
        return;
    t->accept_paused = 0;
    if (t->listener != NULL)
        h2o_socket_read_start(t->listener, on_accept);
    if (t->tls_listener != NULL)
        h2o_socket_read_start(t->tls_listener, on_accept);
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    h2o_accept_ctx_t *actx = listener->data;
    h2o_socket_t *sock;
    if (err != NULL)
        return;
    /* a few per wake-up keeps one busy listener from starving the loop */
    for (int i = 0; i < 16; i++) {
        /* a place is taken before accepting, so that threads racing for the
         * last one cannot both get it; past the cap the kernel queues */
        if (atomic_fetch_add(&nconns, 1) >= config->max_connections) {
            atomic_fetch_sub(&nconns, 1);
            pause_accepting(ztp_self);
            return;
        }
        if ((sock = h2o_evloop_socket_accept(listener)) == NULL) {
            atomic_fetch_sub(&nconns, 1);
            return;
        }
        sock->on_close.cb = on_conn_close;
        sock->on_close.data = NULL;
        h2o_accept(actx, sock);
    }
}

static h2o_socket_t *watch_listener(ztp_thread_t *t, int fd, h2o_accept_ctx_t *actx)
{
    int dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    h2o_socket_t *sock;
    if (dupfd < 0)
        return NULL;
    sock = h2o_evloop_socket_create(t->ctx.loop, dupfd, H2O_SOCKET_FLAG_DONT_READ);
    sock->data = actx;
    h2o_socket_read_start(sock, on_accept);
    return sock;
}

static void close_listener(h2o_socket_t **sock)
{
    if (*sock == NULL)
        return;
    h2o_socket_read_stop(*sock);
    h2o_socket_close(*sock);
    *sock = NULL;
}

static int listen_fd = -1, tls_fd = -1;
static SSL_CTX *ssl_ctx;

/* No connection open, no request unanswered, no worker job to finish and
 * nothing of ours on its way to the database (a contact of a client that
 * left is still committed before we exit). */
static int drained(ztp_thread_t *t)
{
    return t->inflight == 0 && t->jobs == 0 && ztp_db_pool_idle(t->db) &&
           h2o_linklist_is_empty(&t->ctx.http1._conns) && h2o_linklist_is_empty(&t->ctx.http2._conns);
}

/* Stops taking connections and lets the open ones end: h2o answers what it
 * has read with "Connection: close"; a connection waiting for a request (idle
 * keep-alive, or a request half sent) or for a TLS handshake would otherwise
 * linger until its timeout, so those timeouts become zero. */
static void begin_drain(ztp_thread_t *t)
{
    t->stopping = 1;
    t->stop_deadline = h2o_now(t->ctx.loop) + DRAIN_MS;
    close_listener(&t->listener);
    close_listener(&t->tls_listener);
    h2o_context_request_shutdown(&t->ctx);
    t->ctx.http1.req_timeout.timeout = 0;
    t->ctx.handshake_timeout.timeout = 0;
}

void ztp_server_defer(ztp_defer_t *d)
{
    ztp_thread_t *t = ztp_self;
    if (d->queued)
        return;
    d->queued = 1;
    d->next = NULL;
    *t->defer_tail = d;
    t->defer_tail = &d->next;
}

/* The end of a loop iteration: like Redis's beforeSleep, what the
 * iteration's callbacks queued (batches) leaves once, together. */
static void run_deferred(ztp_thread_t *t)
{
    ztp_defer_t *d;
    while ((d = t->defer_head) != NULL) {
        t->defer_head = d->next;
        if (t->defer_head == NULL)
            t->defer_tail = &t->defer_head;
        d->queued = 0;
        d->cb(d);
    }
}

static void *thread_main(void *arg)
{
    ztp_thread_t *t = arg;

    ztp_self = t;
    t->defer_tail = &t->defer_head;
    ztp_metrics_local = &t->metrics;
    h2o_context_init(&t->ctx, h2o_evloop_create(), &globalconf);
    t->accept_ctx.ctx = &t->ctx;
    t->accept_ctx.hosts = globalconf.hosts;
    t->tls_accept_ctx = t->accept_ctx;
    t->tls_accept_ctx.ssl_ctx = ssl_ctx;
    t->db = ztp_db_pool_new(&t->ctx, config->database_url, config->db_conns, config->db_prepare,
                            config->db_timeout_ms);
    for (int i = 0; i < ninit_hooks; i++)
        init_hooks[i](t);
    t->listener = watch_listener(t, listen_fd, &t->accept_ctx);
    if (tls_fd >= 0)
        t->tls_listener = watch_listener(t, tls_fd, &t->tls_accept_ctx);

    run_deferred(t);
    for (;;) {
        h2o_evloop_run(t->ctx.loop, 100);
        run_deferred(t);
        ztp_log_flush();
        if (!t->stopping && atomic_load(&stop_requested))
            begin_drain(t);
        else if (!t->stopping)
            maybe_resume_accepting(t);
        if (t->stopping && (drained(t) || h2o_now(t->ctx.loop) > t->stop_deadline))
            break;
    }
    /* Say goodbye to PostgreSQL on this thread, which owns the pool (its
     * callbacks run here). A pool the deadline left busy is left to the
     * exit: whatever it still waits for cannot be answered anyway. */
    if (ztp_db_pool_idle(t->db)) {
        ztp_db_pool_close(t->db); /* not freed: /metrics on a thread still draining reads it */
        h2o_evloop_run(t->ctx.loop, 0);
        run_deferred(t);
    }
    ztp_log_flush();
    return NULL;
}

int ztp_server_listen(const ztp_config_t *cfg)
{
    signal(SIGPIPE, SIG_IGN);
    if ((listen_fd = bind_listener(cfg->listen_host, cfg->listen_port, "ZTP_LISTEN")) < 0)
        return -1;
    if (cfg->tls_port != 0) {
        if ((ssl_ctx = tls_context(cfg)) == NULL)
            return -1;
        if ((tls_fd = bind_listener(cfg->tls_host, cfg->tls_port, "ZTP_TLS_LISTEN")) < 0)
            return -1;
    }
    return 0;
}

int ztp_server_run(const ztp_config_t *cfg)
{
    h2o_hostconf_t *host;
    h2o_pathconf_t *path;
    h2o_handler_t *handler;
    sigset_t sigs;
    int sig;

    config = cfg;
    h2o_config_init(&globalconf);
    globalconf.server_name = h2o_iovec_init(H2O_STRLIT("openztp"));
    /* h2o answers 413 at once to a body announced over this cap, and reads
     * any smaller one whole before a route sees it; each route then answers
     * 413 as a problem for bodies over its own, smaller limit */
    globalconf.max_request_entity_size = cfg->max_body_bytes;
    globalconf.http1.upgrade_to_http2 = cfg->http2;
    globalconf.http1.req_timeout = 10000;
    host = h2o_config_register_host(&globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    path = h2o_config_register_path(host, "/", 0);
    handler = h2o_create_handler(path, sizeof(*handler));
    handler->on_req = ztp_router_on_req;

    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    nthreads = cfg->threads;
    threads = calloc((size_t)nthreads, sizeof(*threads));
    for (int i = 0; i < nthreads; i++) {
        threads[i].index = i;
        ztp_metrics_attach(&threads[i].metrics);
        if (pthread_create(&threads[i].tid, NULL, thread_main, &threads[i]) != 0) {
            ztp_log_error("cannot start thread %d", i);
            return -1;
        }
    }
    ztp_log_info("serving on http://%s:%d%s with %d threads", cfg->listen_host, cfg->listen_port,
                 cfg->tls_port ? " and https" : "", nthreads);
    do {
        if (sigwait(&sigs, &sig) != 0)
            sig = 0;
    } while (sig != SIGINT && sig != SIGTERM);
    ztp_log_info("signal %d: draining in-flight requests", sig);
    atomic_store(&stop_requested, 1);
    /* the loops close their duplicates within 100 ms; with this last one
     * closed the kernel refuses new connections (a balancer moves on) */
    close(listen_fd);
    if (tls_fd >= 0)
        close(tls_fd);
    for (int i = 0; i < nthreads; i++)
        pthread_join(threads[i].tid, NULL);
    ztp_log_info("stopped");
    return 0;
}

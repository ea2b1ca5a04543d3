#include "outbound.h"
#include "config.h"
#include "log.h"
#include "netguard.h"
#include "pgarray.h"
#include "secret.h"

#include <curl/curl.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define MAX_INFLIGHT 64
/* A provider's share of them: one whose receiver hangs holds no more, and
 * it takes eight such providers to fill the thread */
#define PER_PROVIDER (MAX_INFLIGHT / 8)
#define LEASE_SECONDS 60 /* longer than an attempt can take (10 s) */
#define BODY_KEEP 4096   /* what is read of an answer before hanging up */
#define COMPACT_MS 10000
#define COMPACT_SECONDS 30 /* the longest a fold may take */
#define CALL_SECONDS 5     /* the longest a claim or a record may take */
#define POLL_MS 1000

/* The delivery thread's statements, on its own synchronous connection; the
 * functions carry their role and timeouts, so that the session holds no
 * state a pooler (PgBouncer in transaction mode) could hand to another. */
static const char SQL_LISTEN[] = "LISTEN ztp_webhooks";
static const char SQL_CLAIM[] = "SELECT delivery_id, attempt, url, secret_box, secret_key_id, event_id, data,"
                                " age_seconds, provider_id"
                                " FROM ztp_webhook_claim($1::int, $2::int, $3::int, $4::uuid[])";
static const char SQL_ATTEMPTED[] = "SELECT ztp_webhook_attempted($1::bigint, $2::int, $3::int, $4, $5::float8)";
static const char SQL_COMPACT[] = "SELECT ztp_stats_compact()";
#define EXPIRE_SLICE 5000 /* old attempts, and old events with their deliveries, per call */
static const char SQL_EXPIRE[] = "SELECT ztp_webhooks_expire($1::int)";

typedef struct transfer {
    struct transfer *prev, *next; /* the attempts in flight */
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    char delivery_id[24];
    char provider_id[40];
    int attempt;
    double age;
    size_t received;
    int refused; /* the address check stopped the connection */
    char error[CURL_ERROR_SIZE];
} transfer_t;

static pthread_t thread;
static int started;
static atomic_int stopping;
static CURLM *multi;
static PGconn *conn;
static int ninflight;
static transfer_t *inflight;
static ztp_pgarray_t busy; /* the claim's: the provider of each attempt in flight, repeated as often */

void ztp_outbound_sign(const unsigned char *key, size_t keylen, const char *msg_id, long long timestamp,
                       const char *body, size_t bodylen, char *out, size_t outlen)
{
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char ts[24];
    int n = snprintf(ts, sizeof(ts), "%lld", timestamp);

    crypto_auth_hmacsha256_init(&st, key, keylen);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg_id, strlen(msg_id));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, (size_t)n);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, bodylen);
    crypto_auth_hmacsha256_final(&st, mac);
    if (outlen < 3 + sodium_base64_ENCODED_LEN(sizeof(mac), sodium_base64_VARIANT_ORIGINAL)) {
        out[0] = '\0';
        return;
    }
    memcpy(out, "v1,", 3);
    sodium_bin2base64(out + 3, outlen - 3, mac, sizeof(mac), sodium_base64_VARIANT_ORIGINAL);
}

void ztp_outbound_secret_text(const unsigned char key[ZTP_OUTBOUND_KEY_LEN], char *out)
{
    memcpy(out, "whsec_", 6);
    sodium_bin2base64(out + 6, ZTP_OUTBOUND_SECRET_LEN - 6 + 1, key, ZTP_OUTBOUND_KEY_LEN,
                      sodium_base64_VARIANT_ORIGINAL);
}

double ztp_outbound_retry_delay(int attempt, double age, int scale)
{
    static const double delays[] = {5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800};
    const int n = (int)(sizeof(delays) / sizeof(delays[0]));
    double d = delays[attempt < 1 ? 0 : attempt > n ? n - 1 : attempt - 1] / scale;
    if (age + d > 86400.0 / scale)
        return -1;
    return d;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* sql's result, or NULL (its error logged). */
static PGresult *exec_checked(const char *sql, int n, const char *const *params)
{
    PGresult *r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK)
        return r;
    char msg[256];
    snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(r));
    ztp_log_error("webhook delivery: %s", msg);
    PQclear(r);
    return NULL;
}

static int command_ok(const char *sql)
{
    PGresult *r = exec_checked(sql, 0, NULL);
    PQclear(r);
    return r != NULL;
}

/*
 * Runs sql in a transaction of its own, its statements limited to `seconds`:
 * its result once committed, else NULL. PostgreSQL arms statement_timeout
 * when a statement starts, so the SET clauses the functions carried never
 * limited the call itself (an audit saw a 5 s claim run 6 s, and a claim
 * waiting on a lock would wait for ever, and every delivery with it).
 */
static PGresult *exec_within(int seconds, const char *sql, int n, const char *const *params)
{
    char limit[64];
    PGresult *r = NULL;
    snprintf(limit, sizeof(limit), "SET LOCAL statement_timeout = '%ds'", seconds);
    if (command_ok("BEGIN") && command_ok(limit))
        r = exec_checked(sql, n, params);
    if (!command_ok(r != NULL ? "COMMIT" : "ROLLBACK") && r != NULL) {
        PQclear(r);
        r = NULL;
    }
    return r;
}

/* The thread's connection, (re)opened when broken; NULL while the database
 * is away. */
static PGconn *database(void)
{
    static const char *const keys[] = {"dbname", "connect_timeout", "application_name", "keepalives_idle",
                                       "keepalives_interval", "keepalives_count", NULL};
    const char *vals[] = {ztp_config.database_url, "2", "ztpd-webhooks", "10", "5", "3", NULL};

    if (conn != NULL && PQstatus(conn) == CONNECTION_OK)
        return conn;
    if (conn != NULL)
        PQfinish(conn);
    conn = PQconnectdbParams(keys, vals, 1);
    /* LISTEN needs a session of its own: behind a pooler, the poll alone */
    if (PQstatus(conn) != CONNECTION_OK || (ztp_config.db_prepare && !command_ok(SQL_LISTEN))) {
        PQfinish(conn);
        conn = NULL;
    }
    return conn;
}

/* Opens a socket only to an address that passed the check: the address
 * curl resolved is the one it connects to, so a name that resolves
 * differently the second time (DNS rebinding) gains nothing. */
static curl_socket_t on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    transfer_t *t = arg;
    if (!ztp_config.webhook_allow_private && !ztp_netguard_addr_public(&a->addr)) {
        t->refused = 1;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* Reads at most BODY_KEEP bytes of an answer: a receiver cannot make us
 * read or keep more. */
static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    transfer_t *t = arg;
    t->received += size * n;
    return t->received > BODY_KEEP ? 0 : size * n;
}

static void transfer_free(transfer_t *t)
{
    if (t->prev != NULL)
        t->prev->next = t->next;
    else
        inflight = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
    curl_multi_remove_handle(multi, t->easy);
    curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);
    free(t->body);
    free(t);
    ninflight--;
}

/* The attempt is over: 2xx delivered, else retried later or given up. */
static void record(transfer_t *t, long status, const char *error)
{
    char attempt[16], st[16], delay[32];
    double d = ztp_outbound_retry_delay(t->attempt, t->age, ztp_config.webhook_retry_scale);
    snprintf(attempt, sizeof(attempt), "%d", t->attempt);
    snprintf(st, sizeof(st), "%ld", status);
    snprintf(delay, sizeof(delay), "%.3f", d);
    const char *p[5] = {t->delivery_id, attempt, status > 0 ? st : NULL, error, d >= 0 ? delay : NULL};
    if (database() != NULL)
        PQclear(exec_within(CALL_SECONDS, SQL_ATTEMPTED, 5, p));
}

static int open_secret(const char *box, const char *key_id, unsigned char key[ZTP_OUTBOUND_KEY_LEN])
{
    char id[17];
    size_t len;
    for (int gen = ZTP_SECRET_CURRENT; gen <= ZTP_SECRET_PREVIOUS; gen++)
        if (ztp_secret_key_id(gen, id) == 0 && strcmp(id, key_id) == 0 &&
            ztp_secret_open(gen, box, key, ZTP_OUTBOUND_KEY_LEN, &len) == 0 && len == ZTP_OUTBOUND_KEY_LEN)
            return 0;
    return -1;
}

static struct curl_slist *signed_headers(const unsigned char *key, const char *event_id, const char *body)
{
    struct curl_slist *h = NULL;
    char line[256], sig[128];
    long long ts = (long long)time(NULL);

    ztp_outbound_sign(key, ZTP_OUTBOUND_KEY_LEN, event_id, ts, body, strlen(body), sig, sizeof(sig));
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "User-Agent: openztp-webhooks/1");
    h = curl_slist_append(h, "Expect:");
    snprintf(line, sizeof(line), "webhook-id: %s", event_id);
    h = curl_slist_append(h, line);
    snprintf(line, sizeof(line), "webhook-timestamp: %lld", ts);
    h = curl_slist_append(h, line);
    snprintf(line, sizeof(line), "webhook-signature: %s", sig);
    return curl_slist_append(h, line);
}

/* Starts one attempt from a claimed row. */
static void start(PGresult *r, int row)
{
    unsigned char key[ZTP_OUTBOUND_KEY_LEN];
    transfer_t *t = calloc(1, sizeof(*t));
    if (t == NULL)
        abort();
    ninflight++;
    snprintf(t->delivery_id, sizeof(t->delivery_id), "%s", PQgetvalue(r, row, 0));
    snprintf(t->provider_id, sizeof(t->provider_id), "%s", PQgetvalue(r, row, 8));
    t->attempt = atoi(PQgetvalue(r, row, 1));
    t->age = atof(PQgetvalue(r, row, 7));
    t->easy = curl_easy_init();
    if (t->easy == NULL || open_secret(PQgetvalue(r, row, 3), PQgetvalue(r, row, 4), key) != 0) {
        record(t, 0, "the webhook's secret does not open under the configured ZTP_SECRET");
        curl_easy_cleanup(t->easy);
        free(t);
        ninflight--;
        return;
    }
    t->body = strdup(PQgetvalue(r, row, 6));
    t->headers = signed_headers(key, PQgetvalue(r, row, 5), t->body);
    sodium_memzero(key, sizeof(key));

    CURL *e = t->easy;
    curl_easy_setopt(e, CURLOPT_URL, PQgetvalue(r, row, 2));
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, ztp_config.webhook_allow_private ? "http,https" : "https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROXY, ""); /* never a proxy from the environment */
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(t->body));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    t->next = inflight;
    if (inflight != NULL)
        inflight->prev = t;
    inflight = t;
    curl_multi_add_handle(multi, e);
}

static void claim(void)
{
    char limit[16], lease[16], per[16];
    PGresult *r;

    ztp_pgarray_reset(&busy);
    for (transfer_t *t = inflight; t != NULL; t = t->next)
        ztp_pgarray_add(&busy, t->provider_id);
    snprintf(limit, sizeof(limit), "%d", MAX_INFLIGHT - ninflight);
    snprintf(lease, sizeof(lease), "%d", LEASE_SECONDS);
    snprintf(per, sizeof(per), "%d", PER_PROVIDER);
    const char *p[4] = {limit, lease, per, ztp_pgarray_text(&busy)};
    if ((r = exec_within(CALL_SECONDS, SQL_CLAIM, 4, p)) != NULL)
        for (int i = 0; i < PQntuples(r); i++)
            start(r, i);
    PQclear(r);
}

/* Records every attempt curl has finished. */
static void reap(void)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(multi, &left)) != NULL) {
        transfer_t *t;
        long status = 0;
        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        /* a status came from an address the check let through: a name with a
         * refused address and a public one is answered by the public one */
        if (status > 0)
            record(t, status, NULL); /* a cut-off long answer still has its status */
        else if (t->refused)
            record(t, 0, "the receiver's address is not public");
        else
            record(t, 0, t->error[0] ? t->error : curl_easy_strerror(m->data.result));
        transfer_free(t);
    }
}

static int drain_notifications(void)
{
    PGnotify *n;
    int any = 0;
    if (conn == NULL || !PQconsumeInput(conn))
        return 0;
    while ((n = PQnotifies(conn)) != NULL) {
        any = 1;
        PQfreemem(n);
    }
    return any;
}

/* One slice of webhook history past its 30 days; when the slice was full
 * (a backlog: ztpd stopped for a while), the next comes a second later,
 * deliveries running in between, else with the next fold. Returns when. */
static uint64_t expire(void)
{
    char limit[16];
    snprintf(limit, sizeof(limit), "%d", EXPIRE_SLICE);
    const char *p[1] = {limit};
    PGresult *r = exec_within(COMPACT_SECONDS, SQL_EXPIRE, 1, p);
    int full = r != NULL && PQntuples(r) == 1 && atol(PQgetvalue(r, 0, 0)) >= EXPIRE_SLICE;
    PQclear(r);
    return full ? 1000 : COMPACT_MS;
}

static void *run(void *unused)
{
    uint64_t next_claim = 0, next_compact = 0, next_expire = 0;
    int poll_ms = POLL_MS / (ztp_config.webhook_retry_scale < 20 ? ztp_config.webhook_retry_scale : 20);
    int running;

    while (!atomic_load(&stopping)) {
        uint64_t now = now_ms();
        if (now >= next_claim && ninflight < MAX_INFLIGHT && database() != NULL) {
            claim();
            next_claim = now + (uint64_t)poll_ms;
        }
        if (now >= next_compact && database() != NULL) {
            PQclear(exec_within(COMPACT_SECONDS, SQL_COMPACT, 0, NULL));
            next_compact = now + COMPACT_MS;
        }
        if (now >= next_expire && database() != NULL)
            next_expire = now + expire();
        curl_multi_perform(multi, &running);
        reap();
        struct curl_waitfd pg = {conn != NULL ? PQsocket(conn) : -1, CURL_WAIT_POLLIN, 0};
        curl_multi_poll(multi, &pg, pg.fd >= 0 ? 1 : 0, poll_ms, NULL);
        if (pg.revents != 0 && drain_notifications())
            next_claim = 0; /* an event was written: deliver it now */
    }
    return NULL;
}

void ztp_outbound_start(void)
{
    sigset_t all, old;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    multi = curl_multi_init();
    if (multi == NULL)
        abort();
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)MAX_INFLIGHT);
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* signals are the main thread's */
    if (pthread_create(&thread, NULL, run, NULL) != 0)
        abort();
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    started = 1;
}

void ztp_outbound_stop(void)
{
    if (!started)
        return;
    atomic_store(&stopping, 1);
    curl_multi_wakeup(multi);
    /* a bounded wait: the thread may be inside a libpq call to a database
     * that stopped answering (a frozen primary), and SIGTERM must end the
     * process within 10 s whatever the database does; past the wait its
     * resources are left to the exit */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 1;
    if (pthread_timedjoin_np(thread, NULL, &until) != 0)
        return;
    /* abandoned attempts keep their lease: another replica, or this one
     * restarted, tries them when it expires */
    while (inflight != NULL)
        transfer_free(inflight);
    ztp_pgarray_free(&busy);
    curl_multi_cleanup(multi);
    if (conn != NULL)
        PQfinish(conn);
    conn = NULL;
    curl_global_cleanup();
    started = 0;
}

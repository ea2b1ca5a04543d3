/* /v1/sessions: sign-in, who am I, sign-out; the session cookie. */
#include "sessions.h"

#include "../services/config.h"
#include "../services/db.h"
#include "../services/http.h"
#include "../services/limiter.h"
#include "../services/secret.h"
#include "../services/server.h"
#include "../services/worker.h"
#include "tenant.h"
#include "users.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* An email may belong to people of several providers: a sign-in checks the
 * password against up to this many of them (0041's ztp_signin_candidates,
 * oldest first), one Argon2id check each. */
#define MAX_CANDIDATES 16
#define LIMITER_CAPACITY 4096
#define SIGNIN_FAILURES 10
/* Successful sign-ins of one person (of one provider, not of every person
 * with that email, whom another provider's admin could lock out): each
 * costs Argon2id checks, a session (people keep 20) and an audit event; a
 * person needs a few an hour. */
#define SIGNIN_SUCCESSES 30
#define SIGNIN_WINDOW_MS (15 * 60 * 1000)
#define SIGNIN_MIN_BLOCK_MS (60 * 1000)
/* An IPv6 source counts by its /64 (the contract's source) and by its /48
 * as well: a site holds 65,536 /64s of 10 failures each, so without it one
 * site could ask for 655,360 password checks (each up to MAX_CANDIDATES
 * Argon2id checks) every 15 minutes, far more than the workers can do, and
 * fill the limiters' tables with blocked entries, which then refuse
 * newcomers (they fail closed). As the activation limits do. */
#define SIGNIN_NET_FAILURES (16 * SIGNIN_FAILURES)
/* Sign-ins whose passwords wait for a worker or are being checked, across
 * the process: past this many, a sign-in is answered 503 at once and counts
 * nothing. The workers are shared with imports, and Argon2id takes one of
 * them some 50 ms a check: enough sources at once (one /48 was enough, a
 * botnet still is) queued checks without bound, for minutes, ahead of
 * every other sign-in and import. 64 are under 2 s of checks on 2 cores. */
#define MAX_CHECKING 64
/* ... of which one source (an IPv4 address, an IPv6 /64) holds at most 4,
 * and one IPv6 site (/48) 16: sixty-four connections of one source, whose
 * extra sign-ins cost nothing (they get 503), took every slot as soon as it
 * was freed, and nobody else could sign in. */
#define CHECKING_PER_ADDR 4
#define CHECKING_PER_NET 16

ZTP_SQL(SQL_CANDIDATES, 1, "SELECT id, password_hash FROM ztp_signin_candidates($1)");
ZTP_SQL(SQL_CREATE, 2, "SELECT * FROM ztp_session_create($1, $2)");
ZTP_SQL(SQL_TOUCH, 1, "SELECT user_id, provider_id, role, email FROM ztp_session_touch($1)");
ZTP_SQL(SQL_DELETE, 1, "SELECT ztp_session_delete($1)");

/* Sign-in attempts per source address (and IPv6 site) and per email: each counts as a
 * failure as it arrives (so a burst cannot outrun the count) and is given
 * back when it succeeds, or when the database, not the password, failed it.
 * Successes count per person once the password matched (on the loop
 * thread, before the session is made), given back when none was made. */
static ztp_limiter_t *by_addr, *by_net, *by_email, *by_success;
/* Sign-ins being checked per source and site: limiters whose attempts are
 * all given back when checked, so that they count those in flight (a
 * window far longer than a check). */
static ztp_limiter_t *checking_addr, *checking_net;
static pthread_once_t limiter_once = PTHREAD_ONCE_INIT;
static _Atomic int checking; /* sign-ins counted against MAX_CHECKING */

static void limiter_init(void)
{
    by_addr = ztp_limiter_new(LIMITER_CAPACITY, 16, SIGNIN_FAILURES, SIGNIN_WINDOW_MS, SIGNIN_MIN_BLOCK_MS);
    by_net =
        ztp_limiter_new(LIMITER_CAPACITY, 16, SIGNIN_NET_FAILURES, SIGNIN_WINDOW_MS, SIGNIN_MIN_BLOCK_MS);
    by_email = ztp_limiter_new(LIMITER_CAPACITY, 16, SIGNIN_FAILURES, SIGNIN_WINDOW_MS, SIGNIN_MIN_BLOCK_MS);
    by_success =
        ztp_limiter_new(LIMITER_CAPACITY, 16, SIGNIN_SUCCESSES, SIGNIN_WINDOW_MS, SIGNIN_MIN_BLOCK_MS);
    checking_addr = ztp_limiter_new(LIMITER_CAPACITY, 16, CHECKING_PER_ADDR, SIGNIN_WINDOW_MS, 0);
    checking_net = ztp_limiter_new(LIMITER_CAPACITY, 16, CHECKING_PER_NET, SIGNIN_WINDOW_MS, 0);
}

/* ---- tokens and the cookie ---- */

int ztp_token_ok(const char *s, size_t len)
{
    if (len != ZTP_TOKEN_LEN)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              s[i] == '-' || s[i] == '_'))
            return 0;
    return 1;
}

void ztp_token_hash(const char *token, char hash_hex[65])
{
    unsigned char hash[ZTP_HASH_LEN];
    ztp_secret_hash(ZTP_SECRET_CURRENT, ZTP_SECRET_PERSON, token, strlen(token), hash, sizeof(hash));
    ztp_secret_hex(hash, sizeof(hash), hash_hex);
}

void ztp_token_generate(char token[ZTP_TOKEN_LEN + 1], char hash_hex[65])
{
    unsigned char bin[32];
    randombytes_buf(bin, sizeof(bin));
    sodium_bin2base64(token, ZTP_TOKEN_LEN + 1, bin, sizeof(bin), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(bin, sizeof(bin));
    ztp_token_hash(token, hash_hex);
}

int ztp_session_cookie_find(const char *h, size_t len, char out[ZTP_TOKEN_LEN + 1])
{
    const size_t nlen = strlen(ZTP_SESSION_COOKIE);
    size_t i = 0;

    while (i < len) {
        size_t end = i, vstart, vend;
        while (end < len && h[end] != ';')
            end++;
        while (i < end && (h[i] == ' ' || h[i] == '\t'))
            i++;
        if (end - i > nlen && memcmp(h + i, ZTP_SESSION_COOKIE, nlen) == 0 && h[i + nlen] == '=') {
            vstart = i + nlen + 1;
            vend = end;
            while (vend > vstart && (h[vend - 1] == ' ' || h[vend - 1] == '\t'))
                vend--;
            if (vend - vstart >= 2 && h[vstart] == '"' && h[vend - 1] == '"') {
                vstart++;
                vend--;
            }
            if (!ztp_token_ok(h + vstart, vend - vstart))
                return -2;
            memcpy(out, h + vstart, ZTP_TOKEN_LEN);
            out[ZTP_TOKEN_LEN] = '\0';
            return 0;
        }
        i = end + 1;
    }
    return -1;
}

/* At most this many Cookie fields, and bytes in them, are looked into: with
 * HPACK an HTTP/2 client can repeat a field of 4 kB for a byte each, 410,000
 * times in one request (joining them made ztpd allocate 1.7 GB; reading them
 * all would take a loop thread a second). A browser sends a few dozen. (h2o
 * itself keeps every field: see ZTP_HTTP2 in the README.) */
#define MAX_COOKIE_FIELDS 100
#define MAX_COOKIE_BYTES (32 * 1024)

int ztp_session_cookie_of(h2o_req_t *req, char out[ZTP_TOKEN_LEN + 1])
{
    size_t fields = 0, bytes = 0;

    for (ssize_t i = -1; (i = h2o_find_header(&req->headers, H2O_TOKEN_COOKIE, i)) != -1;) {
        h2o_iovec_t v = req->headers.entries[i].value;
        if (++fields > MAX_COOKIE_FIELDS || bytes > MAX_COOKIE_BYTES)
            return -1; /* past them, none is read: the first field always is, however long */
        bytes += v.len;
        /* a cookie never spans two fields (they are split at "; "): the
         * first field naming the session decides, as the first name within one */
        int found = ztp_session_cookie_find(v.base, v.len, out);
        if (found != -1)
            return found;
    }
    return -1;
}

static int is_https(h2o_req_t *req)
{
    return req->scheme == &H2O_URL_SCHEME_HTTPS;
}

/* Secure also behind a proxy ending TLS: people reach ztpd at ZTP_PUBLIC_URL. */
static int cookie_secure(h2o_req_t *req)
{
    return is_https(req) || strncmp(ztp_config.public_url, "https://", 8) == 0;
}

static void set_cookie(h2o_req_t *req, const char *token, int clear)
{
    char v[256];
    snprintf(v, sizeof(v), "%s=%s; Path=/; HttpOnly; SameSite=Strict%s%s", ZTP_SESSION_COOKIE,
             clear ? "" : token, cookie_secure(req) ? "; Secure" : "",
             clear ? "; Max-Age=0" : "; Max-Age=43200");
    ztp_http_header(req, H2O_TOKEN_SET_COOKIE, v);
}

/* ---- the cross-site guard ---- */

int ztp_session_same_origin(const char *console_header, const char *origin, const char *own_origin,
                            const char *public_url)
{
    if (console_header != NULL && strcmp(console_header, "1") == 0)
        return 1;
    if (origin == NULL || strcmp(origin, "null") == 0)
        return 0;
    return (own_origin != NULL && strcmp(origin, own_origin) == 0) ||
           (public_url != NULL && strcmp(origin, public_url) == 0);
}

static int from_console(h2o_req_t *req)
{
    char own[600];
    snprintf(own, sizeof(own), "%s://%.*s", is_https(req) ? "https" : "http", (int)req->authority.len,
             req->authority.base);
    return ztp_session_same_origin(ztp_http_get_header_str(req, "x-ztp-console"),
                                   ztp_http_get_header_str(req, "origin"), own, ztp_config.public_url);
}

int ztp_session_guard(h2o_req_t *req, const ztp_auth_t *who)
{
    if (who->user_id[0] == '\0' || h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) ||
        h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")) || from_console(req))
        return 0;
    ztp_http_problem(req, 403,
                     "a change made with the session cookie must come from the console "
                     "(X-ZTP-Console: 1 or a same-origin Origin)");
    return -1;
}

/* ---- authenticating a request by its session ---- */

typedef struct touch {
    ztp_hold_t *hold;
    ztp_auth_cb cb;
    void *arg;
} touch_t;

static void unauthorized(h2o_req_t *req, const char *detail)
{
    ztp_http_header(req, H2O_TOKEN_WWW_AUTHENTICATE, "Bearer realm=\"openztp\"");
    ztp_http_problem(req, 401, detail);
}

static void on_touch(void *arg, const ztp_db_res_t *res)
{
    touch_t *t = arg;
    h2o_req_t *req = ztp_http_release(t->hold);
    ztp_auth_t who;
    PGresult *r;

    if (req == NULL) {
        free(t->arg);
    } else if (res->status != ZTP_DB_OK) {
        ztp_http_unavailable(req);
        free(t->arg);
    } else if (PQntuples(r = res->results[res->nresults - 1]) != 1) {
        unauthorized(req, "the session has ended; sign in again");
        free(t->arg);
    } else {
        memset(&who, 0, sizeof(who));
        snprintf(who.user_id, sizeof(who.user_id), "%s", PQgetvalue(r, 0, 0));
        snprintf(who.provider_id, sizeof(who.provider_id), "%s", PQgetvalue(r, 0, 1));
        who.role = ztp_role_parse(PQgetvalue(r, 0, 2));
        snprintf(who.email, sizeof(who.email), "%s", PQgetvalue(r, 0, 3));
        t->cb(req, &who, t->arg);
    }
    free(t);
}

void ztp_session_authenticate(h2o_req_t *req, const char *token, ztp_auth_cb cb, void *arg)
{
    char hash[65];
    const char *p[1] = {hash};
    touch_t *t = malloc(sizeof(*t));
    if (t == NULL)
        abort();
    ztp_token_hash(token, hash);
    t->cb = cb;
    t->arg = arg;
    t->hold = ztp_http_hold(req);
    ztp_db_unit_t *u = ztp_db_unit_new(0, on_touch, t);
    ztp_db_unit_add(u, &SQL_TOUCH, p, NULL);
    ztp_db_submit(ztp_self->db, u);
}

/* ---- POST /v1/sessions ---- */

typedef struct signin {
    ztp_hold_t *hold;
    unsigned char addr_key[16];
    unsigned char net_key[16]; /* its /48, when have_net */
    int have_net;
    int checking; /* holds one of MAX_CHECKING, and of its source's and site's, since checking_ms */
    uint64_t checking_ms;
    unsigned char email_key[16];
    unsigned char person_key[16]; /* the person who matched, for by_success */
    int success_counted;
    uint64_t reserved_ms, matched_ms;
    char email[ZTP_EMAIL_MAX + 1];
    char password[ZTP_PASSWORD_MAX + 1];
    int ncand;
    char cand_id[MAX_CANDIDATES][40];
    char cand_hash[MAX_CANDIDATES][crypto_pwhash_STRBYTES];
    int match; /* index into cand_id, or -1 */
    char token[ZTP_TOKEN_LEN + 1];
} signin_t;

/* An attempt's slots in a set of limiters, each with its key: the source's,
 * the site's when it has one (IPv6), and the email's when asked. */
typedef struct slot {
    ztp_limiter_t *l;
    const unsigned char *key;
} slot_t;

static size_t slots_of(const signin_t *s, ztp_limiter_t *addr, ztp_limiter_t *net, ztp_limiter_t *email,
                       slot_t out[3])
{
    size_t n = 0;
    out[n++] = (slot_t){addr, s->addr_key};
    if (s->have_net)
        out[n++] = (slot_t){net, s->net_key};
    if (email != NULL)
        out[n++] = (slot_t){email, s->email_key};
    return n;
}

/* Takes a slot in each at t: 0, or the wait of the first that refuses (the
 * slots taken before it are given back: nothing is counted). */
static uint64_t take_all(const slot_t *sl, size_t n, uint64_t t)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t wait = ztp_limiter_reserve(sl[i].l, sl[i].key, t);
        if (wait > 0) {
            while (i-- > 0)
                ztp_limiter_refund(sl[i].l, sl[i].key, t, t);
            return wait;
        }
    }
    return 0;
}

static void give_all(const slot_t *sl, size_t n, uint64_t taken_ms)
{
    uint64_t now = ztp_limiter_clock();
    for (size_t i = 0; i < n; i++)
        ztp_limiter_refund(sl[i].l, sl[i].key, taken_ms, now);
}

/* Counts the attempt as a failure of its source, its site and its email as
 * it arrives: 0, or the wait when one of them is over its limit. */
static uint64_t reserve(signin_t *s)
{
    slot_t sl[3];
    return take_all(sl, slots_of(s, by_addr, by_net, by_email, sl), s->reserved_ms);
}

/* The attempt does not count as a failure after all. */
static void refund(signin_t *s)
{
    slot_t sl[3];
    give_all(sl, slots_of(s, by_addr, by_net, by_email, sl), s->reserved_ms);
}

/* Takes one of MAX_CHECKING for s, and one of its source's and site's
 * (CHECKING_PER_ADDR, CHECKING_PER_NET): 0 when one of them has none left. */
static int start_checking(signin_t *s)
{
    slot_t sl[3];
    size_t n = slots_of(s, checking_addr, checking_net, NULL, sl);
    uint64_t t = ztp_limiter_clock();
    if (take_all(sl, n, t) > 0)
        return 0;
    if (atomic_fetch_add(&checking, 1) >= MAX_CHECKING) {
        atomic_fetch_sub(&checking, 1);
        give_all(sl, n, t);
        return 0;
    }
    s->checking = 1;
    s->checking_ms = t;
    return 1;
}

static void done_checking(signin_t *s)
{
    if (s->checking) {
        slot_t sl[3];
        atomic_fetch_sub(&checking, 1);
        give_all(sl, slots_of(s, checking_addr, checking_net, NULL, sl), s->checking_ms);
    }
    s->checking = 0;
}

/* No session was made after all: the success counted is given back. */
static void not_a_success(signin_t *s)
{
    if (s->success_counted)
        ztp_limiter_refund(by_success, s->person_key, s->matched_ms, ztp_limiter_clock());
    s->success_counted = 0;
}

static void signin_free(signin_t *s)
{
    done_checking(s);
    sodium_memzero(s, sizeof(*s));
    free(s);
}

static char dummy_hash[crypto_pwhash_STRBYTES];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

/* A hash to check unknown emails against, so they cost what known ones do. */
static void dummy_init(void)
{
    unsigned char pw[16];
    randombytes_buf(pw, sizeof(pw));
    if (crypto_pwhash_str(dummy_hash, (const char *)pw, sizeof(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        abort();
}

/* On a worker thread: one Argon2id check per candidate, one when none. */
static void verify_work(void *arg)
{
    signin_t *s = arg;
    size_t plen = strlen(s->password);
    s->match = -1;
    pthread_once(&dummy_once, dummy_init);
    if (s->ncand == 0) {
        if (crypto_pwhash_str_verify(dummy_hash, s->password, plen) == 0)
            s->match = -1; /* the dummy's password is random: never matches */
        return;
    }
    for (int i = 0; i < s->ncand; i++)
        if (s->match < 0 && crypto_pwhash_str_verify(s->cand_hash[i], s->password, plen) == 0)
            s->match = i;
}

static void on_session_row(h2o_req_t *req, int status, const char *body, void *arg)
{
    signin_t *s = arg;
    json_t *o;
    if (status == 201 && (o = json_loads(body, 0, NULL)) != NULL) {
        set_cookie(req, s->token, 0);
        ztp_http_json(req, 201, o);
    } else {
        ztp_tenant_answer(req, status, body);
    }
}

static void on_session_created(void *arg, const ztp_db_res_t *res)
{
    signin_t *s = arg;
    h2o_req_t *req = ztp_http_release(s->hold);
    PGresult *r = res->status == ZTP_DB_OK ? res->results[res->nresults - 1] : NULL;
    int status = r != NULL ? atoi(PQgetvalue(r, 0, 0)) : 0;

    /* the limits count what happened, whether or not the client is still there */
    if (r == NULL) {
        refund(s);
        not_a_success(s);
    } else if (status == 201) {
        refund(s);
    } else {
        not_a_success(s);
    }
    if (req == NULL) {
    } else if (r == NULL) {
        ztp_http_unavailable(req);
    } else {
        on_session_row(req, status, ztp_db_val(r, 0, 1), s);
    }
    signin_free(s);
}

static void verify_done(void *arg)
{
    signin_t *s = arg;
    h2o_req_t *req = ztp_http_release(s->hold);
    char hash[65];
    uint64_t wait;

    done_checking(s);
    if (req == NULL) {
        signin_free(s);
        return;
    }
    if (s->match < 0) {
        unauthorized(req, "wrong email or password");
        signin_free(s);
        return;
    }
    crypto_generichash(s->person_key, sizeof(s->person_key), (const unsigned char *)s->cand_id[s->match],
                       strlen(s->cand_id[s->match]), NULL, 0);
    s->matched_ms = ztp_limiter_clock();
    if ((wait = ztp_limiter_reserve(by_success, s->person_key, s->matched_ms)) > 0) {
        /* the address and email slots stay taken: past its successes, a
         * person's sign-ins count as failures, which bound the Argon2id work */
        ztp_http_too_many(req, wait, "too many sign-ins for this person; try again later");
        signin_free(s);
        return;
    }
    s->success_counted = 1;
    ztp_token_generate(s->token, hash);
    const char *p[2] = {hash, s->cand_id[s->match]};
    s->hold = ztp_http_hold(req);
    ztp_db_unit_t *u = ztp_db_unit_new(0, on_session_created, s);
    ztp_db_unit_add(u, &SQL_CREATE, p, NULL);
    ztp_db_submit(ztp_self->db, u);
}

/* The password goes to a worker to be checked, if one of MAX_CHECKING and
 * of its source's share is free; else 503 at once, the attempt counted for
 * nobody (it was checked against nothing). Frees s then. */
static void check_password(h2o_req_t *req, signin_t *s)
{
    if (!start_checking(s)) {
        refund(s);
        ztp_http_unavailable_because(req, "too many sign-ins are being checked; retry in a moment");
        signin_free(s);
        return;
    }
    s->hold = ztp_http_hold(req);
    ztp_worker_submit(verify_work, verify_done, s);
}

static void on_candidates(void *arg, const ztp_db_res_t *res)
{
    signin_t *s = arg;
    h2o_req_t *req = ztp_http_release(s->hold);
    PGresult *r;

    if (req == NULL || res->status != ZTP_DB_OK) {
        refund(s); /* nothing was checked (a client gone learns nothing; over HTTP/2 resetting
                    * its streams made failures count without an Argon2id check each) */
        if (req != NULL)
            ztp_http_unavailable(req);
        signin_free(s);
        return;
    }
    r = res->results[res->nresults - 1];
    for (int i = 0; i < PQntuples(r) && s->ncand < MAX_CANDIDATES; i++) {
        snprintf(s->cand_id[s->ncand], sizeof(s->cand_id[0]), "%s", PQgetvalue(r, i, 0));
        snprintf(s->cand_hash[s->ncand], sizeof(s->cand_hash[0]), "%s", PQgetvalue(r, i, 1));
        s->ncand++;
    }
    check_password(req, s);
}

static void on_signin(h2o_req_t *req, const ztp_match_t *m)
{
    json_t *body = ztp_json_body(req, 0), *email, *password;
    char addr_text[64];
    unsigned char hash[ZTP_HASH_LEN], addr[16];
    uint64_t wait;
    signin_t *s;

    if (body == NULL)
        return;
    /* login CSRF: another site's form must not sign the browser in as someone else */
    if (!from_console(req)) {
        ztp_http_problem(req, 403, "sign in from the console (X-ZTP-Console: 1 or a same-origin Origin)");
        json_decref(body);
        return;
    }
    email = json_object_get(body, "email");
    password = json_object_get(body, "password");
    if (!json_is_string(email) || !json_is_string(password)) {
        json_t *errors = json_array();
        if (!json_is_string(email))
            ztp_errors_add(errors, "email", "is required");
        if (!json_is_string(password))
            ztp_errors_add(errors, "password", "is required");
        ztp_errors_answer(req, errors);
        json_decref(body);
        return;
    }
    pthread_once(&limiter_once, limiter_init);
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    memset(addr, 0, sizeof(addr));
    ztp_http_client_addr(req, addr_text, sizeof(addr_text), addr);
    ztp_limiter_addr_key(addr, s->addr_key);
    s->have_net = ztp_limiter_net_key(addr, s->net_key);
    ztp_user_email_normalise(json_string_value(email), s->email, sizeof(s->email));
    ztp_secret_hash(ZTP_SECRET_CURRENT, ZTP_SECRET_PERSON, s->email, strlen(s->email), hash, sizeof(hash));
    memcpy(s->email_key, hash, sizeof(s->email_key));
    s->reserved_ms = ztp_limiter_clock();
    if ((wait = reserve(s)) > 0) {
        ztp_http_too_many(req, wait, "too many failed sign-ins; try again later");
        signin_free(s);
        json_decref(body);
        return;
    }
    if (!ztp_user_email_ok(s->email) || json_string_length(password) > ZTP_PASSWORD_MAX) {
        /* still costs one hash: a malformed email answers as slowly as a wrong one */
        s->ncand = 0;
        snprintf(s->password, sizeof(s->password), "x");
        json_decref(body);
        check_password(req, s);
        return;
    }
    snprintf(s->password, sizeof(s->password), "%s", json_string_value(password));
    json_decref(body);
    const char *p[1] = {s->email};
    s->hold = ztp_http_hold(req);
    ztp_db_unit_t *u = ztp_db_unit_new(ZTP_DB_SHARED, on_candidates, s);
    ztp_db_unit_add(u, &SQL_CANDIDATES, p, NULL);
    ztp_db_submit(ztp_self->db, u);
}

/* ---- GET and DELETE /v1/sessions/current ---- */

static void on_whoami(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    json_t *o;
    if (who->user_id[0] == '\0') {
        o = json_pack("{s:n, s:n, s:s, s:s, s:s}", "user_id", "email", "role", "admin", "provider_id",
                      who->provider_id, "key_id", who->key_id);
    } else {
        o = json_pack("{s:s, s:s, s:s, s:s}", "user_id", who->user_id, "email", who->email, "role",
                      ztp_role_name(who->role), "provider_id", who->provider_id);
    }
    ztp_http_json(req, 200, o);
}

typedef struct signout {
    ztp_hold_t *hold;
} signout_t;

static void on_deleted(void *arg, const ztp_db_res_t *res)
{
    signout_t *o = arg;
    h2o_req_t *req = ztp_http_release(o->hold);
    if (req != NULL && res->status != ZTP_DB_OK) {
        ztp_http_unavailable(req);
    } else if (req != NULL) {
        set_cookie(req, NULL, 1);
        ztp_http_send(req, 204, NULL, "", 0);
    }
    free(o);
}

static void on_signout(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    char token[ZTP_TOKEN_LEN + 1], hash[65];
    signout_t *o;

    if (who->user_id[0] == '\0' || ztp_session_cookie_of(req, token) != 0) {
        ztp_http_problem(req, 404, "this request has no session to end");
        return;
    }
    ztp_token_hash(token, hash);
    sodium_memzero(token, sizeof(token));
    const char *p[1] = {hash};
    o = malloc(sizeof(*o));
    if (o == NULL)
        abort();
    o->hold = ztp_http_hold(req);
    ztp_db_unit_t *u = ztp_db_unit_new(0, on_deleted, o);
    ztp_db_unit_add(u, &SQL_DELETE, p, NULL);
    ztp_db_submit(ztp_self->db, u);
}

void ztp_sessions_register(size_t max_body)
{
    ztp_router_add("POST", "/v1/sessions", on_signin, max_body, NULL);
    ztp_v1_route("GET", "/v1/sessions/current", ZTP_ROLE_VIEWER, on_whoami, 0);
    ztp_v1_route("DELETE", "/v1/sessions/current", ZTP_ROLE_VIEWER, on_signout, 0);
}

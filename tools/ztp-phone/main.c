/*
 * ztp-phone: the provisioning client of a Cisco MPP phone, for providers,
 * tests and boot storms.
 *
 *   ztp-phone boot --mac MAC --rule RULE [options]
 *   ztp-phone activate --server URL --code CODE --mac MAC [options]
 *   ztp-phone storm --rule RULE --macs FIRST:COUNT [--concurrency N] [--random-delay S] [options]
 *   ztp-phone boot --vendor V --server URL --mac MAC [options]   (V other than cisco: vendor.c)
 *
 * Every command also takes --cert FILE --key FILE (the device certificate
 * shown on HTTPS) and --cacert FILE (the authorities trusted for servers).
 *
 * Every phone is a small state machine (rule.c decides); one libcurl multi
 * loop drives one phone or a hundred thousand.
 */
#include "rule.h"
#include "vendor.h"

#include "../../redirect/mac.h"
#include "../../services/copytext.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MAX_BODY (1 << 20) /* a flat profile larger than this fails the attempt */
#define MAX_RESYNCS 5
#define MAX_FIRST_HOPS 5 /* Poly masters naming further files, in one attempt */

enum { P_WAITING, P_ACTIVE, P_DONE_OK, P_DONE_FAIL };

typedef struct phone {
    ztp_phone_id_t id;
    char serial[32];
    char *rule; /* the Profile_Rule in force */
    char *url;  /* what the next request asks for */
    char *post; /* the activation body, until the activation answered */
    int hops, auths, resyncs, failures, requests;
    int challenges;     /* 401 and 407 answers within this request (libcurl answers Digest's itself) */
    int creds;      /* send credentials on the next request */
    char *auth_origin; /* where they may go: the rule's (or provider's) scheme, host and port */
    int first_file; /* another vendor: asking the server for the first files, this one next */
    int state;
    double wake_at, started;
    size_t heap_index;
    ztp_buf_t body;
    char content_type[64];
    CURL *easy;
    struct curl_slist *headers;
} phone_t;

typedef struct options {
    const char *model, *firmware, *uid, *pwd, *server, *code;
    const char *cert, *key, *cacert; /* the device certificate shown on HTTPS; the servers' authorities */
    ztp_delays_t delays;
    int max_attempts, concurrency, insecure, verbose;
    double random_delay;
    ztp_vendor_t vendor;
} options_t;

static options_t opt;
static double *latencies;
static size_t nlat, caplat;
static long total_requests;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double random01(void)
{
    return (double)(random() & 0xffffff) / (double)0x1000000;
}

/* ---- a min-heap of waiting phones by wake time ---- */

static phone_t **heap;
static size_t heap_n;

static void heap_swap(size_t a, size_t b)
{
    phone_t *t = heap[a];
    heap[a] = heap[b];
    heap[b] = t;
    heap[a]->heap_index = a;
    heap[b]->heap_index = b;
}

static void heap_push(phone_t *p)
{
    size_t i = heap_n++;
    heap[i] = p;
    p->heap_index = i;
    while (i > 0 && heap[(i - 1) / 2]->wake_at > heap[i]->wake_at) {
        heap_swap(i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static phone_t *heap_pop(void)
{
    phone_t *top = heap[0];
    size_t i = 0;
    heap[0] = heap[--heap_n];
    heap[0]->heap_index = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < heap_n && heap[l]->wake_at < heap[m]->wake_at)
            m = l;
        if (r < heap_n && heap[r]->wake_at < heap[m]->wake_at)
            m = r;
        if (m == i)
            break;
        heap_swap(i, m);
        i = m;
    }
    return top;
}

/* ---- one phone ---- */

/* A JSON string of text from a server or the command line, whatever its
 * bytes: those that are not UTF-8 become U+FFFD (JSON holds only UTF-8). */
static json_t *json_text(const char *text)
{
    ztp_buf_t b = {0};
    json_t *j;
    if (text == NULL)
        return json_null();
    for (size_t i = 0, n = strlen(text), k; i < n; i += k ? k : 1) {
        k = ztp_utf8_char(text + i, n - i);
        ztp_buf_append(&b, k ? text + i : "\xef\xbf\xbd", k ? k : 3);
    }
    j = json_string(b.p ? b.p : "");
    ztp_buf_free(&b);
    return j;
}

/* One JSON object on a line of stdout. */
static void print_json(json_t *o)
{
    char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
    if (text != NULL)
        printf("%s\n", text);
    fflush(stdout);
    free(text);
    json_decref(o);
}

static void print_request(const char *url, long status, const char *outcome)
{
    if (!opt.verbose)
        return;
    print_json(json_pack("{s:o, s:i, s:s}", "url", json_text(url), "status", (int)status, "outcome", outcome));
}

/* scheme://host:port of url, malloc'ed, or NULL. */
static char *origin_of(const char *url)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *out = NULL;
    if (u != NULL && curl_url_set(u, CURLUPART_URL, url, CURLU_GUESS_SCHEME) == CURLUE_OK && /* as curl does */
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        ztp_buf_t b = {0};
        for (char *c = host; *c; c++)
            *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
        ztp_buf_printf(&b, "%s://%s:%s", scheme, host, port);
        out = b.p;
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return out;
}

/* Credentials go where they were given for: the rule's server, or the
 * provider another vendor's phone was sent to; never where a redirect from
 * there points (another host, or plain HTTP), nor to a rule that such a
 * server's profile names, nor to the boot server. */
static void authorize(phone_t *p, const char *url)
{
    free(p->auth_origin);
    p->auth_origin = origin_of(url);
}

static int may_authenticate(const phone_t *p)
{
    char *here = origin_of(p->url);
    int ok = here != NULL && p->auth_origin != NULL && strcmp(here, p->auth_origin) == 0;
    free(here);
    return ok;
}

/* Points the phone's next request at its rule, expanded; 0 or -1 (unusable rule). */
static int aim_at_rule(phone_t *p)
{
    ztp_rule_t r;
    ztp_buf_t b = {0};
    if (ztp_rule_parse(p->rule, &r) != 0 || r.tftp)
        return -1;
    ztp_rule_expand(&b, r.url, &p->id);
    free(p->url);
    p->url = b.p;
    p->hops = p->auths = 0;
    authorize(p, p->url);
    return 0;
}

/* Another vendor's phone: points its next request at its n-th first file
 * on the server; 0, or -1 past the last. */
static int aim_at_file(phone_t *p, int n)
{
    char file[128];
    ztp_buf_t b = {0};
    size_t len = strlen(opt.server);
    if (ztp_vendor_first_file(opt.vendor, n, p->id.mac, p->id.model, p->id.firmware, file, sizeof(file)) != 0)
        return -1;
    if (n == 0) { /* a new attempt forgets what the last one learned */
        free(p->rule);
        p->rule = NULL;
    }
    ztp_buf_printf(&b, "%s%s%s", opt.server, len > 0 && opt.server[len - 1] == '/' ? "" : "/", file);
    free(p->url);
    p->url = b.p;
    p->first_file = n;
    p->hops = p->auths = 0;
    free(p->auth_origin); /* the boot server gets none: the provider it names may */
    p->auth_origin = NULL;
    return 0;
}

/* Where an attempt starts: the rule, or another vendor's first file. */
static int aim_at_start(phone_t *p)
{
    p->creds = 0; /* a new attempt: asked for again, where they may go */
    return opt.vendor == ZTP_VENDOR_CISCO ? aim_at_rule(p) : aim_at_file(p, 0);
}

static void schedule(phone_t *p, double at)
{
    p->state = P_WAITING;
    p->wake_at = at;
    heap_push(p);
}

static void fail_attempt(phone_t *p, const char *url, long status, const char *why)
{
    p->failures++;
    if (p->failures >= opt.max_attempts || (p->post == NULL && aim_at_start(p) != 0)) {
        print_request(url, status, why);
        p->state = P_DONE_FAIL;
        return;
    }
    print_request(url, status, why);
    schedule(p, now_s() + ztp_delays_at(&opt.delays, p->failures, random01()));
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    phone_t *p = arg;
    if (p->body.len + size * n > MAX_BODY)
        return 0; /* too large: the transfer fails */
    ztp_buf_append(&p->body, data, size * n);
    return size * n;
}

/* libcurl answers a Digest challenge within the request, and again for as
 * long as the server says its nonce is stale: a server saying so for ever
 * had one request of ztp-phone send 1,292. The third challenge within one
 * request ends it, as a 401 (the rules then allow two more requests with
 * the credentials, as a phone does). */
#define MAX_CHALLENGES 2

static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
    phone_t *p = arg;
    size_t len = size * n;
    if (len > 12 && strncmp(line, "HTTP/", 5) == 0) {
        const char *code = memchr(line, ' ', len);
        if (code != NULL && (size_t)(code - line) + 4 <= len &&
            (strncmp(code + 1, "401", 3) == 0 || strncmp(code + 1, "407", 3) == 0) && ++p->challenges > MAX_CHALLENGES)
            return 0; /* ends the transfer: CURLE_WRITE_ERROR, told apart by p->challenges */
    }
    if (len > 13 && strncasecmp(line, "content-type:", 13) == 0) {
        size_t v = 13;
        while (v < len && line[v] == ' ')
            v++;
        size_t m = len - v;
        while (m > 0 && (line[v + m - 1] == '\r' || line[v + m - 1] == '\n'))
            m--;
        if (m >= sizeof(p->content_type))
            m = sizeof(p->content_type) - 1;
        memcpy(p->content_type, line + v, m);
        p->content_type[m] = '\0';
    }
    return len;
}

static CURL *make_easy(phone_t *p)
{
    CURL *e = curl_easy_init();
    char ua[160];
    ztp_rule_t r;
    const char *uid = opt.uid, *pwd = opt.pwd;

    ztp_phone_user_agent(opt.vendor, &p->id, ua, sizeof(ua));
    curl_easy_setopt(e, CURLOPT_URL, p->url);
    curl_easy_setopt(e, CURLOPT_USERAGENT, ua);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, p);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, p);
    curl_easy_setopt(e, CURLOPT_PRIVATE, p);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (opt.insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (opt.cert != NULL)
        curl_easy_setopt(e, CURLOPT_SSLCERT, opt.cert);
    if (opt.key != NULL)
        curl_easy_setopt(e, CURLOPT_SSLKEY, opt.key);
    if (opt.cacert != NULL)
        curl_easy_setopt(e, CURLOPT_CAINFO, opt.cacert);
    if (p->rule != NULL && ztp_rule_parse(p->rule, &r) == 0 && r.uid[0] != '\0') {
        uid = r.uid;
        pwd = r.pwd;
    }
    if (p->creds && uid != NULL && may_authenticate(p)) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)(CURLAUTH_BASIC | CURLAUTH_DIGEST));
        curl_easy_setopt(e, CURLOPT_USERNAME, uid);
        curl_easy_setopt(e, CURLOPT_PASSWORD, pwd ? pwd : "");
    }
    if (p->post != NULL) {
        p->headers = curl_slist_append(NULL, "Content-Type: application/json");
        p->headers = curl_slist_append(p->headers, "Accept: application/xml");
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, p->headers);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, p->post);
    }
    return e;
}

static void start(CURLM *multi, phone_t *p)
{
    p->body.len = 0;
    p->content_type[0] = '\0';
    p->challenges = 0;
    p->easy = make_easy(p);
    p->state = P_ACTIVE;
    p->started = now_s();
    p->requests++;
    total_requests++;
    curl_multi_add_handle(multi, p->easy);
}

static int xmlish(const char *ctype)
{
    return ctype[0] == '\0' || strstr(ctype, "xml") != NULL || strncasecmp(ctype, "text/plain", 10) == 0;
}

static void record_latency(double ms)
{
    if (nlat == caplat) {
        caplat = caplat ? caplat * 2 : 1024;
        latencies = realloc(latencies, caplat * sizeof(double));
    }
    latencies[nlat++] = ms;
}

/* Another vendor's phone got an answer to one of its first files: a 200
 * names where it goes next (its provider, or the file a Poly master
 * names); anything else sends it to its next file, or after the last to
 * wait and start again. */
static void on_first_file(phone_t *p, const char *url, long status)
{
    ztp_first_answer_t a;
    if (status == 200) {
        if (ztp_phone_read_first(opt.vendor, url, p->body.p ? p->body.p : "", p->body.len, &p->id, &a) != 0) {
            fail_attempt(p, url, status, "bad_profile");
            return;
        }
        free(p->url);
        p->url = a.next_url;
        a.next_url = NULL;
        if (a.provisioning_url != NULL) {
            free(p->rule);
            p->rule = a.provisioning_url;
            p->first_file = -1;
            p->hops = 0; /* the provider's redirects have their own budget */
            authorize(p, p->url);
        } else if (++p->hops > MAX_FIRST_HOPS) { /* a master naming masters */
            fail_attempt(p, url, status, "redirect_loop");
            return;
        }
        print_request(url, status, "resync");
        schedule(p, 0);
        return;
    }
    if (p->first_file >= 0 && aim_at_file(p, p->first_file + 1) == 0) {
        print_request(url, status, status == 404 ? "not_found" : "retry");
        schedule(p, 0);
        return;
    }
    fail_attempt(p, url, status, status == 404 ? "not_found" : "retry");
}

static void on_done(phone_t *p, CURLcode rc)
{
    long status = 0;
    char *location = NULL, *new_rule = NULL;
    char *url = strdup(p->url);
    int trusted;

    curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(p->easy, CURLINFO_REDIRECT_URL, &location);
    record_latency((now_s() - p->started) * 1000);
    if (rc == CURLE_WRITE_ERROR && p->challenges > MAX_CHALLENGES) {
        status = 401; /* challenged again and again: an answer like any 401 */
    } else if (rc != CURLE_OK) {
        fail_attempt(p, url, 0, rc == CURLE_WRITE_ERROR ? "body_too_large" : "unreachable");
        goto done;
    }
    if (opt.vendor != ZTP_VENDOR_CISCO && p->rule == NULL) {
        on_first_file(p, url, status);
        goto done;
    }
    if (opt.vendor != ZTP_VENDOR_CISCO && status == 200) { /* the provider's file, in the vendor's format */
        print_request(url, status, "provisioned");
        p->state = P_DONE_OK;
        goto done;
    }
    if (p->post != NULL && status >= 400 && status < 500) {
        print_request(url, status, "activation_refused");
        p->state = P_DONE_FAIL;
        goto done;
    }
    if (status == 200) {
        if (!xmlish(p->content_type) ||
            ztp_flat_profile_rule(p->body.p ? p->body.p : "", p->body.len, &new_rule) != 0) {
            fail_attempt(p, url, status, "bad_profile");
            goto done;
        }
    }
    switch (ztp_answer_next((int)status, p->hops, p->auths, p->rule ? p->rule : "", new_rule)) {
    case ZTP_NEXT_FOLLOW:
        if (location == NULL) {
            fail_attempt(p, url, status, "redirect_without_location");
            break;
        }
        print_request(url, status, "redirect");
        free(p->url);
        p->url = strdup(location);
        p->hops++;
        schedule(p, 0);
        break;
    case ZTP_NEXT_AUTH:
        if ((opt.uid == NULL && (p->rule == NULL || strstr(p->rule, "--uid") == NULL)) || !may_authenticate(p)) {
            fail_attempt(p, url, status, "unauthorized");
            break;
        }
        print_request(url, status, "auth");
        p->auths++;
        p->creds = 1;
        schedule(p, 0);
        break;
    case ZTP_NEXT_RESYNC:
        trusted = may_authenticate(p); /* the profile came from where credentials may go */
        free(p->rule);
        p->rule = new_rule;
        new_rule = NULL;
        free(p->post);
        p->post = NULL;
        p->creds = 0;
        if (++p->resyncs > MAX_RESYNCS || aim_at_rule(p) != 0) {
            print_request(url, status, p->resyncs > MAX_RESYNCS ? "resync_loop" : "unsupported_rule");
            p->state = P_DONE_FAIL;
            break;
        }
        if (!trusted) { /* a server a redirect led to names a rule: no credentials of ours follow it */
            free(p->auth_origin);
            p->auth_origin = NULL;
        }
        print_request(url, status, "resync");
        schedule(p, 0);
        break;
    case ZTP_NEXT_PROVISIONED:
        print_request(url, status, "provisioned");
        p->state = P_DONE_OK;
        p->id.prvst = 1;
        break;
    case ZTP_NEXT_WAIT: fail_attempt(p, url, status, status == 404 ? "not_found" : "retry"); break;
    }
done:
    free(new_rule);
    free(url);
}

/* ---- the loop ---- */

static void progress(size_t done, size_t n, double t0, int final)
{
    static double last;
    double t = now_s();
    if (!isatty(STDERR_FILENO) || (!final && t - last < 0.2))
        return;
    last = t;
    int width = 40, fill = n ? (int)(done * (size_t)width / n) : width;
    fprintf(stderr, "\r[%.*s%*s] %zu/%zu phones, %ld requests, %.1f s", fill,
            "########################################", width - fill, "", done, n, total_requests, t - t0);
    if (final)
        fputc('\n', stderr);
}

static void run(phone_t *phones, size_t n)
{
    CURLM *multi = curl_multi_init();
    size_t done = 0;
    int active = 0;
    double t0 = now_s();

    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)opt.concurrency);
    heap = malloc(sizeof(phone_t *) * n);
    for (size_t i = 0; i < n; i++)
        schedule(&phones[i], t0 + opt.random_delay * random01());
    while (done < n) {
        double now = now_s();
        int running;
        while (heap_n > 0 && heap[0]->wake_at <= now && active < opt.concurrency) {
            start(multi, heap_pop());
            active++;
        }
        curl_multi_perform(multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
            phone_t *p;
            if (msg->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&p);
            CURLcode rc = msg->data.result;
            on_done(p, rc);
            curl_multi_remove_handle(multi, p->easy);
            curl_easy_cleanup(p->easy);
            curl_slist_free_all(p->headers);
            p->headers = NULL;
            p->easy = NULL;
            active--;
            if (p->state == P_DONE_OK || p->state == P_DONE_FAIL) {
                done++;
                ztp_buf_free(&p->body);
            }
        }
        progress(done, n, t0, 0);
        int wait_ms = 100;
        if (heap_n > 0 && active < opt.concurrency) {
            double d = (heap[0]->wake_at - now_s()) * 1000;
            wait_ms = d < 0 ? 0 : d < 100 ? (int)d : 100;
        }
        if (done < n)
            curl_multi_poll(multi, NULL, 0, wait_ms, NULL);
    }
    progress(done, n, t0, 1);
    curl_multi_cleanup(multi);
    free(heap);
}

/* ---- commands ---- */

static int usage(void)
{
    fprintf(
        stderr,
        "usage: ztp-phone boot --mac MAC --rule RULE [--model M] [--firmware V] [--uid U --pwd P]\n"
        "                      [--retry-delays LIST] [--max-attempts N] [--insecure]\n"
        "                      [--cert FILE --key FILE] [--cacert FILE]\n"
        "       ztp-phone boot --vendor yealink|poly|snom|grandstream|fanvil|gigaset --server URL --mac MAC\n"
        "                      [--model M] [--firmware V] [same options]\n"
        "       ztp-phone activate --server URL --code CODE --mac MAC [same options]\n"
        "       ztp-phone storm --rule RULE --macs FIRST:COUNT [--concurrency N] [--random-delay S] [...]\n");
    return 2;
}

static void phone_init(phone_t *p, const uint8_t mac[6], const char *rule)
{
    memset(p, 0, sizeof(*p));
    ztp_mac_format(mac, p->id.mac);
    snprintf(p->serial, sizeof(p->serial), "FCH%.8s", p->id.mac + 4);
    for (char *s = p->serial; *s; s++)
        if (*s >= 'a' && *s <= 'f')
            *s = (char)(*s - 'a' + 'A');
    p->id.model = opt.model;
    p->id.firmware = opt.firmware;
    p->id.serial = p->serial;
    p->rule = rule ? strdup(rule) : NULL;
}

static void phone_free(phone_t *p)
{
    free(p->rule);
    free(p->url);
    free(p->post);
    free(p->auth_origin);
    ztp_buf_free(&p->body);
}

static int finish_one(phone_t *p)
{
    print_json(json_pack("{s:s, s:o, s:i}", "result", p->state == P_DONE_OK ? "provisioned" : "failed",
                         "profile_rule", json_text(p->rule), "requests", p->requests));
    return p->state == P_DONE_OK ? 0 : 1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(double q)
{
    if (nlat == 0)
        return 0;
    size_t i = (size_t)ceil(q * (double)nlat) - 1;
    return latencies[i >= nlat ? nlat - 1 : i];
}

/* A file named on the command line that cannot be read is said at once,
 * not as every request's TLS failure. */
static int check_readable(const char *flag, const char *path)
{
    FILE *f;
    if (path == NULL)
        return 0;
    if ((f = fopen(path, "r")) == NULL) {
        fprintf(stderr, "ztp-phone: %s %s: %s\n", flag, path, strerror(errno));
        return -1;
    }
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "", *mac = NULL, *rule = NULL, *macs = NULL;
    const char *delays = "60,120,240", *model = NULL, *firmware = NULL;
    uint8_t macbin[6];
    int rc;

    opt.max_attempts = 3;
    opt.concurrency = 1000;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--insecure") == 0) {
            opt.insecure = 1;
            continue;
        }
        if (v == NULL)
            return usage();
        i++;
        if (strcmp(a, "--mac") == 0)
            mac = v;
        else if (strcmp(a, "--rule") == 0)
            rule = v;
        else if (strcmp(a, "--model") == 0)
            model = v;
        else if (strcmp(a, "--firmware") == 0)
            firmware = v;
        else if (strcmp(a, "--vendor") == 0 && (opt.vendor = ztp_vendor_by_name(v)) == ZTP_VENDOR_NONE)
            return usage();
        else if (strcmp(a, "--vendor") == 0)
            continue;
        else if (strcmp(a, "--uid") == 0)
            opt.uid = v;
        else if (strcmp(a, "--pwd") == 0)
            opt.pwd = v;
        else if (strcmp(a, "--retry-delays") == 0)
            delays = v;
        else if (strcmp(a, "--max-attempts") == 0)
            opt.max_attempts = atoi(v);
        else if (strcmp(a, "--server") == 0)
            opt.server = v;
        else if (strcmp(a, "--code") == 0)
            opt.code = v;
        else if (strcmp(a, "--macs") == 0)
            macs = v;
        else if (strcmp(a, "--concurrency") == 0)
            opt.concurrency = atoi(v);
        else if (strcmp(a, "--random-delay") == 0)
            opt.random_delay = atof(v);
        else if (strcmp(a, "--cert") == 0)
            opt.cert = v;
        else if (strcmp(a, "--key") == 0)
            opt.key = v;
        else if (strcmp(a, "--cacert") == 0)
            opt.cacert = v;
        else
            return usage();
    }
    ztp_phone_vendor_defaults(opt.vendor, &opt.model, &opt.firmware);
    opt.model = model ? model : opt.model;
    opt.firmware = firmware ? firmware : opt.firmware;
    if (opt.vendor != ZTP_VENDOR_CISCO && strcmp(cmd, "boot") != 0) {
        fprintf(stderr, "ztp-phone: --vendor other than cisco goes with boot --server URL\n");
        return 2;
    }
    if (check_readable("--cert", opt.cert) != 0 || check_readable("--key", opt.key) != 0 ||
        check_readable("--cacert", opt.cacert) != 0)
        return 2;
    if (ztp_delays_parse(delays, &opt.delays) != 0) {
        fprintf(stderr, "ztp-phone: --retry-delays must be seconds separated by commas, e.g. 60,120,240\n");
        return 2;
    }
    if (opt.max_attempts < 1 || opt.concurrency < 1) {
        fprintf(stderr, "ztp-phone: --max-attempts and --concurrency must be at least 1\n");
        return 2;
    }
    if (!(opt.random_delay >= 0 && opt.random_delay <= 86400)) { /* NaN too */
        fprintf(stderr, "ztp-phone: --random-delay must be seconds, 0 to 86400\n");
        return 2;
    }
    srandom((unsigned)(time(NULL) ^ getpid()));
    curl_global_init(CURL_GLOBAL_DEFAULT);

    if (strcmp(cmd, "boot") == 0 || strcmp(cmd, "activate") == 0) {
        phone_t p;
        int activate = strcmp(cmd, "activate") == 0;
        if (mac == NULL || ztp_mac_parse(mac, strlen(mac), macbin) != 0) {
            fprintf(stderr, "ztp-phone: --mac must be a unicast MAC address\n");
            return 2;
        }
        if (activate                         ? (opt.server == NULL || opt.code == NULL)
            : opt.vendor == ZTP_VENDOR_CISCO ? rule == NULL
                                             : opt.server == NULL)
            return usage();
        opt.verbose = 1;
        phone_init(&p, macbin, activate || opt.vendor != ZTP_VENDOR_CISCO ? NULL : rule);
        if (activate) {
            json_t *body =
                json_pack("{s:s, s:s, s:s}", "code", opt.code, "mac", p.id.mac, "model", opt.model);
            ztp_buf_t u = {0};
            if (body == NULL) {
                fprintf(stderr, "ztp-phone: --code and --model must be UTF-8 text\n");
                phone_free(&p);
                return 2;
            }
            ztp_buf_printf(&u, "%s/activate", opt.server);
            p.url = u.p;
            authorize(&p, p.url);
            p.post = json_dumps(body, JSON_COMPACT);
            json_decref(body);
        } else if (aim_at_start(&p) != 0) {
            printf("{\"url\":\"%s\",\"status\":0,\"outcome\":\"unsupported_rule\"}\n", "");
            p.state = P_DONE_FAIL;
            rc = finish_one(&p);
            phone_free(&p);
            return rc;
        }
        run(&p, 1);
        rc = finish_one(&p);
        phone_free(&p);
    } else if (strcmp(cmd, "storm") == 0) {
        /* FIRST:COUNT: the count follows the last colon, so FIRST may be spelled with colons */
        const char *colon = macs ? strrchr(macs, ':') : NULL;
        char *end;
        long count = colon ? strtol(colon + 1, &end, 10) : 0;
        uint64_t base = 0;

        if (rule == NULL || colon == NULL || *end != '\0' || count < 1 || count > 10000000)
            return usage();
        if (ztp_mac_parse(macs, (size_t)(colon - macs), macbin) != 0) {
            fprintf(stderr, "ztp-phone: --macs must be FIRST:COUNT with FIRST a unicast MAC\n");
            return 2;
        }
        for (int i = 0; i < 6; i++)
            base = base << 8 | macbin[i];
        if ((base + (uint64_t)count - 1) >> 40 != base >> 40) {
            fprintf(stderr, "ztp-phone: --macs would run past the first octet of FIRST\n");
            return 2;
        }
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)opt.concurrency + 64) {
            rl.rlim_cur =
                rl.rlim_max < (rlim_t)opt.concurrency + 64 ? rl.rlim_max : (rlim_t)opt.concurrency + 64;
            setrlimit(RLIMIT_NOFILE, &rl);
            if ((rlim_t)opt.concurrency + 64 > rl.rlim_cur)
                opt.concurrency = (int)rl.rlim_cur - 64;
            if (opt.concurrency < 1) {
                fprintf(stderr, "ztp-phone: too few file descriptors for a storm (ulimit -n)\n");
                return 2;
            }
        }
        ztp_rule_t r;
        if (ztp_rule_parse(rule, &r) != 0 || r.tftp) {
            fprintf(stderr, "ztp-phone: --rule must be an http or https rule ztp-phone can follow\n");
            return 2;
        }
        phone_t *phones = calloc((size_t)count, sizeof(phone_t));
        for (long i = 0; i < count; i++) {
            uint64_t m = base + (uint64_t)i;
            for (int k = 5; k >= 0; k--, m >>= 8)
                macbin[k] = (uint8_t)(m & 0xff);
            phone_init(&phones[i], macbin, rule);
            aim_at_rule(&phones[i]);
        }
        double t0 = now_s();
        run(phones, (size_t)count);
        double secs = now_s() - t0;
        long ok = 0;
        for (long i = 0; i < count; i++) {
            ok += phones[i].state == P_DONE_OK;
            phone_free(&phones[i]);
        }
        free(phones);
        qsort(latencies, nlat, sizeof(double), cmp_double);
        print_json(json_pack("{s:I, s:I, s:I, s:I, s:f, s:f, s:f}", "phones", (json_int_t)count, "provisioned",
                             (json_int_t)ok, "failed", (json_int_t)(count - ok), "requests",
                             (json_int_t)total_requests, "seconds", secs, "p50_ms", percentile(0.5), "p99_ms",
                             percentile(0.99)));
        rc = ok == count ? 0 : 1;
    } else {
        return usage();
    }
    free(latencies);
    curl_global_cleanup();
    return rc;
}

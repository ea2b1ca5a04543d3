/*
 * Per-thread profile answers (see profcache.h). An open-addressed table of
 * at most MAX_ENTRIES profiles by id; past it, every entry nobody waits for
 * is dropped and read again when asked (a fleet with more profiles than
 * that costs a read per batch, never unbounded memory).
 */
#include "profcache.h"
#include "profile.h"

#include "../services/db.h"
#include "../services/pgarray.h"
#include "../services/server.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ENTRIES 4096
#define SLOTS (2 * MAX_ENTRIES) /* a power of two */

ZTP_SQL(SQL_FETCH, 1,
        "SELECT p.id, p.profile_rule, p.upgrade_rule, p.params::text, p.vendor_urls::text,\n"
        "       encode(pr.url_token_key, 'hex'), (SELECT epoch FROM profile_epoch), p.require_certificate\n"
        "FROM profiles p JOIN providers pr ON pr.id = p.provider_id WHERE p.id = ANY ($1::uuid[])");

typedef struct waiter {
    struct waiter *next;
    uint64_t epoch;
    ztp_profcache_cb cb;
    void *arg;
} waiter_t;

typedef struct entry {
    ztp_profile_answer_t a;
    int ready;    /* a holds a profile (possibly older than a waiter needs) */
    int fetching; /* in the statement being built or in flight */
    waiter_t *waiters;
} entry_t;

typedef struct cache {
    entry_t *slots[SLOTS];
    size_t n;
    entry_t **todo; /* to read at the end of this loop iteration */
    size_t ntodo, captodo;
    ztp_defer_t fetch;
} cache_t;

static __thread cache_t *cache;

static uint32_t hash(const char *id)
{
    uint32_t h = 2166136261u;
    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 16777619u;
    return h;
}

static entry_t **find_slot(cache_t *c, const char *id)
{
    uint32_t i = hash(id) & (SLOTS - 1);
    while (c->slots[i] != NULL && strcmp(c->slots[i]->a.id, id) != 0)
        i = (i + 1) & (SLOTS - 1);
    return &c->slots[i];
}

static void answer_clear(ztp_profile_answer_t *a)
{
    free(a->rule);
    free(a->upgrade);
    free(a->params_text);
    json_decref(a->params);
    json_decref(a->vendor_urls);
    ztp_buf_free(&a->xml);
    sodium_memzero(a->token_key, sizeof(a->token_key));
    a->rule = a->upgrade = a->params_text = NULL;
    a->params = a->vendor_urls = NULL;
}

/* Places the entries again (after a removal: open addressing has no holes);
 * with `evict`, drops every entry nobody waits for. */
static void rebuild(cache_t *c, int evict)
{
    static __thread entry_t *keep[SLOTS];
    size_t n = 0;
    for (size_t i = 0; i < SLOTS; i++) {
        entry_t *e = c->slots[i];
        if (e == NULL)
            continue;
        c->slots[i] = NULL;
        if (!evict || e->fetching || e->waiters != NULL) {
            keep[n++] = e;
        } else {
            answer_clear(&e->a);
            free(e);
        }
    }
    c->n = n;
    for (size_t i = 0; i < n; i++)
        *find_slot(c, keep[i]->a.id) = keep[i];
}

static void remove_entry(cache_t *c, entry_t *e)
{
    entry_t **slot = find_slot(c, e->a.id);
    *slot = NULL;
    answer_clear(&e->a);
    free(e);
    c->n--;
    rebuild(c, 0);
}

static char *dup_or_null(const char *s)
{
    char *d;
    if (s == NULL)
        return NULL;
    if ((d = strdup(s)) == NULL)
        abort();
    return d;
}

/* Fills a from one row of SQL_FETCH and renders what does not depend on the device. */
static void answer_fill(ztp_profile_answer_t *a, PGresult *r, int row)
{
    const char *key = ztp_db_val(r, row, 5);
    answer_clear(a);
    a->rule = dup_or_null(ztp_db_val(r, row, 1));
    a->upgrade = dup_or_null(ztp_db_val(r, row, 2));
    a->params_text = dup_or_null(ztp_db_val(r, row, 3));
    a->params = a->params_text ? json_loads(a->params_text, 0, NULL) : NULL;
    a->vendor_urls = ztp_db_val(r, row, 4) ? json_loads(ztp_db_val(r, row, 4), 0, NULL) : NULL;
    if (key == NULL ||
        sodium_hex2bin(a->token_key, sizeof(a->token_key), key, strlen(key), NULL, NULL, NULL) != 0)
        abort(); /* the column is NOT NULL and 32 bytes (its CHECK) */
    a->epoch = strtoull(ztp_db_val(r, row, 6), NULL, 10);
    a->require_certificate = strcmp(ztp_db_val(r, row, 7), "t") == 0;
    a->has_token = strstr(a->rule, "$(ZTP_TOKEN)") != NULL ||
                   (a->upgrade != NULL && strstr(a->upgrade, "$(ZTP_TOKEN)") != NULL) ||
                   (a->params_text != NULL && strstr(a->params_text, "$(ZTP_TOKEN)") != NULL);
    /* XML-escaping leaves "$(ZTP_TOKEN)" and hex digits as they are: the
     * token can be put in afterwards, device by device */
    ztp_profile_xml(&a->xml, a->rule, a->upgrade, a->params);
}

static void fetch_later(cache_t *c, entry_t *e);

/* Answers the waiters the entry now satisfies; those that need a later
 * epoch than was read ask again. */
static void wake(cache_t *c, entry_t *e, ztp_profcache_status_t st)
{
    waiter_t *w = e->waiters, *again = NULL;
    e->waiters = NULL;
    while (w != NULL) {
        waiter_t *next = w->next;
        if (st == ZTP_PROFCACHE_OK && w->epoch > e->a.epoch) {
            w->next = again;
            again = w;
        } else {
            w->cb(w->arg, st, st == ZTP_PROFCACHE_OK ? &e->a : NULL);
            free(w);
        }
        w = next;
    }
    if (again != NULL) {
        e->waiters = again;
        fetch_later(c, e);
    }
}

static void on_fetched(void *arg, const ztp_db_res_t *res)
{
    cache_t *c = cache;
    entry_t **batch = arg;
    PGresult *r = res->status == ZTP_DB_OK ? res->results[0] : NULL;
    size_t n = 0;

    while (batch[n] != NULL)
        n++;
    for (int i = 0; r != NULL && i < PQntuples(r); i++) {
        entry_t **slot = find_slot(c, PQgetvalue(r, i, 0));
        if (*slot == NULL || !(*slot)->fetching)
            continue;
        answer_fill(&(*slot)->a, r, i);
        (*slot)->ready = 1;
        (*slot)->fetching = 0;
    }
    for (size_t i = 0; i < n; i++) {
        entry_t *e = batch[i];
        if (!e->fetching) {
            wake(c, e, ZTP_PROFCACHE_OK);
            continue;
        }
        e->fetching = 0;
        wake(c, e, r != NULL ? ZTP_PROFCACHE_GONE : ZTP_PROFCACHE_UNAVAILABLE);
        if (r != NULL || !e->ready) {
            if (e->waiters == NULL)
                remove_entry(c, e);
        }
    }
    free(batch);
}

static void on_fetch(ztp_defer_t *d)
{
    cache_t *c = cache;
    ztp_pgarray_t ids = {0};
    entry_t **batch;
    const char *params[1];

    if (c->ntodo == 0)
        return;
    batch = calloc(c->ntodo + 1, sizeof(*batch));
    if (batch == NULL)
        abort();
    for (size_t i = 0; i < c->ntodo; i++) {
        batch[i] = c->todo[i];
        ztp_pgarray_add(&ids, c->todo[i]->a.id);
    }
    c->ntodo = 0;
    params[0] = ztp_pgarray_text(&ids);
    ztp_db_unit_t *u = ztp_db_unit_new(0, on_fetched, batch);
    ztp_db_unit_add(u, &SQL_FETCH, params, NULL);
    ztp_db_submit(ztp_self->db, u);
    ztp_pgarray_free(&ids);
}

static void fetch_later(cache_t *c, entry_t *e)
{
    if (e->fetching)
        return;
    e->fetching = 1;
    if (c->ntodo == c->captodo) {
        c->captodo = c->captodo ? 2 * c->captodo : 64;
        if ((c->todo = realloc(c->todo, c->captodo * sizeof(*c->todo))) == NULL)
            abort();
    }
    c->todo[c->ntodo++] = e;
    ztp_server_defer(&c->fetch);
}

static cache_t *this_cache(void)
{
    if (cache == NULL) {
        if ((cache = calloc(1, sizeof(*cache))) == NULL)
            abort();
        cache->fetch.cb = on_fetch;
    }
    return cache;
}

void ztp_profcache_get(const char *id, uint64_t epoch, ztp_profcache_cb cb, void *arg)
{
    cache_t *c = this_cache();
    entry_t **slot = find_slot(c, id), *e = *slot;
    waiter_t *w;

    if (e != NULL && e->ready && e->a.epoch >= epoch) {
        cb(arg, ZTP_PROFCACHE_OK, &e->a);
        return;
    }
    if (e == NULL) {
        if (c->n >= MAX_ENTRIES) {
            rebuild(c, 1);
            slot = find_slot(c, id);
        }
        if (c->n >= SLOTS - SLOTS / 4) { /* thousands of profiles read at once: keep the table probing */
            cb(arg, ZTP_PROFCACHE_UNAVAILABLE, NULL);
            return;
        }
        if ((e = calloc(1, sizeof(*e))) == NULL)
            abort();
        snprintf(e->a.id, sizeof(e->a.id), "%s", id);
        *slot = e;
        c->n++;
    }
    if ((w = malloc(sizeof(*w))) == NULL)
        abort();
    *w = (waiter_t){e->waiters, epoch, cb, arg};
    e->waiters = w;
    fetch_later(c, e);
}

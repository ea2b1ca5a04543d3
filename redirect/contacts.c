/*
 * Batched, durable recording of phone contacts.
 *
 * Each loop thread gathers its redirect and boot requests; at the end of a loop
 * iteration, if fewer than MAX_INFLIGHT batches are waiting on the
 * database, everything gathered goes out as one statement (arrays in, one
 * row per request out). While batches are in flight, new requests wait and
 * the next batch grows: under load, batches get larger and commits fewer,
 * which is what keeps a durable write per request affordable.
 */
#include "contacts.h"

#include "../services/buf.h"

#include "../services/db.h"
#include "../services/server.h"

#include <stdlib.h>
#include <string.h>

#define MAX_INFLIGHT 1
#define NCOLS 8
#define MAX_BATCH 2048

/*
 * The whole batch in one statement, prepared once per connection: the
 * requests (by ordinality); one row per distinct MAC (several requests are
 * several contacts and at most one status change), in MAC order so that
 * concurrent batches lock rows in the same order; each device updated through
 * the state machine's table, its old status kept in previous_status for the
 * event (an UPDATE sees the old row in SET, not in RETURNING); the status
 * changes kept as events; and one row back per request. Each request says
 * whether a verified device certificate named its MAC. A /boot request
 * names the vendor (`want`) whose URL the profile must hold: a profile
 * without it is no profile for that phone, so it moves to pending, and the
 * answer carries vendor_urls for the renderer.
 */
#define HAS_PROFILE                                                                                          \
    "(d.profile_id IS NOT NULL AND (a.want IS NULL OR EXISTS (SELECT 1 FROM profiles p"                      \
    " WHERE p.id = d.profile_id AND p.vendor_urls ? a.want)))"
#define NEXT_STATUS                                                                                          \
    "coalesce((SELECT t.to_status FROM status_transitions t WHERE t.from_status = d.status AND t.event ="    \
    " CASE WHEN d.provider_id IS NULL THEN 'ask_released' WHEN NOT " HAS_PROFILE " THEN 'ask_no_profile'"    \
    " ELSE 'ask_with_profile' END), d.status)"
/* The device's profile answers only a verified certificate naming it: its
 * requests without one are answered as an unknown MAC's and recorded
 * nowhere, neither contact nor status nor event. `guarded` (the profiles
 * that require a certificate) is read once per batch from a partial index
 * and is usually empty, so an ordinary device costs a look into an empty
 * set, not another index probe. */
#define GUARDED "coalesce(d.profile_id IN (SELECT id FROM guarded), false)"
ZTP_SQL(
    SQL_BATCH, NCOLS,
    "WITH req AS (\n"
    "    SELECT r.* FROM unnest($1::macaddr[], $2::inet[], $3::text[], $4::text[], $5::text[], $6::text[],\n"
    "                           $7::text[], $8::boolean[])\n"
    "                    WITH ORDINALITY AS r(mac, addr, ua, vendor, model, firmware, want, certified, ord)\n"
    "), guarded AS (\n"
    "    SELECT id FROM profiles WHERE require_certificate\n"
    "), agg AS (\n"
    "    SELECT DISTINCT ON (mac) mac, addr, ua, vendor, model, firmware, want, certified,\n"
    "           count(*) OVER (PARTITION BY mac) AS n,\n"
    "           count(*) FILTER (WHERE certified) OVER (PARTITION BY mac) AS n_certified\n"
    "    FROM req ORDER BY mac, certified DESC, ord DESC\n"
    "), upd AS (\n"
    "    UPDATE devices d SET\n"
    "        contacts = d.contacts + CASE WHEN " GUARDED " THEN a.n_certified ELSE a.n END,\n"
    "        last_contact_at = now(), last_addr = a.addr, user_agent = a.ua,\n"
    "        ua_vendor = a.vendor, ua_model = coalesce(a.model, d.ua_model),\n"
    "        ua_firmware = coalesce(a.firmware, d.ua_firmware), last_contact_certified = a.certified,\n"
    "        previous_status = d.status,\n"
    "        status = " NEXT_STATUS ",\n"
    "        status_changed_at = CASE WHEN " NEXT_STATUS
    " <> d.status THEN now() ELSE d.status_changed_at END\n"
    "    FROM agg a WHERE d.mac = a.mac AND (a.n_certified > 0 OR NOT " GUARDED ")\n"
    "    RETURNING d.mac, d.previous_status AS was, d.status AS now_status, d.provider_id, d.profile_id,\n"
    "              " GUARDED " AS guarded\n"
    "), events AS (\n"
    "    INSERT INTO device_events (mac, provider_id, from_status, to_status, cause)\n"
    "    SELECT u.mac, u.provider_id, u.was, u.now_status, 'redirect' FROM upd u WHERE u.was <> "
    "u.now_status\n"
    ")\n"
    "SELECT r.ord::int,\n"
    "       CASE WHEN u.mac IS NULL OR (u.guarded AND NOT r.certified) THEN 'unknown'\n"
    "            WHEN u.provider_id IS NULL THEN 'released'\n"
    "            WHEN u.profile_id IS NULL OR (r.want IS NOT NULL AND NOT p.vendor_urls ? r.want)\n"
    "            THEN 'no_profile' ELSE 'ok' END,\n"
    "       p.profile_rule, p.upgrade_rule, p.params::text, p.vendor_urls::text,\n"
    "       encode(pr.url_token_key, 'hex')\n"
    "FROM req r LEFT JOIN upd u ON u.mac = r.mac\n"
    "     LEFT JOIN profiles p ON p.id = u.profile_id AND u.provider_id IS NOT NULL\n"
    "                         AND (r.certified OR NOT u.guarded)\n"
    "     LEFT JOIN providers pr ON pr.id = p.provider_id\n");

typedef struct waiter {
    ztp_contact_cb cb;
    void *arg;
} waiter_t;

typedef struct batch {
    size_t n;
    waiter_t waiters[];
} batch_t;

typedef struct queue {
    ztp_buf_t cols[NCOLS]; /* array literals under construction, without the closing brace */
    waiter_t *waiters;
    size_t n, cap;
    uint64_t oldest; /* loop time of the first contact waiting */
    int inflight;
    h2o_timeout_entry_t flush_entry;
} queue_t;

static __thread queue_t *queue;

/* Appends s to a PostgreSQL array literal being built, quoted, or NULL. */
static void array_elem(ztp_buf_t *b, const char *s)
{
    ztp_buf_append(b, b->len > 1 ? "," : "", b->len > 1);
    if (s == NULL) {
        ztp_buf_puts(b, "NULL");
        return;
    }
    ztp_buf_append(b, "\"", 1);
    for (const char *run = s;; s++) {
        if (*s == '"' || *s == '\\' || *s == '\0') {
            ztp_buf_append(b, run, (size_t)(s - run));
            if (*s == '\0')
                break;
            ztp_buf_append(b, "\\", 1);
            ztp_buf_append(b, s, 1);
            run = s + 1;
        }
    }
    ztp_buf_append(b, "\"", 1);
}

static void flush(h2o_timeout_entry_t *entry);

static ztp_contact_outcome_t outcome_of(const char *text)
{
    static const struct {
        const char *name;
        ztp_contact_outcome_t outcome;
    } known[] = {{"ok", ZTP_CONTACT_OK},
                 {"unknown", ZTP_CONTACT_UNKNOWN},
                 {"released", ZTP_CONTACT_RELEASED},
                 {"no_profile", ZTP_CONTACT_NO_PROFILE}};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(text, known[i].name) == 0)
            return known[i].outcome;
    return ZTP_CONTACT_UNAVAILABLE;
}

static void schedule(queue_t *q)
{
    if (!h2o_timeout_is_linked(&q->flush_entry))
        h2o_timeout_link(ztp_self->ctx.loop, &ztp_self->ctx.zero_timeout, &q->flush_entry);
}

static void on_batch(void *arg, const ztp_db_res_t *res)
{
    batch_t *b = arg;
    queue_t *q = queue;
    PGresult *r = res->status == ZTP_DB_OK ? res->results[0] : NULL;
    char *answered = calloc(b->n, 1);

    q->inflight--;
    if (q->n > 0)
        schedule(q);
    for (int i = 0; r != NULL && i < PQntuples(r); i++) {
        long ord = atol(PQgetvalue(r, i, 0)) - 1;
        if (ord < 0 || (size_t)ord >= b->n || answered[ord])
            continue;
        answered[ord] = 1;
        ztp_contact_result_t out = {outcome_of(PQgetvalue(r, i, 1)),
                                    ztp_db_val(r, i, 2),
                                    ztp_db_val(r, i, 3),
                                    ztp_db_val(r, i, 4),
                                    ztp_db_val(r, i, 5),
                                    ztp_db_val(r, i, 6)};
        b->waiters[ord].cb(b->waiters[ord].arg, &out);
    }
    for (size_t i = 0; i < b->n; i++)
        if (!answered[i])
            b->waiters[i].cb(b->waiters[i].arg, &(ztp_contact_result_t){ZTP_CONTACT_UNAVAILABLE});
    free(answered);
    free(b);
}

static void flush(h2o_timeout_entry_t *entry)
{
    queue_t *q = queue;
    batch_t *b;
    const char *params[NCOLS];
    (void)entry;

    if (q->n == 0 || q->inflight >= MAX_INFLIGHT)
        return;
    b = malloc(sizeof(*b) + sizeof(waiter_t) * q->n);
    b->n = q->n;
    memcpy(b->waiters, q->waiters, sizeof(waiter_t) * q->n);
    for (int i = 0; i < NCOLS; i++) {
        ztp_buf_append(&q->cols[i], "}", 1);
        params[i] = q->cols[i].p;
    }
    ztp_db_unit_t *u = ztp_db_unit_new(ZTP_DB_SHARED, on_batch, b);
    ztp_db_unit_add(u, &SQL_BATCH, params, NULL);
    ztp_db_unit_since(u, q->oldest);
    for (int i = 0; i < NCOLS; i++) {
        q->cols[i].len = 0;
        ztp_buf_append(&q->cols[i], "{", 1);
    }
    q->n = 0;
    q->inflight++;
    ztp_db_submit(ztp_self->db, u);
}

static queue_t *this_queue(void)
{
    if (queue == NULL) {
        queue = calloc(1, sizeof(*queue));
        queue->flush_entry.cb = flush;
        for (int i = 0; i < NCOLS; i++)
            ztp_buf_append(&queue->cols[i], "{", 1);
    }
    return queue;
}

void ztp_contacts_record(const ztp_contact_t *c, ztp_contact_cb cb, void *arg)
{
    queue_t *q = this_queue();
    const char *values[NCOLS] = {
        c->mac, c->addr, c->ua, c->vendor, c->model, c->firmware, c->want, c->certified ? "t" : "f"};

    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 64;
        q->waiters = realloc(q->waiters, sizeof(waiter_t) * q->cap);
    }
    if (q->n == 0)
        q->oldest = h2o_now(ztp_self->ctx.loop);
    q->waiters[q->n++] = (waiter_t){cb, arg};
    for (int i = 0; i < NCOLS; i++)
        array_elem(&q->cols[i], values[i]);
    if (q->n >= MAX_BATCH && q->inflight < MAX_INFLIGHT)
        flush(NULL);
    else
        schedule(q);
}

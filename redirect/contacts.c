/*
 * Batched, durable recording of phone contacts.
 *
 * Each loop thread gathers its redirect and boot requests; at the end of a
 * loop iteration, if fewer than MAX_INFLIGHT batches are waiting on the
 * database, everything gathered goes out as one statement. While batches are
 * in flight, new requests wait and the next batch grows: under load, batches
 * get larger and commits fewer, which is what keeps a durable write per
 * request affordable.
 *
 * The database does only what needs the rows: ztpd folds the requests of
 * one MAC into one row (several requests are several contacts and at most
 * one status change) and sorts the rows by MAC, so that concurrent batches
 * lock devices in the same order; the next status is a CASE generated from
 * the state machine (status.c); and the answer is not joined per row: each
 * row comes back with its profile's id and the batch's profile epoch, and
 * the profile's answer comes from this thread's cache (profcache.c).
 */
#include "contacts.h"
#include "status.h"

#include "../services/buf.h"
#include "../services/config.h"
#include "../services/db.h"
#include "../services/pgarray.h"
#include "../services/server.h"

#include <stdlib.h>
#include <string.h>

#define MAX_INFLIGHT 1
#define NCOLS 11
#define MAX_BATCH 2048

/*
 * One row per distinct MAC (in MAC order): the last request recorded for it
 * (the last with a verified certificate, when one came with one), how many
 * requests, and how many with a certificate. The device's profile answers
 * only a verified certificate naming it (`guarded`: the profiles that
 * require one, read once per batch from a partial index and usually
 * empty): its requests without one are answered as an unknown MAC's and
 * recorded nowhere. A /boot request names the vendor (`want`) whose URL the
 * profile must hold: a profile without it is no profile for that phone. The
 * old status is kept in previous_status for the event (an UPDATE sees the
 * old row in SET, not in RETURNING).
 */
static const char batch_head[] =
    "WITH r AS (\n"
    "    SELECT * FROM unnest($1::macaddr[], $2::inet[], $3::text[], $4::text[], $5::text[], $6::text[],\n"
    "                         $7::text[], $8::boolean[], $9::int[], $10::int[], $11::text[])\n"
    "        WITH ORDINALITY\n"
    "        AS r(mac, addr, ua, vendor, model, firmware, want, certified, n, n_certified, serial, i)\n"
    "), g AS (\n"
    "    SELECT coalesce(array_agg(id), '{}') AS ids FROM profiles WHERE require_certificate\n"
    "), upd AS (\n"
    "    UPDATE devices d SET\n"
    "        contacts = d.contacts + CASE WHEN d.profile_id = ANY (g.ids) THEN r.n_certified ELSE r.n END,\n"
    "        last_contact_at = now(), last_addr = r.addr, user_agent = r.ua, ua_vendor = r.vendor,\n"
    "        ua_model = coalesce(r.model, d.ua_model), ua_firmware = coalesce(r.firmware, d.ua_firmware),\n"
    "        ua_serial = coalesce(r.serial, d.ua_serial),\n"
    "        last_contact_certified = r.certified, previous_status = d.status,\n";
/*
 * A device keeps about its newest 1,000 events of contacts (what GET
 * /v1/devices/{mac}/events shows, migration 0029): strangers can move a
 * known device's status (a /boot for a vendor its profile has no URL for,
 * then a /redirect: two events), and its history must not grow without
 * bound. Every TRIM_EVERY events its contacts add (contact_events, migration
 * 0034: the device's own count, which nobody can steer) delete its contact
 * events but the 1,000 newest before the new one; the other contacts cost
 * nothing. What its owners did (claims, transfers, status reports,
 * redemptions) is kept. So a device holds at most 1,000 + TRIM_EVERY
 * contact events.
 */
#define KEEP_EVENTS_BEFORE "999" /* the oldest event kept: 999 after the newest */
#define TRIM_EVERY "100"
static const char batch_tail[] =
    "    FROM r, g\n"
    "    WHERE d.mac = r.mac AND (r.n_certified > 0 OR NOT coalesce(d.profile_id = ANY (g.ids), false))\n"
    "    RETURNING r.i, d.mac, d.previous_status AS was, d.status, d.provider_id, d.profile_id,\n"
    "              coalesce(d.profile_id = ANY (g.ids), false) AS guarded, d.contact_events\n"
    "), events AS (\n"
    "    INSERT INTO device_events (mac, provider_id, from_status, to_status, cause)\n"
    "    SELECT mac, provider_id, was, status, 'redirect' FROM upd WHERE was <> status\n"
    "), trimmed AS (\n"
    "    DELETE FROM device_events e\n"
    "    USING (SELECT u.mac, (SELECT o.id FROM device_events o WHERE o.mac = u.mac AND o.cause = "
    "'redirect'\n"
    "                          ORDER BY o.id DESC OFFSET " KEEP_EVENTS_BEFORE " LIMIT 1) AS oldest_kept\n"
    "           FROM upd u WHERE u.was <> u.status AND u.contact_events % " TRIM_EVERY " = 0) k\n"
    "    WHERE e.mac = k.mac AND e.cause = 'redirect' AND e.id < k.oldest_kept\n"
    ")\n"
    "SELECT i::int, provider_id IS NULL, profile_id, guarded, (SELECT epoch FROM profile_epoch) FROM upd\n"
    "UNION ALL\n" /* a batch that updated no device: see below */
    "SELECT 0, NULL, NULL, NULL, NULL\n"
    "WHERE CASE WHEN EXISTS (SELECT FROM upd) THEN false\n"
    "           ELSE pg_logical_emit_message(true, 'ztp.contacts', '') IS NOT NULL END\n";
#define HAS_PROFILE                                                                                          \
    "d.profile_id IS NOT NULL AND (r.want IS NULL OR EXISTS (SELECT 1 FROM profiles p\n"                     \
    "             WHERE p.id = d.profile_id AND p.vendor_urls ? r.want))"

static ztp_sql_t sql_batch = {NULL, NCOLS, -1};

/*
 * A prepared statement is planned again at each execution while plans made
 * for its parameters look cheaper than one made for any: so for a batch of
 * fewer than about 10 MACs (unnest's estimate without the array), which is
 * every batch when phones are few. Planning this statement cost 0.36 ms, as
 * much as running it for one phone: below GENERIC_BELOW rows the batch runs
 * between these two (local to its transaction, the second restoring the
 * session's setting for the units sharing it). Larger batches need neither:
 * PostgreSQL settles on the generic plan by itself, the same plan (each MAC
 * by the primary key). Unnamed statements (ZTP_DB_PREPARE=0) are planned
 * every time anyway.
 */
#define GENERIC_BELOW 16
ZTP_SQL(sql_plan_generic, 0, "SELECT set_config('plan_cache_mode', 'force_generic_plan', true)");
ZTP_SQL(sql_plan_default, 0, "SELECT set_config('plan_cache_mode', NULL, true)");

/*
 * Every batch commits durably, whether or not it changed a row: a
 * transaction that wrote nothing commits without waiting for the disk, so
 * that a phone with an unknown MAC (or a guarded one asking without its
 * certificate) had its 404 sooner than one with a claimed MAC whose profile
 * is not set yet (its contact is written, and flushed): the same answer,
 * told apart by its time (about 170 us apart here, one request at a time).
 * A batch that updated no device writes a transactional message to the WAL
 * (the last branch of the statement's UNION, its row numbered 0, which
 * matches no request), so its commit is flushed, and with a synchronous
 * standby replicated, like any other; a transaction id alone would not (a
 * commit that wrote no WAL before it is not waited for). A batch that
 * updated a device has written WAL already and needs no message (it was a
 * statement of its own before each batch: some 27 us of PostgreSQL's time
 * per batch). What is left is the update's own work, some 50 us, and a
 * second contact of the same device waiting on its row lock. The price: a
 * transaction id per batch of misses (misses are limited per source), and
 * logical decoding consumers that ask for messages get one ("ztp.contacts",
 * empty) per such batch.
 */

/* The status after `e` happens to the device d, as SQL: a constant when the
 * state machine moves every status to the same one, else a CASE over d.status. */
static void append_next(ztp_buf_t *b, ztp_event_t e)
{
    ztp_status_t first = ztp_status_next(ZTP_STATUS_OPEN, e);
    int same = 1;
    for (int s = 0; s < ZTP_STATUS_COUNT; s++)
        same &= ztp_status_next((ztp_status_t)s, e) == first;
    if (same && first != ZTP_STATUS_NONE) {
        ztp_buf_printf(b, "'%s'", ztp_status_name(first));
        return;
    }
    ztp_buf_puts(b, "CASE d.status");
    for (int s = 0; s < ZTP_STATUS_COUNT; s++) {
        ztp_status_t to = ztp_status_next((ztp_status_t)s, e);
        if (to != ZTP_STATUS_NONE)
            ztp_buf_printf(b, " WHEN '%s' THEN '%s'", ztp_status_name((ztp_status_t)s), ztp_status_name(to));
    }
    ztp_buf_puts(b, " ELSE d.status END");
}

static void append_next_status(ztp_buf_t *b)
{
    ztp_buf_puts(b, "CASE WHEN d.provider_id IS NULL THEN ");
    append_next(b, ZTP_EVENT_ASK_RELEASED);
    ztp_buf_puts(b, "\n             WHEN " HAS_PROFILE " THEN ");
    append_next(b, ZTP_EVENT_ASK_WITH_PROFILE);
    ztp_buf_puts(b, "\n             ELSE ");
    append_next(b, ZTP_EVENT_ASK_NO_PROFILE);
    ztp_buf_puts(b, " END");
}

void ztp_contacts_init(void)
{
    ztp_buf_t b = {0};
    ztp_buf_puts(&b, batch_head);
    ztp_buf_puts(&b, "        status = ");
    append_next_status(&b);
    ztp_buf_puts(&b, ",\n        status_changed_at = CASE WHEN ");
    append_next_status(&b);
    ztp_buf_puts(&b, " <> d.status\n            THEN now() ELSE d.status_changed_at END,\n");
    ztp_buf_puts(&b, "        contact_events = d.contact_events + CASE WHEN ");
    append_next_status(&b);
    ztp_buf_puts(&b, " <> d.status THEN 1 ELSE 0 END\n");
    ztp_buf_puts(&b, batch_tail);
    sql_batch.text = b.p; /* lives as long as the process */
}

enum { F_ADDR, F_UA, F_VENDOR, F_MODEL, F_FIRMWARE, F_SERIAL, NFIELDS };

/* One request waiting for its batch. */
typedef struct pending {
    uint64_t mac; /* 48 bits: the sort key */
    ztp_contact_cb cb;
    void *arg;
    long off[NFIELDS]; /* into the text buffer; -1 is NULL */
    char want[16];     /* "" for none */
    int certified;
    uint32_t seq; /* arrival order */
    uint32_t row; /* its MAC's row in the batch, from 0 */
} pending_t;

typedef struct batch {
    pending_t *reqs;
    size_t n;
    ztp_buf_t text;
    int result; /* the batch statement's index in the unit */
} batch_t;

typedef struct queue {
    pending_t *reqs;
    size_t n, cap;
    ztp_buf_t text;  /* the requests' strings, NUL-separated */
    uint64_t oldest; /* loop time of the first contact waiting */
    int inflight;
    ztp_defer_t flush;
    ztp_pgarray_t cols[NCOLS];
} queue_t;

static __thread queue_t *queue;

/* The per-request part of an answer that may wait for its profile. */
typedef struct answer {
    ztp_contact_cb cb;
    void *arg;
    char want[16];
    int certified;
} answer_t;

static void on_profile(void *arg, ztp_profcache_status_t st, const ztp_profile_answer_t *a)
{
    answer_t *w = arg;
    ztp_contact_result_t out = {ZTP_CONTACT_OK, a};
    if (st == ZTP_PROFCACHE_UNAVAILABLE)
        out = (ztp_contact_result_t){ZTP_CONTACT_UNAVAILABLE, NULL};
    else if (st == ZTP_PROFCACHE_OK && a->require_certificate && !w->certified)
        /* the batch's guard may have read an older profile than this answer
         * (a profile made certificate-only, or the device re-pointed, while
         * the batch waited on a lock): the content sent decides */
        out = (ztp_contact_result_t){ZTP_CONTACT_UNKNOWN, NULL};
    else if (st == ZTP_PROFCACHE_GONE ||
             (w->want[0] != '\0' && !json_is_string(json_object_get(a->vendor_urls, w->want))))
        out = (ztp_contact_result_t){ZTP_CONTACT_NO_PROFILE, NULL}; /* changed since: the phone retries */
    w->cb(w->arg, &out);
    free(w);
}

static void schedule(queue_t *q)
{
    ztp_server_defer(&q->flush);
}

typedef struct row {
    int found, released, guarded;
    char profile[37];
} row_t;

static void answer(const pending_t *p, const row_t *row, uint64_t epoch)
{
    ztp_contact_outcome_t o = !row->found || (row->guarded && !p->certified) ? ZTP_CONTACT_UNKNOWN
                              : row->released                                ? ZTP_CONTACT_RELEASED
                              : row->profile[0] == '\0'                      ? ZTP_CONTACT_NO_PROFILE
                                                                             : ZTP_CONTACT_OK;
    answer_t *w;
    if (o != ZTP_CONTACT_OK) {
        p->cb(p->arg, &(ztp_contact_result_t){o, NULL});
        return;
    }
    if ((w = malloc(sizeof(*w))) == NULL)
        abort();
    w->cb = p->cb;
    w->arg = p->arg;
    memcpy(w->want, p->want, sizeof(w->want));
    w->certified = p->certified;
    ztp_profcache_get(row->profile, epoch, on_profile, w);
}

static void on_batch(void *arg, const ztp_db_res_t *res)
{
    batch_t *b = arg;
    queue_t *q = queue;
    PGresult *r = res->status == ZTP_DB_OK ? res->results[b->result] : NULL;
    size_t nrows = b->n ? b->reqs[b->n - 1].row + 1 : 0; /* the requests are in row order */
    row_t *rows = NULL;
    uint64_t epoch = 0;

    q->inflight--;
    if (q->n > 0)
        schedule(q);
    if (r != NULL) {
        if ((rows = calloc(nrows ? nrows : 1, sizeof(*rows))) == NULL)
            abort();
        for (int i = 0; i < PQntuples(r); i++) {
            long k = atol(PQgetvalue(r, i, 0)) - 1;
            const char *profile = ztp_db_val(r, i, 2);
            if (k < 0 || (size_t)k >= nrows)
                continue;
            rows[k].found = 1;
            rows[k].released = PQgetvalue(r, i, 1)[0] == 't';
            rows[k].guarded = PQgetvalue(r, i, 3)[0] == 't';
            if (profile != NULL)
                snprintf(rows[k].profile, sizeof(rows[k].profile), "%s", profile);
            epoch = strtoull(PQgetvalue(r, i, 4), NULL, 10);
        }
    }
    for (size_t i = 0; i < b->n; i++) {
        if (rows == NULL)
            b->reqs[i].cb(b->reqs[i].arg, &(ztp_contact_result_t){ZTP_CONTACT_UNAVAILABLE, NULL});
        else
            answer(&b->reqs[i], &rows[b->reqs[i].row], epoch);
    }
    free(rows);
    free(b->reqs);
    ztp_buf_free(&b->text);
    free(b);
}

static const char *field(const batch_t *b, const pending_t *p, int f)
{
    return p->off[f] < 0 ? NULL : b->text.p + p->off[f];
}

static int by_mac(const void *x, const void *y)
{
    const pending_t *a = x, *b = y;
    if (a->mac != b->mac)
        return a->mac < b->mac ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq; /* qsort is not stable */
}

/* v in decimal into out (24 bytes); printf showed in every batch's profile. */
static const char *decimal(char out[24], uint64_t v)
{
    char *o = out + 23;
    *o = '\0';
    do {
        *--o = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return o;
}

/* The MAC as macaddr_in reads it first ("00:56:2b:04:36:15"). */
static void mac_text(char out[18], uint64_t mac)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 6; i++) {
        unsigned byte = (unsigned)(mac >> (40 - 8 * i)) & 0xff;
        out[3 * i] = hex[byte >> 4];
        out[3 * i + 1] = hex[byte & 15];
        out[3 * i + 2] = i < 5 ? ':' : '\0';
    }
}

/* Appends the row of the requests reqs[0..n) (one MAC) to the columns. */
static void add_row(queue_t *q, const batch_t *b, const pending_t *reqs, size_t n)
{
    const pending_t *rep = &reqs[n - 1];
    int certified = 0;
    char mac[18], count[24], count_certified[24];

    for (size_t i = 0; i < n; i++)
        if (reqs[i].certified) {
            certified++;
            rep = &reqs[i];
        }
    mac_text(mac, rep->mac);
    const char *values[NCOLS] = {mac,
                                 field(b, rep, F_ADDR),
                                 field(b, rep, F_UA),
                                 field(b, rep, F_VENDOR),
                                 field(b, rep, F_MODEL),
                                 field(b, rep, F_FIRMWARE),
                                 rep->want[0] ? rep->want : NULL,
                                 rep->certified ? "t" : "f",
                                 decimal(count, n),
                                 decimal(count_certified, (uint64_t)certified),
                                 field(b, rep, F_SERIAL)};
    for (int i = 0; i < NCOLS; i++)
        ztp_pgarray_add(&q->cols[i], values[i]);
}

static void flush(ztp_defer_t *d)
{
    queue_t *q = queue;
    batch_t *b;
    const char *params[NCOLS];
    uint32_t row = 0;
    (void)d;

    if (q->n == 0 || q->inflight >= MAX_INFLIGHT)
        return;
    if ((b = calloc(1, sizeof(*b))) == NULL)
        abort();
    b->reqs = q->reqs;
    b->n = q->n;
    b->text = q->text;
    q->reqs = NULL;
    q->n = q->cap = 0;
    q->text = (ztp_buf_t){0};
    qsort(b->reqs, b->n, sizeof(*b->reqs), by_mac);
    for (int i = 0; i < NCOLS; i++)
        ztp_pgarray_reset(&q->cols[i]);
    for (size_t i = 0, j; i < b->n; i = j, row++) {
        for (j = i; j < b->n && b->reqs[j].mac == b->reqs[i].mac; j++)
            b->reqs[j].row = row;
        add_row(q, b, &b->reqs[i], j - i);
    }
    for (int i = 0; i < NCOLS; i++)
        params[i] = ztp_pgarray_text(&q->cols[i]);
    ztp_db_unit_t *u = ztp_db_unit_new(ZTP_DB_SHARED, on_batch, b);
    int generic = ztp_config.db_prepare && row < GENERIC_BELOW;
    if (generic)
        ztp_db_unit_add(u, &sql_plan_generic, NULL, NULL);
    b->result = generic;
    ztp_db_unit_add(u, &sql_batch, params, NULL);
    if (generic)
        ztp_db_unit_add(u, &sql_plan_default, NULL, NULL);
    ztp_db_unit_since(u, q->oldest);
    q->inflight++;
    ztp_db_submit(ztp_self->db, u);
}

static queue_t *this_queue(void)
{
    if (queue == NULL) {
        if ((queue = calloc(1, sizeof(*queue))) == NULL)
            abort();
        queue->flush.cb = flush;
    }
    return queue;
}

static uint64_t mac_value(const char *mac)
{
    uint64_t v = 0;
    for (int i = 0; i < 12; i++)
        v = v << 4 | (uint64_t)ztp_hex_value(mac[i]);
    return v;
}

static long keep(ztp_buf_t *text, const char *s)
{
    long off;
    if (s == NULL)
        return -1;
    off = (long)text->len;
    ztp_buf_append(text, s, strlen(s) + 1); /* with its NUL: the strings sit end to end */
    return off;
}

void ztp_contacts_record(const ztp_contact_t *c, ztp_contact_cb cb, void *arg)
{
    queue_t *q = this_queue();
    pending_t *p;

    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 64;
        if ((q->reqs = realloc(q->reqs, sizeof(*q->reqs) * q->cap)) == NULL)
            abort();
    }
    if (q->n == 0)
        q->oldest = h2o_now(ztp_self->ctx.loop);
    p = &q->reqs[q->n++];
    *p = (pending_t){
        .mac = mac_value(c->mac), .cb = cb, .arg = arg, .certified = c->certified, .seq = (uint32_t)q->n - 1};
    p->off[F_ADDR] = keep(&q->text, c->addr);
    p->off[F_UA] = keep(&q->text, c->ua);
    p->off[F_VENDOR] = keep(&q->text, c->vendor);
    p->off[F_MODEL] = keep(&q->text, c->model);
    p->off[F_FIRMWARE] = keep(&q->text, c->firmware);
    p->off[F_SERIAL] = keep(&q->text, c->serial);
    if (c->want != NULL && strlen(c->want) < sizeof(p->want))
        strcpy(p->want, c->want);
    else if (c->want != NULL)
        abort(); /* vendor names are short constants */
    if (q->n >= MAX_BATCH && q->inflight < MAX_INFLIGHT)
        flush(NULL);
    else
        schedule(q);
}

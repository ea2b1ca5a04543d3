#include "migrate.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define LOCK_KEY "7426001"

static int exec_ok(PGconn *conn, const char *sql, char *err, size_t errlen, const char *what)
{
    PGresult *r = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(r));
        msg[strcspn(msg, "\n")] = '\0';
        snprintf(err, errlen, "%s: %s", what, msg);
    }
    PQclear(r);
    return ok ? 0 : -1;
}

static void checksum(const char *sql, char out[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)sql, strlen(sql));
    sodium_bin2hex(out, 65, h, sizeof(h));
}

/* 1: applied with the same checksum, 0: not applied, -1: changed or error. */
static int applied(PGconn *conn, const ztp_migration_t *m, const char *sum, char *err, size_t errlen)
{
    const char *params[1] = {m->name};
    PGresult *r = PQexecParams(conn, "SELECT checksum FROM ztp_schema_migrations WHERE version = $1", 1, NULL,
                               params, NULL, NULL, 0);
    int rc;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "reading ztp_schema_migrations: %s", PQresultErrorMessage(r));
        rc = -1;
    } else if (PQntuples(r) == 0) {
        rc = 0;
    } else if (strcmp(PQgetvalue(r, 0, 0), sum) != 0) {
        snprintf(err, errlen, "migration %s was changed after it was applied; add a new file instead",
                 m->name);
        rc = -1;
    } else {
        rc = 1;
    }
    PQclear(r);
    return rc;
}

static void rollback(PGconn *conn)
{
    if (PQtransactionStatus(conn) != PQTRANS_IDLE)
        PQclear(PQexec(conn, "ROLLBACK"));
}

/* Opens a transaction holding the migration lock. Behind a transaction
 * pooler (PgBouncer) each transaction may run on another server session, so
 * nothing may outlive one: the lock and the message level are the
 * transaction's own, and each transaction decides under the lock whether
 * there is work left. */
static int begin_locked(PGconn *conn, char *err, size_t errlen, const char *what)
{
    return exec_ok(conn,
                   "BEGIN; SET LOCAL client_min_messages = warning;"
                   " SELECT pg_advisory_xact_lock(" LOCK_KEY ")",
                   err, errlen, what);
}

/* 1: applied now, 0: was applied before, -1: changed or error. */
static int apply(PGconn *conn, const ztp_migration_t *m, char *err, size_t errlen)
{
    char what[128], sum[65];
    const char *params[2] = {m->name, sum};
    PGresult *r;
    int st = -1, ok;

    checksum(m->sql, sum);
    snprintf(what, sizeof(what), "migration %s", m->name);
    if (begin_locked(conn, err, errlen, what) != 0 || (st = applied(conn, m, sum, err, errlen)) != 0) {
        rollback(conn); /* nothing was done in it */
        return st == 1 ? 0 : -1;
    }
    if (exec_ok(conn, m->sql, err, errlen, what) != 0) {
        rollback(conn);
        return -1;
    }
    r = PQexecParams(conn, "INSERT INTO ztp_schema_migrations (version, checksum) VALUES ($1, $2)", 2, NULL,
                     params, NULL, NULL, 0);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        snprintf(err, errlen, "%s: %s", what, PQresultErrorMessage(r));
    PQclear(r);
    if (!ok) {
        rollback(conn);
        return -1;
    }
    return exec_ok(conn, "COMMIT", err, errlen, what) == 0 ? 1 : -1;
}

/* Runs sql in a transaction of its own under the migration lock. */
static int run_locked(PGconn *conn, const char *sql, char *err, size_t errlen, const char *what)
{
    if (begin_locked(conn, err, errlen, what) != 0 || exec_ok(conn, sql, err, errlen, what) != 0 ||
        exec_ok(conn, "COMMIT", err, errlen, what) != 0) {
        rollback(conn);
        return -1;
    }
    return 0;
}

int ztp_migrate_run(PGconn *conn, const char *after_sql, char *err, size_t errlen)
{
    int count = 0;

    if (run_locked(conn,
                   "CREATE TABLE IF NOT EXISTS ztp_schema_migrations (version text PRIMARY KEY,"
                   " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
                   err, errlen, "creating ztp_schema_migrations") != 0)
        return -1;
    for (int i = 0; i < ztp_nmigrations; i++) {
        int st = apply(conn, &ztp_migrations[i], err, errlen);
        if (st < 0)
            return -1;
        count += st;
    }
    if (after_sql != NULL && run_locked(conn, after_sql, err, errlen, "after migrations") != 0)
        return -1;
    return count;
}

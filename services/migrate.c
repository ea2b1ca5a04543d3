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

static int apply(PGconn *conn, const ztp_migration_t *m, const char *sum, char *err, size_t errlen)
{
    const char *params[2] = {m->name, sum};
    PGresult *r;
    char what[128];

    snprintf(what, sizeof(what), "migration %s", m->name);
    if (exec_ok(conn, "BEGIN", err, errlen, what) != 0)
        return -1;
    if (exec_ok(conn, m->sql, err, errlen, what) != 0) {
        PQclear(PQexec(conn, "ROLLBACK"));
        return -1;
    }
    r = PQexecParams(conn, "INSERT INTO ztp_schema_migrations (version, checksum) VALUES ($1, $2)", 2, NULL,
                     params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        snprintf(err, errlen, "%s: %s", what, PQresultErrorMessage(r));
        PQclear(r);
        PQclear(PQexec(conn, "ROLLBACK"));
        return -1;
    }
    PQclear(r);
    return exec_ok(conn, "COMMIT", err, errlen, what);
}

int ztp_migrate_run(PGconn *conn, const char *after_sql, char *err, size_t errlen)
{
    int count = 0, rc = 0;

    if (exec_ok(conn, "SET client_min_messages = warning", err, errlen, "setup") != 0 ||
        exec_ok(conn, "SELECT pg_advisory_lock(" LOCK_KEY ")", err, errlen, "taking the migration lock") != 0)
        return -1;
    if (exec_ok(conn,
                "CREATE TABLE IF NOT EXISTS ztp_schema_migrations (version text PRIMARY KEY,"
                " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
                err, errlen, "creating ztp_schema_migrations") != 0)
        rc = -1;
    for (int i = 0; rc == 0 && i < ztp_nmigrations; i++) {
        char sum[65];
        int st;
        checksum(ztp_migrations[i].sql, sum);
        st = applied(conn, &ztp_migrations[i], sum, err, errlen);
        if (st < 0)
            rc = -1;
        else if (st == 0 && (rc = apply(conn, &ztp_migrations[i], sum, err, errlen)) == 0)
            count++;
    }
    if (rc == 0 && after_sql != NULL) {
        if (exec_ok(conn, "BEGIN", err, errlen, "after migrations") != 0 ||
            exec_ok(conn, after_sql, err, errlen, "after migrations") != 0 ||
            exec_ok(conn, "COMMIT", err, errlen, "after migrations") != 0) {
            PQclear(PQexec(conn, "ROLLBACK"));
            rc = -1;
        }
    }
    PQclear(PQexec(conn, "SELECT pg_advisory_unlock(" LOCK_KEY ")"));
    return rc == 0 ? count : -1;
}

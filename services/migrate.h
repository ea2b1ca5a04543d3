#ifndef ZTP_MIGRATE_H
#define ZTP_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>

/* One migration file compiled into ztpd (see the Makefile). */
typedef struct ztp_migration {
    const char *name; /* "0001_init.sql" */
    const char *sql;
} ztp_migration_t;

extern const ztp_migration_t ztp_migrations[];
extern const int ztp_nmigrations;

/* Applies every migration not yet applied, each in its own transaction, in
 * name order, each transaction under a transaction-level advisory lock so
 * that concurrent runs apply each once (also through a transaction pooler);
 * refuses when an applied file has changed. Then runs `after_sql` (may be
 * NULL) in a transaction under the same lock. Blocking: for the command line
 * only. Returns the number applied, or -1 with err filled. */
int ztp_migrate_run(PGconn *conn, const char *after_sql, char *err, size_t errlen);

#endif

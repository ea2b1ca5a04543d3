#include "import_runner.h"

#include "../services/config.h"
#include "../services/log.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POLL_MS 1000
#define RANGE_ROWS 100000 /* rows applied between two progress reports */
#define SWEEP_EVERY_S 3600
#define RETENTION "7 days"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static int woken, stopping, started;
static pthread_t runner;

/* A job's transaction: no limit on the whole, but a bound on each wait and
 * on a client that vanished mid-transaction (its lock would hold the job). */
static const char SQL_BEGIN[] =
    "BEGIN; SET LOCAL lock_timeout = '5s'; SET LOCAL statement_timeout = '30min';"
    " SET LOCAL idle_in_transaction_session_timeout = '60s';"
    " SELECT set_config('role', 'ztp_system', true)";
/* Every running job has a claim row; a runner takes one nobody holds. */
static const char SQL_CLAIMS[] =
    "BEGIN; SELECT set_config('role', 'ztp_system', true);"
    " INSERT INTO import_job_claims SELECT id FROM import_jobs WHERE state = 'running' ON CONFLICT DO NOTHING;"
    " COMMIT";
static const char SQL_CLAIM[] =
    "SELECT j.id, j.provider_id, j.dry_run, j.on_conflict = 'skip', j.rows,"
    " (SELECT bool_or(has_profile) FROM import_job_parts p WHERE p.job_id = j.id),"
    " (SELECT bool_or(has_model) FROM import_job_parts p WHERE p.job_id = j.id),"
    " (SELECT bool_or(has_serial) FROM import_job_parts p WHERE p.job_id = j.id)"
    " FROM import_job_claims c JOIN import_jobs j ON j.id = c.job_id WHERE j.state = 'running'"
    " ORDER BY j.started_at FOR UPDATE OF c SKIP LOCKED LIMIT 1";
static const char SQL_AS_TENANT[] = "SELECT set_config('role', 'ztp_tenant', true), set_config('app.tenant', $1, true)";
static const char SQL_RAW[] =
    "CREATE TEMP TABLE import_raw ON COMMIT DROP AS"
    " SELECT mac, profile_name, profile_in, model, serial, part, line FROM import_job_rows WHERE job_id = $1";
static const char SQL_ANALYSE[] = "SELECT status, body FROM ztp_import_analyse($1::boolean)";
static const char SQL_APPLY[] = "SELECT ztp_import_apply($1::boolean, $2::boolean, $3::boolean, $4, $5)";
static const char SQL_AUDIT[] = "SELECT ztp_import_audit($1::jsonb, $2::uuid)";
/* The end: only while still running (a cancel meanwhile means roll back). */
static const char SQL_FINISH[] =
    "UPDATE import_jobs SET state = $2, report = $3::jsonb, rows_done = rows, finished_at = now()"
    " WHERE id = $1 AND state = 'running'";
static const char SQL_AS_SYSTEM[] = "SELECT set_config('role', 'ztp_system', true)";
static const char SQL_UNCLAIM[] = "DELETE FROM import_job_claims WHERE job_id = $1";
/* On the progress connection, each in a transaction of its own (as_system). */
static const char SQL_PROGRESS[] = "UPDATE import_jobs SET rows_done = $2 WHERE id = $1 AND state = 'running'";
static const char SQL_FAILED[] =
    "UPDATE import_jobs SET state = 'failed', finished_at = now(), report = jsonb_build_object('errors',"
    " jsonb_build_array(jsonb_build_object('line', 0, 'detail', $2::text)))"
    " WHERE id = $1 AND state = 'running'";
static const char SQL_DROP_ROWS[] = "DELETE FROM import_job_rows WHERE job_id = $1";
static const char SQL_SWEEP[] = "BEGIN; SELECT set_config('role', 'ztp_system', true);"
                                " SELECT ztp_import_sweep(interval '" RETENTION "'); COMMIT";

static PGconn *connect_db(void)
{
    static const char *const keys[] = {"dbname", "connect_timeout", "application_name", "keepalives_idle",
                                       "keepalives_interval", "keepalives_count", NULL};
    const char *vals[] = {ztp_config.database_url, "5", "ztpd-import-runner", "10", "5", "3", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* The SQLSTATE and message of the last statement that failed (the runner
 * is one thread). */
static char last_state[6], last_message[256];

/* Whether a statement succeeded; clears its result. */
static int ok(PGresult *r)
{
    int good = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!good) {
        const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        snprintf(last_state, sizeof(last_state), "%s", st ? st : "");
        snprintf(last_message, sizeof(last_message), "%s", PQresultErrorMessage(r));
        for (char *c = last_message; *c; c++)
            if (*c == '\n')
                *c = ' ';
    }
    PQclear(r);
    return good;
}

static PGresult *exec(PGconn *c, const char *sql, int n, const char *const *p)
{
    return PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
}

/* Runs one statement as ztp_system in a transaction of its own (a role set
 * inside the statement itself would come too late: privileges are checked
 * before it runs). */
static int as_system(PGconn *c, const char *sql, int n, const char *const *p)
{
    int good = ok(PQexec(c, "BEGIN")) && ok(exec(c, SQL_AS_SYSTEM, 0, NULL)) && ok(exec(c, sql, n, p));
    PQclear(PQexec(c, good ? "COMMIT" : "ROLLBACK"));
    return good;
}

/* A claimed job, as read by SQL_CLAIM. */
typedef struct job {
    char id[37], provider[37];
    const char *dry, *skip, *has_profile, *has_model, *has_serial;
    long long rows;
} job_t;

static const char *flag(PGresult *r, int col)
{
    return !PQgetisnull(r, 0, col) && PQgetvalue(r, 0, col)[0] == 't' ? "true" : "false";
}

static void progress(PGconn *side, const char *id, long long done)
{
    char n[24];
    snprintf(n, sizeof(n), "%lld", done);
    const char *p[2] = {id, n};
    as_system(side, SQL_PROGRESS, 2, p);
}

/* Runs the claimed job inside the open transaction of `work`. Returns 0
 * when the transaction may commit, 1 when it was cancelled meanwhile (roll
 * back), -1 on an error (last_state and the connection's message say it). */
static int run(PGconn *work, PGconn *side, const job_t *j)
{
    const char *id[1] = {j->id}, *tenant[1] = {j->provider};
    PGresult *r;
    int rc = -1;
    char *report = NULL;
    const char *final;

    progress(side, j->id, 0);
    /* the staged rows are copied as ztp_system, whose functions read them */
    if (!ok(exec(work, SQL_RAW, 1, id)) || !ok(exec(work, SQL_AS_TENANT, 1, tenant)))
        goto error;
    const char *skip[1] = {j->skip};
    r = exec(work, SQL_ANALYSE, 1, skip);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        ok(r);
        goto error;
    }
    report = strdup(PQgetvalue(r, 0, 1));
    final = atoi(PQgetvalue(r, 0, 0)) == 200 ? "succeeded" : "failed";
    PQclear(r);
    if (strcmp(final, "succeeded") == 0 && strcmp(j->dry, "false") == 0) {
        for (long long lo = 1; lo <= j->rows; lo += RANGE_ROWS) {
            char from[24], to[24];
            snprintf(from, sizeof(from), "%lld", lo);
            snprintf(to, sizeof(to), "%lld", lo + RANGE_ROWS);
            const char *p[5] = {j->has_profile, j->has_model, j->has_serial, from, to};
            if (!ok(exec(work, SQL_APPLY, 5, p)))
                goto error;
            progress(side, j->id, lo + RANGE_ROWS - 1 < j->rows ? lo + RANGE_ROWS - 1 : j->rows);
        }
        const char *a[2] = {report, j->id};
        if (!ok(exec(work, SQL_AUDIT, 2, a)))
            goto error;
    }
    /* SQL_FINISH's state change fires import_job.finished (a trigger), in
     * this transaction; the staged rows go after it (run_one) */
    const char *f[3] = {j->id, final, report};
    r = exec(work, SQL_FINISH, 3, f);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        ok(r);
        goto error;
    }
    rc = strcmp(PQcmdTuples(r), "1") == 0 ? 0 : 1;
    PQclear(r);
    if (rc == 0 && !(ok(exec(work, SQL_AS_SYSTEM, 0, NULL)) && ok(exec(work, SQL_UNCLAIM, 1, id))))
        rc = -1;
    free(report);
    return rc;
error:
    free(report);
    return -1;
}

/* Takes one running job nobody holds and runs it. Returns 1 when it found
 * one (look again at once), 0 when there was none, -1 when the database
 * is away. */
static int run_one(PGconn *work, PGconn *side)
{
    PGresult *r;
    job_t j;
    int rc;

    if (!ok(PQexec(side, SQL_CLAIMS)))
        return -1;
    if (!ok(PQexec(work, SQL_BEGIN)))
        return -1;
    r = PQexec(work, SQL_CLAIM);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) == 0) {
        int status = PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : -1;
        PQclear(r);
        PQclear(PQexec(work, "ROLLBACK"));
        return status;
    }
    memset(&j, 0, sizeof(j));
    snprintf(j.id, sizeof(j.id), "%s", PQgetvalue(r, 0, 0));
    snprintf(j.provider, sizeof(j.provider), "%s", PQgetvalue(r, 0, 1));
    j.dry = flag(r, 2);
    j.skip = flag(r, 3);
    j.rows = atoll(PQgetvalue(r, 0, 4));
    j.has_profile = flag(r, 5);
    j.has_model = flag(r, 6);
    j.has_serial = flag(r, 7);
    PQclear(r);
    last_state[0] = '\0';
    rc = run(work, side, &j);
    if (rc == 0 && ok(PQexec(work, "COMMIT"))) {
        /* the staged rows of the ended job, in a transaction of their own:
         * the job is done without waiting for it (if this ztpd dies first,
         * the sweep takes them) */
        const char *id[1] = {j.id};
        as_system(work, SQL_DROP_ROWS, 1, id);
        return 1;
    }
    PQclear(PQexec(work, "ROLLBACK"));
    if (rc == 1) {
        /* cancelled while running: nothing applied; its staged rows go */
        const char *id[1] = {j.id};
        as_system(side, SQL_DROP_ROWS, 1, id);
        return 1;
    }
    if (PQstatus(work) != CONNECTION_OK)
        return -1;
    /* a serialization failure (a claim raced us), a deadlock or a lock
     * wait is tried again; anything else would fail the same way again: the
     * job fails, and the log says why (the provider is not told our SQL) */
    if (strncmp(last_state, "40", 2) != 0 && strcmp(last_state, "55P03") != 0) {
        ztp_log_error("import job %s failed (%s): %s", j.id, last_state, last_message);
        const char *p[2] = {j.id, "the job could not be applied; nothing was applied (the server's log says why)"};
        as_system(side, SQL_FAILED, 2, p);
    }
    return 1;
}

static void wait_ms(int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&lock);
    while (!woken && !stopping && pthread_cond_timedwait(&wake, &lock, &ts) == 0)
        ;
    woken = 0;
    pthread_mutex_unlock(&lock);
}

static void *runner_main(void *unused)
{
    PGconn *work = NULL, *side = NULL;
    time_t last_sweep = 0;
    (void)unused;

    for (;;) {
        pthread_mutex_lock(&lock);
        int stop = stopping;
        pthread_mutex_unlock(&lock);
        if (stop)
            break;
        if (work == NULL || side == NULL || PQstatus(work) != CONNECTION_OK || PQstatus(side) != CONNECTION_OK) {
            PQfinish(work);
            PQfinish(side);
            work = connect_db();
            side = connect_db();
            if (work == NULL || side == NULL) {
                wait_ms(POLL_MS);
                continue;
            }
        }
        if (time(NULL) - last_sweep >= SWEEP_EVERY_S && ok(PQexec(side, SQL_SWEEP)))
            last_sweep = time(NULL);
        if (run_one(work, side) != 1)
            wait_ms(POLL_MS);
    }
    PQfinish(work);
    PQfinish(side);
    return NULL;
}

void ztp_import_runner_start(void)
{
    sigset_t all, old;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* signals are the main thread's */
    if (pthread_create(&runner, NULL, runner_main, NULL) != 0)
        abort();
    started = 1;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void ztp_import_runner_stop(void)
{
    struct timespec until;
    if (!started)
        return;
    pthread_mutex_lock(&lock);
    stopping = 1;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 1;
    pthread_timedjoin_np(runner, NULL, &until);
}

void ztp_import_runner_wake(void)
{
    pthread_mutex_lock(&lock);
    woken = 1;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
}

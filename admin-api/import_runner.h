#ifndef ZTP_IMPORT_RUNNER_H
#define ZTP_IMPORT_RUNNER_H

/*
 * Runs started import jobs in the background, one at a time per ztpd, on a
 * thread and database connections of its own. A job is held by the
 * runner's transaction (a row lock on its claim): if this ztpd dies, the
 * transaction ends and another runner, here or elsewhere, runs the job
 * again from its start; the changes and the job's end commit together, so
 * nothing is applied twice.
 */

/* Starts the runner thread; call once, before serving. */
void ztp_import_runner_start(void);

/* Asks the runner to stop and waits for it at most a second: a job it is
 * applying is rolled back by the exit and taken over later. */
void ztp_import_runner_stop(void);

/* Makes the runner look for work now rather than at its next poll. */
void ztp_import_runner_wake(void);

#endif

#include "worker.h"
#include "config.h"
#include "log.h"
#include "server.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

typedef struct job {
    h2o_multithread_message_t super; /* first: the message list links jobs */
    struct job *next;
    ztp_work_fn work, done;
    void *arg;
    h2o_multithread_receiver_t *home;
} job_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready = PTHREAD_COND_INITIALIZER;
static job_t *head, **tail = &head;

/* One receiver per loop thread for finished jobs (a static array, so that
 * they stay reachable after their threads end). */
#define MAX_LOOPS 256
static h2o_multithread_receiver_t receivers[MAX_LOOPS];
static __thread h2o_multithread_receiver_t *receiver;

static __thread PGconn *worker_conn;

PGconn *ztp_worker_db(void)
{
    /* keepalives: a primary that vanished without a word (failover) is
     * noticed in seconds, not after the kernel's two hours; connect_timeout
     * is libpq's shortest, so that an unreachable database is a prompt 503 */
    static const char *const keys[] = {"dbname", "connect_timeout", "application_name", "keepalives_idle",
                                       "keepalives_interval", "keepalives_count", NULL};
    const char *vals[] = {ztp_config.database_url, "2", "ztpd-worker", "10", "5", "3", NULL};

    if (worker_conn != NULL && PQstatus(worker_conn) == CONNECTION_OK &&
        PQtransactionStatus(worker_conn) == PQTRANS_IDLE)
        return worker_conn;
    if (worker_conn != NULL)
        PQfinish(worker_conn);
    worker_conn = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(worker_conn) != CONNECTION_OK) {
        char msg[256];
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(worker_conn));
        msg[strcspn(msg, "\n")] = '\0';
        ztp_log_error("database (worker): %s", msg);
        PQfinish(worker_conn);
        worker_conn = NULL;
    }
    return worker_conn;
}

static void *worker_main(void *unused)
{
    (void)unused;
    for (;;) {
        job_t *j;
        pthread_mutex_lock(&lock);
        while (head == NULL)
            pthread_cond_wait(&ready, &lock);
        j = head;
        head = j->next;
        if (head == NULL)
            tail = &head;
        pthread_mutex_unlock(&lock);
        j->work(j->arg);
        h2o_multithread_send_message(j->home, &j->super);
    }
    return NULL;
}

static void on_finished(h2o_multithread_receiver_t *r, h2o_linklist_t *messages)
{
    (void)r;
    while (!h2o_linklist_is_empty(messages)) {
        job_t *j = H2O_STRUCT_FROM_MEMBER(job_t, super.link, messages->next);
        h2o_linklist_unlink(&j->super.link);
        ztp_self->jobs--;
        j->done(j->arg);
        free(j);
    }
}

static void on_thread_init(ztp_thread_t *t)
{
    receiver = &receivers[t->index];
    h2o_multithread_register_receiver(t->ctx.queue, receiver, on_finished);
}

void ztp_worker_start(int nthreads)
{
    sigset_t all, old;
    pthread_attr_t attr;

    ztp_server_on_thread_init(on_thread_init);
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* the workers inherit: signals are the main thread's */
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (int i = 0; i < nthreads; i++) {
        pthread_t tid;
        if (pthread_create(&tid, &attr, worker_main, NULL) != 0)
            abort();
    }
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void ztp_worker_submit(ztp_work_fn work, ztp_work_fn done, void *arg)
{
    job_t *j = calloc(1, sizeof(*j));
    if (j == NULL)
        abort();
    ztp_self->jobs++; /* the thread is not drained until done has run */
    j->work = work;
    j->done = done;
    j->arg = arg;
    j->home = receiver;
    pthread_mutex_lock(&lock);
    *tail = j;
    tail = &j->next;
    pthread_cond_signal(&ready);
    pthread_mutex_unlock(&lock);
}

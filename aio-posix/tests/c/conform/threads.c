/* Threads and signals around the submitting calls, clause by clause:
 *
 * - aio_read, aio_write, aio_fsync, lio_listio and aio_cancel are not
 *   cancellation points (POSIX lists none of them; glibc's never act on a
 *   pending request): called by a thread with a cancellation pending,
 *   each returns, its op completes, and the thread is cancelled at its
 *   next cancellation point; also when the call is the process's first.
 * - A SIGEV_SIGNAL handler may wait for its own op with aio_suspend, also
 *   for a read the page cache could serve at once (the library sends such
 *   a signal from another thread, as glibc does, never from inside the
 *   aio_read that the handler then interrupts).
 *
 * Written as users write C: zero-filled aiocbs, only the needed fields. */
#include "conform.h"
#include <sched.h>
#include <sys/wait.h>

static int fd;
static char rbuf[1 << 20];
static atomic_int go;

/* Polls aio_error (not a cancellation point) until the op settles, for
 * at most about 10 s; returns its status. */
static int poll_settle(struct aiocb *cb) {
    for (long i = 0; i < 100000; i++) {
        int e = aio_error(cb);
        if (e != EINPROGRESS)
            return e;
        struct timespec ts = {0, 100 * 1000};
        /* nanosleep is a cancellation point: spin with sched_yield. */
        for (int k = 0; k < 100; k++)
            sched_yield();
        (void)ts;
    }
    return aio_error(cb);
}

struct job {
    const char *what;
    int call, err, status;
    ssize_t ret;
    int finished; /* reached pthread_testcancel */
};

static void *body(void *a) {
    struct job *j = a;
    while (!atomic_load(&go))
        sched_yield(); /* not a cancellation point */
    struct aiocb cb;
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = rbuf;
    cb.aio_nbytes = 100;
    struct aiocb *list[1] = {&cb};
    errno = 0;
    if (!strcmp(j->what, "aio_read_small")) {
        j->call = aio_read(&cb);
    } else if (!strcmp(j->what, "aio_read_zero")) {
        cb.aio_nbytes = 0;
        j->call = aio_read(&cb);
    } else if (!strcmp(j->what, "aio_read_large")) {
        cb.aio_nbytes = sizeof rbuf;
        j->call = aio_read(&cb);
    } else if (!strcmp(j->what, "aio_write")) {
        cb.aio_offset = 1 << 20;
        j->call = aio_write(&cb);
    } else if (!strcmp(j->what, "aio_fsync")) {
        j->call = aio_fsync(O_SYNC, &cb);
    } else if (!strcmp(j->what, "lio_listio_nowait")) {
        cb.aio_lio_opcode = LIO_READ;
        j->call = lio_listio(LIO_NOWAIT, list, 1, NULL);
    } else if (!strcmp(j->what, "aio_cancel")) {
        j->call = aio_read(&cb);
        int c = aio_cancel(fd, &cb);
        j->call = j->call == 0 && (c == AIO_ALLDONE || c == AIO_NOTCANCELED || c == AIO_CANCELED) ? 0 : -1;
    }
    j->err = errno;
    j->status = j->call == 0 ? poll_settle(&cb) : -1;
    j->ret = j->status == 0 ? aio_return(&cb) : -1;
    j->finished = 1;
    pthread_testcancel();
    return NULL; /* not reached: the request is still pending */
}

/* Runs `what` in a thread with a cancellation request already pending. */
static void pending_cancel(const char *what, const char *clause) {
    struct job j = {.what = what};
    pthread_t t;
    atomic_store(&go, 0);
    if (pthread_create(&t, NULL, body, &j) != 0) {
        perror("pthread_create");
        exit(2);
    }
    pthread_cancel(t);
    atomic_store(&go, 1);
    void *res = NULL;
    pthread_join(t, &res);
    if (!strcmp(what, "aio_cancel")) {
        /* Whether the read was still queued (ECANCELED) or already done
         * (its bytes) is timing; either is a settled op. */
        int ok = j.status == ECANCELED || (j.status == 0 && j.ret == 100);
        SAY(clause, "call=%d settled=%s cancelled_after=%s", j.call,
            ok && j.finished ? "yes" : "no", res == PTHREAD_CANCELED ? "yes" : "no");
        return;
    }
    SAY(clause, "call=%d status=%s return=%zd settled=%s cancelled_after=%s", j.call,
        j.call == 0 ? en(j.status) : en(j.err), j.ret, j.finished ? "yes" : "no",
        res == PTHREAD_CANCELED ? "yes" : "no");
}

static volatile sig_atomic_t handler_wait;
static struct aiocb scb;

static void on_sig(int s, siginfo_t *si, void *u) {
    (void)s;
    (void)u;
    if (si->si_value.sival_ptr == &scb) {
        /* Waiting for the op whose signal this is: it is complete. */
        const struct aiocb *l[1] = {&scb};
        struct timespec ts = {5, 0};
        handler_wait = aio_suspend(l, 1, &ts) == 0 ? 1 : 2;
    }
}

int main(void) {
    watchdog(60);
    fd = data_file(1 << 20);

    /* The process's first AIO call, in a thread with a cancellation
     * pending (the library builds itself inside that call). */
    pid_t pid = fork();
    if (pid == 0) {
        pending_cancel("aio_read_large", "cancel/first_call_aio_read");
        _exit(0);
    }
    int wst = 0;
    waitpid(pid, &wst, 0);
    SAY("cancel/first_call_process", "%s",
        WIFEXITED(wst) && WEXITSTATUS(wst) == 0 ? "exit0" : "killed_or_failed");

    /* Warm up: the descriptor is known and its pages are cached. */
    char tmp[4096];
    struct aiocb w;
    memset(&w, 0, sizeof w);
    w.aio_fildes = fd;
    w.aio_buf = tmp;
    w.aio_nbytes = sizeof tmp;
    outcome("cancel/warm_up_read", aio_read(&w), &w);

    pending_cancel("aio_read_small", "cancel/aio_read_cached");
    pending_cancel("aio_read_zero", "cancel/aio_read_zero_length");
    pending_cancel("aio_read_large", "cancel/aio_read_large");
    pending_cancel("aio_write", "cancel/aio_write");
    pending_cancel("aio_fsync", "cancel/aio_fsync");
    pending_cancel("lio_listio_nowait", "cancel/lio_listio_nowait");
    pending_cancel("aio_cancel", "cancel/aio_cancel");

    /* SIGEV_SIGNAL on a read the page cache can serve at once. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sig;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(SIGRTMIN + 1, &sa, NULL);
    int waited = 0;
    for (int i = 0; i < 20; i++) {
        memset(&scb, 0, sizeof scb);
        scb.aio_fildes = fd;
        scb.aio_buf = tmp;
        scb.aio_nbytes = 100;
        scb.aio_offset = 4096 * (i % 8);
        scb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
        scb.aio_sigevent.sigev_signo = SIGRTMIN + 1;
        scb.aio_sigevent.sigev_value.sival_ptr = &scb;
        handler_wait = 0;
        int rc = aio_read(&scb);
        if (rc != 0) {
            SAY("signal/cached_read_submit", "call=%d errno=%s", rc, en(errno));
            break;
        }
        for (int k = 0; k < 10000 && !handler_wait; k++) {
            struct timespec ts = {0, 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        waited += handler_wait == 1;
        aio_return(&scb);
    }
    SAY("signal/handler_suspends_on_own_op", "%d of 20 done", waited);
    return 0;
}

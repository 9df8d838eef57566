/* POSIX aio_suspend(): one line per clause (see conform.h). */
#include "conform.h"

static void on_usr1(int s) { (void)s; }

static int pipe_read(int fd, struct aiocb *cb, char *buf) {
    memset(cb, 0, sizeof *cb);
    cb->aio_fildes = fd;
    cb->aio_buf = buf;
    cb->aio_nbytes = 1;
    return aio_read(cb);
}

static void *poke(void *arg) {
    int fd = *(int *)arg;
    usleep(50 * 1000);
    if (write(fd, "x", 1) != 1)
        abort();
    return NULL;
}

static void *kick(void *arg) {
    pthread_t t = *(pthread_t *)arg;
    usleep(50 * 1000);
    pthread_kill(t, SIGUSR1);
    return NULL;
}

int main(void) {
    watchdog(60);
    int fd = data_file(4096);
    char buf[64], b1[4], b2[4];
    int p[2], q[2];
    if (pipe(p) != 0 || pipe(q) != 0)
        return 2;
    struct aiocb cb, a, b;

    /* Returns at once when an entry is already complete. */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = 8;
    aio_read(&cb);
    settle(&cb);
    const struct aiocb *one[1] = {&cb};
    SAY("aio_suspend/returns_if_already_complete", "%d", aio_suspend(one, 1, NULL));
    aio_return(&cb);

    /* NULL entries are ignored. */
    pipe_read(p[0], &a, b1);
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = 8;
    aio_read(&cb);
    settle(&cb);
    const struct aiocb *withnull[3] = {NULL, &a, &cb};
    SAY("aio_suspend/null_entries_ignored", "%d", aio_suspend(withnull, 3, NULL));
    aio_return(&cb);

    /* Waits until one of the listed ops completes. */
    pthread_t t;
    pthread_create(&t, NULL, poke, &p[1]);
    const struct aiocb *lst[1] = {&a};
    int r = aio_suspend(lst, 1, NULL);
    pthread_join(t, NULL);
    SAY("aio_suspend/waits_for_completion", "ret=%d status=%s", r, en(aio_error(&a)));
    aio_return(&a);

    /* ERRORS, EAGAIN: the time limit passed first. */
    pipe_read(q[0], &b, b2);
    const struct aiocb *lb[1] = {&b};
    struct timespec ts = {0, 30 * 1000 * 1000};
    errno = 0;
    r = aio_suspend(lb, 1, &ts);
    SAY("aio_suspend/error/EAGAIN_timeout", "ret=%d errno=%s", r, en(errno));
    struct timespec zero = {0, 0};
    errno = 0;
    r = aio_suspend(lb, 1, &zero);
    SAY("aio_suspend/error/EAGAIN_zero_timeout", "ret=%d errno=%s", r, en(errno));

    /* ERRORS, EINTR: a signal interrupted the wait. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    pthread_t self = pthread_self(), k;
    pthread_create(&k, NULL, kick, &self);
    struct timespec longer = {10, 0};
    errno = 0;
    r = aio_suspend(lb, 1, &longer);
    pthread_join(k, NULL);
    SAY("aio_suspend/error/EINTR_signal", "ret=%d errno=%s", r, en(errno));

    /* An empty list (nent 0): returns at once. */
    SAY("aio_suspend/empty_list", "%d", aio_suspend(lb, 0, &ts));
    /* A list of only NULL entries. */
    const struct aiocb *nulls[2] = {NULL, NULL};
    SAY("aio_suspend/only_null_entries", "%d", aio_suspend(nulls, 2, &ts));

    /* A negative nent, and a negative tv_nsec (an expired timeout). */
    errno = 0;
    r = aio_suspend(lb, -1, &ts);
    SAY("aio_suspend/nent_negative", "ret=%d errno=%s", r, en(r == -1 ? errno : 0));
    struct timespec bad = {0, -5};
    errno = 0;
    r = aio_suspend(lb, 1, &bad);
    SAY("aio_suspend/timeout_nsec_negative", "ret=%d errno=%s", r, en(r == -1 ? errno : 0));
    /* (tv_nsec >= 1e9 makes glibc 2.36 abort: not a clause here.) */

    if (write(q[1], "y", 1) != 1)
        return 2;
    settle(&b);
    aio_return(&b);
    return 0;
}

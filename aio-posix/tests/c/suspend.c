/* aio_suspend sleeps until a completion, returns EINTR when a signal
 * handler runs, and is a cancellation point. Linked with -laio_posix. */
#include "check.h"
#include "aio_posix.h"

static volatile sig_atomic_t handled;
static void on_usr1(int s) { (void)s; handled = 1; }

struct arg {
    int fd;
    pthread_t target;
};

static void *kick(void *p) {
    struct arg *a = p;
    usleep(50000);
    pthread_kill(a->target, SIGUSR1);
    return NULL;
}

static void *feed(void *p) {
    struct arg *a = p;
    usleep(50000);
    CHECK_EQ(write(a->fd, "x", 1), 1);
    return NULL;
}

static void *suspender(void *p) {
    const struct aiocb *l[1] = {p};
    for (;;)
        aio_suspend(l, 1, NULL); /* cancelled in here */
    return NULL;
}

int main(void) {
    watchdog(30);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1; /* no SA_RESTART */
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
    int p[2];
    CHECK(pipe(p) == 0);
    char b;
    struct aiocb rd;
    fill_cb(&rd, p[0], &b, 1, 0);
    CHECK(aio_read(&rd) == 0);
    const struct aiocb *l[1] = {&rd};

    /* A signal handler ends the sleep with EINTR. */
    struct arg a = {p[1], pthread_self()};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, kick, &a) == 0);
    CHECK_EQ(aio_suspend(l, 1, NULL), -1);
    CHECK_EQ(errno, EINTR);
    CHECK(handled);
    pthread_join(t, NULL);

    /* lio_listio(LIO_WAIT) is interrupted the same way; its op goes on. */
    handled = 0;
    char lb;
    struct aiocb lr;
    fill_cb(&lr, p[0], &lb, 1, 0);
    lr.aio_lio_opcode = LIO_READ;
    struct aiocb *ll[1] = {&lr};
    CHECK(pthread_create(&t, NULL, kick, &a) == 0);
    CHECK_EQ(lio_listio(LIO_WAIT, ll, 1, NULL), -1);
    CHECK_EQ(errno, EINTR);
    CHECK(handled);
    pthread_join(t, NULL);
    CHECK_EQ(aio_error(&lr), EINPROGRESS);
    CHECK_EQ(aio_cancel(p[0], &lr), AIO_CANCELED);

    /* A completion on another thread wakes it. */
    CHECK(pthread_create(&t, NULL, feed, &a) == 0);
    while (aio_error(&rd) == EINPROGRESS)
        CHECK(aio_suspend(l, 1, NULL) == 0 || errno == EINTR);
    CHECK_EQ(aio_return(&rd), 1);
    pthread_join(t, NULL);

    /* A cancellation point: pthread_cancel ends a thread asleep in it. */
    fill_cb(&rd, p[0], &b, 1, 0);
    CHECK(aio_read(&rd) == 0);
    CHECK(pthread_create(&t, NULL, suspender, &rd) == 0);
    usleep(50000);
    CHECK(pthread_cancel(t) == 0);
    void *ret;
    CHECK(pthread_join(t, &ret) == 0);
    CHECK(ret == PTHREAD_CANCELED);
    CHECK_EQ(aio_cancel(p[0], &rd), AIO_CANCELED);
    CHECK(aio_posix_calls("aio_suspend") >= 3);
    printf("suspend ok\n");
    return 0;
}

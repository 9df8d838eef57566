/* aio_cancel: a read waiting on an empty pipe / socket is cancelled
 * (AIO_CANCELED, ECANCELED, notification still sent), completed ops answer
 * AIO_ALLDONE, a bad fd EBADF, a mismatched fd EINVAL; aio_cancel(fd, NULL)
 * cancels every waiting op of the descriptor. Linked with -laio_posix. */
#include "check.h"
#include "aio_posix.h"

int main(void) {
    watchdog(20);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN + 2);
    CHECK(pthread_sigmask(SIG_BLOCK, &set, NULL) == 0);

    /* One op on an empty pipe: cancelled, with its notification. */
    int p[2];
    CHECK(pipe(p) == 0);
    char buf[16];
    struct aiocb rd;
    fill_cb(&rd, p[0], buf, sizeof buf, 0);
    rd.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
    rd.aio_sigevent.sigev_signo = SIGRTMIN + 2;
    rd.aio_sigevent.sigev_value.sival_int = 42;
    CHECK(aio_read(&rd) == 0);
    usleep(20000);
    CHECK_EQ(aio_error(&rd), EINPROGRESS);
    CHECK_EQ(aio_cancel(p[0], &rd), AIO_CANCELED);
    CHECK_EQ(aio_error(&rd), ECANCELED);
    CHECK_EQ(aio_return(&rd), -1);
    siginfo_t si;
    CHECK_EQ(sigwaitinfo(&set, &si), SIGRTMIN + 2);
    CHECK_EQ(si.si_code, SI_ASYNCIO);
    CHECK_EQ(si.si_value.sival_int, 42);
    /* Cancelling it again: all done. */
    CHECK_EQ(aio_cancel(p[0], &rd), AIO_ALLDONE);

    /* The pipe still works: the cancelled read consumed nothing. */
    CHECK_EQ(write(p[1], "abc", 3), 3);
    fill_cb(&rd, p[0], buf, sizeof buf, 0);
    CHECK(aio_read(&rd) == 0);
    CHECK_EQ(poll_done(&rd), 0);
    CHECK_EQ(aio_return(&rd), 3);
    CHECK_EQ(aio_cancel(p[0], &rd), AIO_ALLDONE);

    /* aio_cancel(fd, NULL): two reads waiting on a socket. */
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    struct aiocb r1, r2;
    char b1[8], b2[8];
    fill_cb(&r1, sv[0], b1, sizeof b1, 0);
    fill_cb(&r2, sv[0], b2, sizeof b2, 0);
    CHECK(aio_read(&r1) == 0);
    CHECK(aio_read(&r2) == 0);
    usleep(20000);
    CHECK_EQ(aio_cancel(sv[0], NULL), AIO_CANCELED);
    CHECK_EQ(aio_error(&r1), ECANCELED);
    CHECK_EQ(aio_error(&r2), ECANCELED);
    /* Nothing left in flight on it. */
    CHECK_EQ(aio_cancel(sv[0], NULL), AIO_ALLDONE);

    /* A write to a full pipe waits, and can be cancelled. */
    int q[2];
    CHECK(pipe(q) == 0);
    int fl = fcntl(q[1], F_GETFL);
    CHECK(fcntl(q[1], F_SETFL, fl | O_NONBLOCK) == 0);
    static char fill[4096];
    while (write(q[1], fill, sizeof fill) > 0) {
    }
    CHECK(fcntl(q[1], F_SETFL, fl) == 0);
    struct aiocb wr;
    fill_cb(&wr, q[1], fill, sizeof fill, 0);
    CHECK(aio_write(&wr) == 0);
    usleep(20000);
    CHECK_EQ(aio_error(&wr), EINPROGRESS);
    CHECK_EQ(aio_cancel(q[1], &wr), AIO_CANCELED);
    CHECK_EQ(aio_error(&wr), ECANCELED);

    /* Errors. */
    CHECK_EQ(aio_cancel(-1, NULL), -1);
    CHECK_EQ(errno, EBADF);
    CHECK_EQ(aio_cancel(9999, NULL), -1);
    CHECK_EQ(errno, EBADF);
    fill_cb(&rd, p[0], buf, sizeof buf, 0);
    CHECK_EQ(aio_cancel(p[1], &rd), -1); /* the aiocb names another fd */
    CHECK_EQ(errno, EINVAL);

    CHECK(aio_posix_calls("aio_cancel") >= 7);
    printf("cancel ok\n");
    return 0;
}

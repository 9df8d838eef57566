/* lio_listio in both modes, with LIO_READ/LIO_WRITE/LIO_NOP and NULL
 * entries, the list's own notification, per-entry errors, empty lists and
 * bad calls. Linked with -laio_posix. */
#include "check.h"
#include "aio_posix.h"

static atomic_int list_thread_hits;
static void on_list(union sigval v) {
    CHECK_EQ(v.sival_int, 7);
    atomic_fetch_add(&list_thread_hits, 1);
}

int main(void) {
    watchdog(30);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN + 3);
    CHECK(pthread_sigmask(SIG_BLOCK, &set, NULL) == 0);
    int fd = temp_file();
    char out[3][4096], in[3][4096];
    struct aiocb w[3], r[3], nop;
    struct aiocb *list[5];

    /* LIO_WAIT: three writes, a NOP and a NULL. */
    for (int i = 0; i < 3; i++) {
        memset(out[i], 'x' + i, sizeof out[i]);
        fill_cb(&w[i], fd, out[i], sizeof out[i], (off_t)i * 4096);
        w[i].aio_lio_opcode = LIO_WRITE;
        list[i] = &w[i];
    }
    memset(&nop, 0, sizeof nop);
    nop.aio_lio_opcode = LIO_NOP;
    list[3] = &nop;
    list[4] = NULL;
    CHECK_EQ(lio_listio(LIO_WAIT, list, 5, NULL), 0);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(aio_error(&w[i]), 0); /* done on return: no polling */
        CHECK_EQ(aio_return(&w[i]), 4096);
    }

    /* LIO_NOWAIT with a signal for the whole list. */
    for (int i = 0; i < 3; i++) {
        fill_cb(&r[i], fd, in[i], sizeof in[i], (off_t)i * 4096);
        r[i].aio_lio_opcode = LIO_READ;
        list[i] = &r[i];
    }
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGRTMIN + 3;
    sev.sigev_value.sival_int = 99;
    CHECK_EQ(lio_listio(LIO_NOWAIT, list, 3, &sev), 0);
    siginfo_t si;
    CHECK_EQ(sigwaitinfo(&set, &si), SIGRTMIN + 3);
    CHECK_EQ(si.si_code, SI_ASYNCIO);
    CHECK_EQ(si.si_value.sival_int, 99);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(aio_error(&r[i]), 0); /* every op done before the signal */
        CHECK_EQ(aio_return(&r[i]), 4096);
        CHECK(!memcmp(in[i], out[i], 4096));
    }

    /* LIO_NOWAIT with SIGEV_THREAD for the list. */
    for (int i = 0; i < 3; i++)
        fill_cb(&r[i], fd, in[i], sizeof in[i], (off_t)i * 4096), r[i].aio_lio_opcode = LIO_READ;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD;
    sev.sigev_notify_function = on_list;
    sev.sigev_value.sival_int = 7;
    CHECK_EQ(lio_listio(LIO_NOWAIT, list, 3, &sev), 0);
    while (atomic_load(&list_thread_hits) == 0)
        usleep(100);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(aio_error(&r[i]), 0);
    usleep(10000);
    CHECK_EQ(atomic_load(&list_thread_hits), 1);

    /* Empty lists: LIO_WAIT returns, LIO_NOWAIT notifies at once. */
    CHECK_EQ(lio_listio(LIO_WAIT, list, 0, NULL), 0);
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGRTMIN + 3;
    sev.sigev_value.sival_int = 5;
    CHECK_EQ(lio_listio(LIO_NOWAIT, list, 0, &sev), 0);
    CHECK_EQ(sigwaitinfo(&set, &si), SIGRTMIN + 3);
    CHECK_EQ(si.si_value.sival_int, 5);

    /* Per-entry errors: a bad fd and a bad opcode; the others run. */
    struct aiocb bad_fd, bad_op;
    char tmp[16];
    fill_cb(&bad_fd, -1, tmp, sizeof tmp, 0);
    bad_fd.aio_lio_opcode = LIO_READ;
    fill_cb(&bad_op, fd, tmp, sizeof tmp, 0);
    bad_op.aio_lio_opcode = 1234;
    fill_cb(&r[0], fd, in[0], sizeof in[0], 0);
    r[0].aio_lio_opcode = LIO_READ;
    list[0] = &bad_fd;
    list[1] = &r[0];
    list[2] = &bad_op;
    CHECK_EQ(lio_listio(LIO_WAIT, list, 3, NULL), -1);
    CHECK_EQ(errno, EIO);
    CHECK_EQ(aio_error(&bad_fd), EBADF);
    CHECK_EQ(aio_return(&bad_fd), -1);
    CHECK_EQ(aio_error(&bad_op), EINVAL);
    CHECK_EQ(aio_error(&r[0]), 0);
    CHECK_EQ(aio_return(&r[0]), 4096);

    /* A read of a write-only descriptor fails at completion: LIO_WAIT
     * reports EIO, the entry its error. */
    int p[2];
    CHECK(pipe(p) == 0);
    fill_cb(&r[1], p[1], tmp, sizeof tmp, 0);
    r[1].aio_lio_opcode = LIO_READ;
    list[0] = &r[1];
    CHECK_EQ(lio_listio(LIO_WAIT, list, 1, NULL), -1);
    CHECK_EQ(errno, EIO);
    CHECK_EQ(aio_error(&r[1]), EBADF);

    /* Bad calls. */
    CHECK_EQ(lio_listio(LIO_WAIT, list, -1, NULL), 0); /* empty (glibc) */
    CHECK_EQ(lio_listio(42, list, 1, NULL), -1);
    CHECK_EQ(errno, EINVAL);
    struct aiocb *const *volatile nul_list = NULL;
    CHECK_EQ(lio_listio(LIO_WAIT, nul_list, 2, NULL), -1);
    CHECK_EQ(errno, EINVAL);
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = 77;
    CHECK_EQ(lio_listio(LIO_NOWAIT, list, 0, &sev), -1);
    CHECK_EQ(errno, EINVAL);

    CHECK(aio_posix_calls("lio_listio") >= 10);
    printf("listio ok\n");
    return 0;
}

/* Every bad input gets its errno, never a crash or a hang. Run with
 * AIO_POSIX_MAX_OPS=4 (the EAGAIN limit). Linked with -laio_posix. */
#include "check.h"
#include "aio_posix.h"

int main(void) {
    watchdog(30);
    int fd = temp_file();
    char buf[64];
    struct aiocb cb;

    /* NULL aiocbs (through a volatile pointer: glibc declares the
     * arguments nonnull, so a literal NULL would be optimised on). */
    struct aiocb *volatile nul = NULL;
    CHECK_EQ(aio_read(nul), -1);
    CHECK_EQ(errno, EINVAL);
    CHECK_EQ(aio_write(nul), -1);
    CHECK_EQ(errno, EINVAL);
    CHECK_EQ(aio_fsync(O_SYNC, nul), -1);
    CHECK_EQ(errno, EINVAL);
    CHECK_EQ(aio_error(nul), -1);
    CHECK_EQ(errno, EINVAL);
    CHECK_EQ(aio_return(nul), -1);
    CHECK_EQ(errno, EINVAL);

    /* Never submitted: aio_error and aio_return fail with EINVAL. */
    fill_cb(&cb, fd, buf, sizeof buf, 0);
    CHECK_EQ(aio_error(&cb), -1);
    CHECK_EQ(errno, EINVAL);
    CHECK_EQ(aio_return(&cb), -1);
    CHECK_EQ(errno, EINVAL);

    /* Returned once, then EINVAL; aio_error keeps the final status (as
     * glibc); the aiocb can be reused. */
    CHECK(aio_write(&cb) == 0);
    CHECK_EQ(poll_done(&cb), 0);
    CHECK_EQ(aio_return(&cb), (long long)sizeof buf);
    CHECK_EQ(aio_return(&cb), -1);
    CHECK_EQ(errno, EINVAL);
    CHECK_EQ(aio_error(&cb), 0);
    CHECK(aio_read(&cb) == 0);
    CHECK_EQ(poll_done(&cb), 0);

    /* Bad descriptors: accepted, and the op fails with EBADF (glibc). */
    fill_cb(&cb, -1, buf, sizeof buf, 0);
    CHECK_EQ(aio_read(&cb), 0);
    CHECK_EQ(poll_done(&cb), EBADF);
    CHECK_EQ(aio_return(&cb), -1);
    fill_cb(&cb, 12345, buf, sizeof buf, 0);
    CHECK_EQ(aio_write(&cb), 0);
    CHECK_EQ(poll_done(&cb), EBADF);
    /* aio_fsync of a bad descriptor fails the call. */
    fill_cb(&cb, 12345, buf, sizeof buf, 0);
    CHECK_EQ(aio_fsync(O_SYNC, &cb), -1);
    CHECK_EQ(errno, EBADF);

    /* Negative offset: the op fails as pread would. Bad priority: the
     * call fails, and the aiocb says so too (glibc). Bad sigevents. */
    fill_cb(&cb, fd, buf, sizeof buf, -1);
    CHECK_EQ(aio_read(&cb), 0);
    CHECK_EQ(poll_done(&cb), EINVAL);
    fill_cb(&cb, fd, buf, sizeof buf, 0);
    cb.aio_reqprio = -1;
    CHECK_EQ(aio_read(&cb), -1);
    CHECK_EQ(errno, EINVAL);
    CHECK_EQ(aio_error(&cb), EINVAL);
    cb.aio_reqprio = 1000;
    CHECK_EQ(aio_read(&cb), -1);
    CHECK_EQ(errno, EINVAL);
    cb.aio_reqprio = 0;
    cb.aio_sigevent.sigev_notify = 12345;
    CHECK_EQ(aio_read(&cb), -1);
    CHECK_EQ(errno, EINVAL);
    cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
    cb.aio_sigevent.sigev_signo = 0; /* valid: nothing is sent */
    CHECK_EQ(aio_read(&cb), 0);
    CHECK_EQ(poll_done(&cb), 0);
    cb.aio_sigevent.sigev_signo = 1000;
    CHECK_EQ(aio_read(&cb), -1);
    CHECK_EQ(errno, EINVAL);
    cb.aio_sigevent.sigev_notify = SIGEV_THREAD;
    cb.aio_sigevent.sigev_notify_function = NULL;
    CHECK_EQ(aio_read(&cb), -1);
    CHECK_EQ(errno, EINVAL);
    cb.aio_sigevent.sigev_notify = SIGEV_THREAD_ID;
    cb.aio_sigevent.sigev_signo = SIGUSR1;
    cb.aio_sigevent._sigev_un._tid = 0;
    CHECK_EQ(aio_read(&cb), -1);
    CHECK_EQ(errno, EINVAL);

    /* Offset + length past OFF_MAX: what pread says (EINVAL). */
    fill_cb(&cb, fd, buf, sizeof buf, (off_t)0x7fffffffffffffe0LL);
    CHECK_EQ(aio_read(&cb), 0);
    CHECK_EQ(poll_done(&cb), EINVAL);

    /* NULL buffer with a length: the kernel's EFAULT, from aio_error. */
    fill_cb(&cb, fd, NULL, 16, 0);
    CHECK_EQ(aio_write(&cb), 0);
    CHECK_EQ(poll_done(&cb), EFAULT);

    /* Misaligned aiocbs: EINVAL, nothing touched. */
    static _Alignas(16) char raw[sizeof(struct aiocb) + 16];
    struct aiocb *volatile odd = (struct aiocb *)(raw + 1);
    CHECK_EQ(aio_read(odd), -1);
    CHECK_EQ(errno, EINVAL);
    CHECK_EQ(aio_error(odd), -1);
    CHECK_EQ(errno, EINVAL);
    CHECK_EQ(aio_return(odd), -1);
    CHECK_EQ(errno, EINVAL);

    /* Resubmitted while in flight; then EAGAIN at the limit of 4. */
    int p[2];
    CHECK(pipe(p) == 0);
    struct aiocb w[5];
    char b[5][8];
    for (int i = 0; i < 4; i++) {
        fill_cb(&w[i], p[0], b[i], sizeof b[i], 0);
        CHECK(aio_read(&w[i]) == 0);
    }
    CHECK_EQ(aio_read(&w[0]), -1);
    CHECK_EQ(errno, EINVAL);
    fill_cb(&w[4], p[0], b[4], sizeof b[4], 0);
    CHECK_EQ(aio_read(&w[4]), -1);
    CHECK_EQ(errno, EAGAIN);
    CHECK_EQ(aio_error(&w[4]), -1); /* refused: never submitted */
    CHECK_EQ(errno, EINVAL);
    /* lio_listio past the limit: EAGAIN, and the entry says so. */
    struct aiocb extra;
    char eb[8];
    fill_cb(&extra, p[0], eb, sizeof eb, 0);
    extra.aio_lio_opcode = LIO_READ;
    struct aiocb *el[1] = {&extra};
    CHECK_EQ(lio_listio(LIO_NOWAIT, el, 1, NULL), -1);
    CHECK_EQ(errno, EAGAIN);
    CHECK_EQ(aio_error(&extra), EAGAIN);
    CHECK_EQ(aio_return(&extra), -1);
    /* Feed them; in FIFO order each gets its 8 bytes. */
    CHECK_EQ(write(p[1], "AAAAAAAABBBBBBBBCCCCCCCCDDDDDDDD", 32), 32);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(poll_done(&w[i]), 0);
        CHECK_EQ(aio_return(&w[i]), 8);
        CHECK_EQ(b[i][0], 'A' + i);
    }
    /* Slots come back without aio_return: 100 rounds on a limit of 4. */
    for (int round = 0; round < 100; round++) {
        for (int i = 0; i < 4; i++) {
            fill_cb(&w[i], fd, b[i], sizeof b[i], 0);
            CHECK(aio_read(&w[i]) == 0);
        }
        for (int i = 0; i < 4; i++)
            CHECK_EQ(poll_done(&w[i]), 0);
    }

    /* aio_suspend: timeout, NULL entries, a complete entry, bad args. */
    fill_cb(&w[0], p[0], b[0], sizeof b[0], 0);
    CHECK(aio_read(&w[0]) == 0);
    const struct aiocb *list[3] = {NULL, &w[0], NULL};
    struct timespec ts = {0, 20 * 1000 * 1000};
    CHECK_EQ(aio_suspend(list, 3, &ts), -1);
    CHECK_EQ(errno, EAGAIN);
    ts.tv_nsec = -5; /* expired, as glibc says */
    CHECK_EQ(aio_suspend(list, 3, &ts), -1);
    CHECK_EQ(errno, EAGAIN);
    ts.tv_nsec = 1000000000; /* out of range (glibc asserts) */
    CHECK_EQ(aio_suspend(list, 3, &ts), -1);
    CHECK_EQ(errno, EINVAL);
    CHECK_EQ(aio_suspend(list, -1, NULL), -1);
    CHECK_EQ(errno, EINVAL);
    const struct aiocb *nulls[2] = {NULL, NULL};
    CHECK_EQ(aio_suspend(nulls, 2, NULL), 0);
    fill_cb(&w[1], fd, b[1], sizeof b[1], 0);
    CHECK(aio_read(&w[1]) == 0);
    CHECK_EQ(poll_done(&w[1]), 0);
    const struct aiocb *mixed[2] = {&w[0], &w[1]};
    CHECK_EQ(aio_suspend(mixed, 2, NULL), 0); /* w[1] is complete */
    CHECK_EQ(aio_cancel(p[0], &w[0]), AIO_CANCELED);

    CHECK(aio_posix_calls("aio_read") > 400);
    printf("badinput ok\n");
    return 0;
}

/* POSIX aio_cancel(): one line per clause (see conform.h). */
#include "conform.h"
#include <sys/wait.h>

int main(void) {
    watchdog(60);
    int fd = data_file(4096);
    char buf[64], pb[4][8];
    int p[2];
    if (pipe(p) != 0)
        return 2;
    struct aiocb cb, r[4];

    /* AIO_ALLDONE: the op already completed. */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = 8;
    aio_read(&cb);
    settle(&cb);
    SAY("aio_cancel/AIO_ALLDONE_completed_op", "%s",
        aio_cancel(fd, &cb) == AIO_ALLDONE ? "AIO_ALLDONE" : "other");
    aio_return(&cb);

    /* AIO_ALLDONE: no op outstanding on the descriptor (aiocbp NULL). */
    SAY("aio_cancel/AIO_ALLDONE_nothing_outstanding", "%s",
        aio_cancel(fd, NULL) == AIO_ALLDONE ? "AIO_ALLDONE" : "other");

    /* AIO_CANCELED: a read waiting on an empty pipe; its status is then
     * ECANCELED and its return -1. */
    memset(&r[0], 0, sizeof r[0]);
    r[0].aio_fildes = p[0];
    r[0].aio_buf = pb[0];
    r[0].aio_nbytes = 8;
    aio_read(&r[0]);
    /* Long enough for glibc's thread to be inside read(2) (else glibc
     * cancels it from its queue, and this clause would measure timing). */
    usleep(300 * 1000);
    int c = aio_cancel(p[0], &r[0]);
    SAY("aio_cancel/AIO_CANCELED_waiting_read", "%s",
        c == AIO_CANCELED ? "AIO_CANCELED" : c == AIO_NOTCANCELED ? "AIO_NOTCANCELED" : "other");
    int st = settle(&r[0]);
    SAY("aio_cancel/cancelled_status_ECANCELED", "%s return=%zd", en(st), aio_return(&r[0]));

    /* aiocbp NULL: every outstanding op of the descriptor. */
    for (int i = 0; i < 3; i++) {
        memset(&r[i], 0, sizeof r[i]);
        r[i].aio_fildes = p[0];
        r[i].aio_buf = pb[i];
        r[i].aio_nbytes = 8;
        aio_read(&r[i]);
    }
    c = aio_cancel(p[0], NULL);
    SAY("aio_cancel/all_ops_of_fd", "%s",
        c == AIO_CANCELED ? "AIO_CANCELED" : c == AIO_NOTCANCELED ? "AIO_NOTCANCELED" : "other");
    for (int i = 0; i < 3; i++) {
        int e = settle(&r[i]);
        char name[64];
        snprintf(name, sizeof name, "aio_cancel/all_ops_of_fd_status_%d", i);
        SAY(name, "%s", en(e));
        aio_return(&r[i]);
    }

    /* An aiocb whose aio_fildes is not fildes. */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    errno = 0;
    c = aio_cancel(p[0], &cb);
    SAY("aio_cancel/aiocb_of_another_fd", "ret=%d errno=%s", c, en(c == -1 ? errno : 0));

    /* A zeroed aiocb of this descriptor that was never submitted. */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    c = aio_cancel(fd, &cb);
    SAY("aio_cancel/never_submitted", "%s", c == AIO_ALLDONE ? "AIO_ALLDONE" : c == AIO_CANCELED ? "AIO_CANCELED" : "other");

    /* ERRORS, EBADF: fildes is not a valid descriptor. */
    errno = 0;
    c = aio_cancel(-1, NULL);
    SAY("aio_cancel/error/EBADF", "ret=%d errno=%s", c, en(errno));
    errno = 0;
    c = aio_cancel(1000, NULL);
    SAY("aio_cancel/error/EBADF_closed", "ret=%d errno=%s", c, en(errno));

    /* A fork child's copy of an aiocb its parent has in progress (a read
     * of an empty pipe): no op of the child's, and not done either. */
    int q[2];
    if (pipe(q) != 0)
        return 2;
    struct aiocb pr;
    memset(&pr, 0, sizeof pr);
    pr.aio_fildes = q[0];
    pr.aio_buf = buf;
    pr.aio_nbytes = 4;
    if (aio_read(&pr) != 0)
        return 2;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int k = aio_cancel(q[0], &pr);
        SAY("aio_cancel/fork_child_parents_op", "cancel=%s error=%s",
            k == AIO_ALLDONE ? "AIO_ALLDONE" : k == AIO_CANCELED ? "AIO_CANCELED" : k == AIO_NOTCANCELED ? "AIO_NOTCANCELED" : "other",
            en(aio_error(&pr)));
        _exit(0);
    }
    int wst;
    waitpid(pid, &wst, 0);
    if (write(q[1], "back", 4) != 4)
        return 2;
    int e = settle(&pr);
    SAY("aio_cancel/fork_parent_op_after", "status=%s return=%zd", en(e), e == EINPROGRESS ? -2 : aio_return(&pr));
    return 0;
}

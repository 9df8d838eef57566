/* POSIX aio_error() and aio_return(): one line per clause. */
#include "conform.h"

int main(void) {
    watchdog(60);
    int fd = data_file(4096);
    char buf[64];
    struct aiocb cb;

    /* aio_error: EINPROGRESS while the op runs (a read of an empty pipe). */
    int p[2];
    if (pipe(p) != 0)
        return 2;
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = p[0];
    cb.aio_buf = buf;
    cb.aio_nbytes = 4;
    int r = aio_read(&cb);
    SAY("aio_error/EINPROGRESS_while_running", "call=%d error=%s", r, en(aio_error(&cb)));
    errno = 0;
    ssize_t early = aio_return(&cb);
    SAY("aio_return/before_completion", "%zd errno=%s", early, en(early == -1 ? errno : 0));
    if (write(p[1], "abcd", 4) != 4)
        return 2;
    SAY("aio_error/0_on_success", "%s", en(settle(&cb)));
    SAY("aio_return/returns_read_count", "%zd", aio_return(&cb));
    /* After aio_return, aio_error still reports the final status. */
    SAY("aio_error/after_aio_return", "%s", en(aio_error(&cb)));

    /* aio_error: the op's errno when it failed; aio_return -1. */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = p[1];
    cb.aio_buf = buf;
    cb.aio_nbytes = 4;
    r = aio_read(&cb);
    SAY("aio_error/errno_of_failed_op", "call=%d error=%s", r, en(settle(&cb)));
    SAY("aio_return/minus_1_for_failed_op", "%zd", aio_return(&cb));

    /* aio_return: the count a write returns. */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = 33;
    memset(buf, 'x', sizeof buf);
    r = aio_write(&cb);
    settle(&cb);
    SAY("aio_return/returns_write_count", "call=%d return=%zd", r, aio_return(&cb));

    /* aio_error: a never-submitted (zeroed) aiocb (POSIX: may fail with
     * EINVAL). */
    struct aiocb fresh;
    memset(&fresh, 0, sizeof fresh);
    errno = 0;
    int e = aio_error(&fresh);
    SAY("aio_error/may_fail/EINVAL_never_submitted", "%d errno=%s", e, en(e == -1 ? errno : 0));
    errno = 0;
    ssize_t rv = aio_return(&fresh);
    SAY("aio_return/may_fail/EINVAL_never_submitted", "%zd errno=%s", rv, en(rv == -1 ? errno : 0));

    /* aio_return a second time (POSIX: may fail with EINVAL, the return
     * status having been retrieved). */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = 8;
    aio_read(&cb);
    settle(&cb);
    ssize_t first = aio_return(&cb);
    errno = 0;
    ssize_t second = aio_return(&cb);
    SAY("aio_return/may_fail/EINVAL_second_call", "first=%zd second=%zd errno=%s", first, second,
        en(second == -1 ? errno : 0));
    return 0;
}

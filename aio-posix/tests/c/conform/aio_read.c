/* POSIX aio_read(): one line per clause (see conform.h). */
#include "conform.h"
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>

int main(void) {
    watchdog(60);
    char buf[8192];
    struct aiocb cb;

    /* The process's first AIO call, on a descriptor just closed (the
     * library must not hand the number to its own rings first). */
    int gone = open("/dev/null", O_RDONLY);
    close(gone);
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = gone;
    cb.aio_buf = buf;
    cb.aio_nbytes = 10;
    outcome("aio_read/error/EBADF_just_closed_first_call", aio_read(&cb), &cb);

    int fd = data_file(8192);

    /* DESCRIPTION: reads aio_nbytes at aio_offset into aio_buf. */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = 100;
    cb.aio_offset = 30;
    outcome("aio_read/reads_nbytes_at_offset", aio_read(&cb), &cb);
    SAY("aio_read/data_at_offset", "%s", memcmp(buf, "efghij", 6) == 0 ? "ok" : "wrong");

    /* "aio_lio_opcode shall be ignored by aio_read()". */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = 10;
    cb.aio_lio_opcode = 12345;
    outcome("aio_read/lio_opcode_ignored", aio_read(&cb), &cb);

    /* Past the end of the file: what read() returns (0). */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = 10;
    cb.aio_offset = 1 << 20;
    outcome("aio_read/at_eof_returns_0", aio_read(&cb), &cb);

    /* A short read at the end: the count read() returns. */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = 200;
    cb.aio_offset = 8192 - 50;
    outcome("aio_read/short_at_end", aio_read(&cb), &cb);

    /* Zero length: what read(fd, buf, 0) returns. */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    outcome("aio_read/zero_length", aio_read(&cb), &cb);

    /* Offset ignored on a descriptor that cannot seek. */
    int p[2];
    if (pipe(p) != 0)
        return 2;
    if (write(p[1], "pipedata", 8) != 8)
        return 2;
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = p[0];
    cb.aio_buf = buf;
    cb.aio_nbytes = 8;
    cb.aio_offset = 12345;
    outcome("aio_read/pipe_ignores_offset", aio_read(&cb), &cb);
    SAY("aio_read/pipe_data", "%s", memcmp(buf, "pipedata", 8) == 0 ? "ok" : "wrong");

    /* ERRORS, EBADF: not a valid descriptor. */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = -1;
    cb.aio_buf = buf;
    cb.aio_nbytes = 10;
    outcome("aio_read/error/EBADF_invalid_fd", aio_read(&cb), &cb);
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = 1000;
    cb.aio_buf = buf;
    cb.aio_nbytes = 10;
    outcome("aio_read/error/EBADF_closed_fd", aio_read(&cb), &cb);

    /* ERRORS, EBADF: not open for reading (also with length 0). */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = p[1];
    cb.aio_buf = buf;
    cb.aio_nbytes = 10;
    outcome("aio_read/error/EBADF_write_only", aio_read(&cb), &cb);
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = p[1];
    cb.aio_buf = buf;
    outcome("aio_read/error/EBADF_write_only_zero_length", aio_read(&cb), &cb);

    /* ERRORS, EINVAL: the offset would be invalid. */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = 10;
    cb.aio_offset = -1;
    outcome("aio_read/error/EINVAL_negative_offset", aio_read(&cb), &cb);

    /* ERRORS, EINVAL: aio_reqprio is not a valid value. */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = 10;
    cb.aio_reqprio = -1;
    outcome("aio_read/error/EINVAL_reqprio_negative", aio_read(&cb), &cb);
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = 10;
    cb.aio_reqprio = 1000;
    outcome("aio_read/error/EINVAL_reqprio_too_large", aio_read(&cb), &cb);

    /* A directory: what read() says (EISDIR). */
    int dfd = open("/tmp", O_RDONLY | O_DIRECTORY);
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = dfd;
    cb.aio_buf = buf;
    cb.aio_nbytes = 10;
    outcome("aio_read/directory", aio_read(&cb), &cb);
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = dfd;
    cb.aio_buf = buf;
    outcome("aio_read/directory_zero_length", aio_read(&cb), &cb);

    /* aio_nbytes past SSIZE_MAX: what read() says (the buffer range is
     * checked first: EFAULT). */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = (size_t)-1;
    outcome("aio_read/nbytes_past_ssize_max", aio_read(&cb), &cb);

    /* A NULL buffer with a length: the kernel's EFAULT. */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_nbytes = 10;
    outcome("aio_read/null_buffer", aio_read(&cb), &cb);

    /* Notification: a zero sigevent (SIGEV_SIGNAL, signal 0) is valid. */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = 5;
    cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
    cb.aio_sigevent.sigev_signo = 0;
    outcome("aio_read/sigev_signal_signo_0", aio_read(&cb), &cb);
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = 5;
    cb.aio_sigevent.sigev_notify = SIGEV_NONE;
    outcome("aio_read/sigev_none", aio_read(&cb), &cb);

    /* A signal number no signal has, and an unknown sigev_notify. */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = 5;
    cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
    cb.aio_sigevent.sigev_signo = 1000;
    outcome("aio_read/sigev_bad_signo", aio_read(&cb), &cb);
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = 5;
    cb.aio_sigevent.sigev_notify = 4321;
    outcome("aio_read/sigev_unknown_notify", aio_read(&cb), &cb);

    /* The aiocb may be submitted again once its op completed. */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = 5;
    int r1 = aio_read(&cb);
    settle(&cb);
    aio_return(&cb);
    cb.aio_offset = 5;
    (void)r1;
    outcome("aio_read/resubmit_after_completion", aio_read(&cb), &cb);
    SAY("aio_read/resubmit_data", "%s", memcmp(buf, "fghij", 5) == 0 ? "ok" : "wrong");

    /* A number the program read a file on, closed and reused for a
     * descriptor that lseek accepts but pread refuses: the read is what
     * pread, then read, make of it (glibc's fallback on ESPIPE). */
    static char big[100000];
    int n = data_file(200000);
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = n;
    cb.aio_buf = big;
    cb.aio_nbytes = sizeof big;
    outcome("aio_read/reused_number_file_first", aio_read(&cb), &cb);
    int ep = epoll_create1(0);
    dup2(ep, n);
    close(ep);
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = n;
    cb.aio_buf = big;
    cb.aio_nbytes = sizeof big;
    outcome("aio_read/reused_number_epoll_large", aio_read(&cb), &cb);
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = n;
    cb.aio_buf = big;
    cb.aio_nbytes = 100;
    outcome("aio_read/reused_number_epoll_small", aio_read(&cb), &cb);
    int ev = eventfd(7, 0);
    dup2(ev, n);
    close(ev);
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = n;
    cb.aio_buf = big;
    cb.aio_nbytes = sizeof big;
    outcome("aio_read/reused_number_eventfd_large", aio_read(&cb), &cb);
    uint64_t v = 0;
    memcpy(&v, big, sizeof v);
    SAY("aio_read/reused_number_eventfd_value", "%llu", (unsigned long long)v);
    close(n);

    /* A non-blocking descriptor that has no RWF_NOWAIT (inotify), with
     * nothing to read: EAGAIN, as read(2) says. */
    int ino = inotify_init1(IN_NONBLOCK);
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = ino;
    cb.aio_buf = big;
    cb.aio_nbytes = 4096;
    outcome("aio_read/inotify_nonblock_empty", aio_read(&cb), &cb);
    close(ino);
    return 0;
}

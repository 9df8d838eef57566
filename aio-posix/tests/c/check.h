/* Helpers of aio-posix's C tests on top of the shared header
 * (test-support/c/aio_check.h: CHECK, CHECK_EQ, watchdog, fill_cb, now_s). */
#ifndef AIO_POSIX_CHECK_H
#define AIO_POSIX_CHECK_H
#include "aio_check.h"
#include <sys/socket.h>
#include <termios.h>

/* Polls aio_error until the op is no longer in progress. */
static inline int poll_done(const struct aiocb *cb) {
    int e;
    while ((e = aio_error(cb)) == EINPROGRESS)
        usleep(100);
    return e;
}

/* A temporary regular file, already unlinked. */
static inline int temp_file(void) {
    char path[] = "/tmp/aio-posix-test-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    return fd;
}
#endif

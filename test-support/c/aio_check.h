/* The one C header every C test tree shares (aio-posix/tests/c/check.h and
 * tests/c/util.h include it and add their own helpers): every check fails
 * the program loudly, and every program arms a watchdog (alarm) so that a
 * hang is a failure, not a stuck CI job. The Rust side puts this directory
 * on the include path (test_support::Cc). */
#ifndef AIO_TEST_SUPPORT_CHECK_H
#define AIO_TEST_SUPPORT_CHECK_H
#define _GNU_SOURCE
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHECK(c)                                                              \
    do {                                                                      \
        if (!(c)) {                                                           \
            int e_ = errno;                                                   \
            fprintf(stderr, "%s:%d: CHECK(%s) failed (errno %d: %s)\n",       \
                    __FILE__, __LINE__, #c, e_, strerror(e_));                \
            exit(1);                                                          \
        }                                                                     \
    } while (0)

#define CHECK_EQ(a, b)                                                        \
    do {                                                                      \
        long long a_ = (long long)(a), b_ = (long long)(b);                   \
        if (a_ != b_) {                                                       \
            int e_ = errno;                                                   \
            fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld (errno %d: %s)\n", \
                    __FILE__, __LINE__, #a, a_, #b, b_, e_, strerror(e_));    \
            exit(1);                                                          \
        }                                                                     \
    } while (0)

/* A hang kills the program with SIGALRM: the test sees a failure. */
static inline void watchdog(unsigned s) { alarm(s); }

/* Seconds on the monotonic clock. */
static inline double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* As every tutorial writes it: zero the aiocb, set what the op needs.
 * (A zero sigevent is SIGEV_SIGNAL with signal 0 on Linux: valid, and
 * nothing is sent.) */
static inline void fill_cb(struct aiocb *cb, int fd, void *buf, size_t n, off_t off) {
    memset(cb, 0, sizeof *cb);
    cb->aio_fildes = fd;
    cb->aio_buf = buf;
    cb->aio_nbytes = n;
    cb->aio_offset = off;
}
#endif

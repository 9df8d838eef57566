/* Shared helpers of the aio-tests C programs (soak, faults, memory): every
 * check fails the program loudly, and every program arms a watchdog
 * (alarm) so that a hang is a failure, not a stuck CI job. */
#ifndef AIO_TESTS_UTIL_H
#define AIO_TESTS_UTIL_H
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

/* Zeroed, then only what the op needs (a zero sigevent is SIGEV_SIGNAL
 * with signal 0: valid, nothing sent). */
static inline void fill_cb(struct aiocb *cb, int fd, void *buf, size_t n, off_t off) {
    memset(cb, 0, sizeof *cb);
    cb->aio_fildes = fd;
    cb->aio_buf = buf;
    cb->aio_nbytes = n;
    cb->aio_offset = off;
}

/* Waits (aio_suspend, 100 ms slices, EINTR tolerated) until the op is no
 * longer in progress, at most `secs`; returns aio_error, or -2 on time-out. */
static inline int wait_done(const struct aiocb *cb, double secs) {
    double end = now_s() + secs;
    const struct aiocb *l[1] = {cb};
    struct timespec ts = {0, 100 * 1000 * 1000};
    int e;
    while ((e = aio_error(cb)) == EINPROGRESS) {
        if (now_s() > end)
            return -2;
        int r = aio_suspend(l, 1, &ts);
        CHECK(r == 0 || errno == EAGAIN || errno == EINTR);
    }
    return e;
}

/* xorshift64 */
static inline uint64_t rnd(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* FNV-1a */
static inline uint64_t fnv(const void *p, size_t n) {
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* The resident set, in pages, from /proc/self/statm. */
static inline long rss_pages(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    CHECK(f != NULL);
    long size = 0, rss = 0;
    CHECK(fscanf(f, "%ld %ld", &size, &rss) == 2);
    fclose(f);
    return rss;
}
#endif

/* Helpers of the aio-tests C programs (soak, faults, memory) on top of the
 * shared header (test-support/c/aio_check.h: CHECK, CHECK_EQ, watchdog,
 * fill_cb, now_s). */
#ifndef AIO_TESTS_UTIL_H
#define AIO_TESTS_UTIL_H
#include "aio_check.h"

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

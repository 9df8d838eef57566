/* Shared by the differential conformance programs (tests/differential.rs).
 *
 * Each program checks the clauses of one POSIX page and prints one line
 * per clause, "function/clause: outcome", where the outcome is what a
 * portable program can observe (return values, errno, aio_error and
 * aio_return, data). The harness runs every program twice, on glibc and
 * on libaio_posix.so (LD_PRELOAD), and compares the lines: they must be
 * equal except for the rows of the differences table in aio-posix/README.md.
 *
 * Written as users write C: the aiocb is zero-filled and only the fields
 * a program needs are set (a zero sigevent is SIGEV_SIGNAL with signal 0).
 * No check depends on timing; every wait has a time limit. */
#ifndef CONFORM_H
#define CONFORM_H
#define _GNU_SOURCE
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A stable name for an errno value (numbers differ nowhere on Linux, but
 * names make the table readable). */
static inline const char *en(int e) {
    switch (e) {
    case 0: return "0";
    case EINPROGRESS: return "EINPROGRESS";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ECANCELED: return "ECANCELED";
    case EFAULT: return "EFAULT";
    case EISDIR: return "EISDIR";
    case ESPIPE: return "ESPIPE";
    case EOVERFLOW: return "EOVERFLOW";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case ENOSYS: return "ENOSYS";
    default: {
        static char buf[4][16];
        static int i;
        char *b = buf[i++ & 3];
        snprintf(b, 16, "errno%d", e);
        return b;
    }
    }
}

#define SAY(clause, ...)                                                      \
    do {                                                                      \
        printf("%s: ", clause);                                               \
        printf(__VA_ARGS__);                                                  \
        printf("\n");                                                         \
        fflush(stdout);                                                       \
    } while (0)

/* Waits (aio_suspend, at most 10 s) until the op is no longer in
 * progress; returns its aio_error (EINPROGRESS if the time ran out). */
static inline int settle(const struct aiocb *cb) {
    const struct aiocb *l[1] = {cb};
    for (int i = 0; i < 100; i++) {
        int e = aio_error(cb);
        if (e != EINPROGRESS)
            return e;
        struct timespec ts = {0, 100 * 1000 * 1000};
        aio_suspend(l, 1, &ts);
    }
    return aio_error(cb);
}

/* The outcome of a submission: "call=-1 errno=X status=Y" if the call
 * failed (status: what aio_error then says about the aiocb), or
 * "call=0 status=X return=N" once the op settled. */
static inline void outcome(const char *clause, int call, struct aiocb *cb) {
    if (call != 0) {
        int e = errno;
        SAY(clause, "call=%d errno=%s", call, en(e));
        return;
    }
    int st = settle(cb);
    ssize_t r = st == EINPROGRESS ? 0 : aio_return(cb);
    SAY(clause, "call=0 status=%s return=%zd", en(st), r);
}

/* A regular file of `n` bytes 'a'..'z' repeating, already unlinked. */
static inline int data_file(size_t n) {
    char path[] = "/tmp/aio-conform-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        perror("mkstemp");
        exit(2);
    }
    unlink(path);
    char buf[4096];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (char)('a' + i % 26);
    for (size_t off = 0; off < n; off += sizeof buf) {
        size_t k = n - off < sizeof buf ? n - off : sizeof buf;
        if (pwrite(fd, buf, k, (off_t)off) != (ssize_t)k) {
            perror("pwrite");
            exit(2);
        }
    }
    return fd;
}

/* A watchdog: a hang is a failure of the program, not of the harness. */
static inline void watchdog(unsigned s) { alarm(s); }
#endif

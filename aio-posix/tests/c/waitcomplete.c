/* aio_waitcomplete (FreeBSD's extension), checked against its manual page
 * and the rules in aio-posix/README.md ("aio_waitcomplete"): the result
 * of every op is handed out exactly once, by aio_waitcomplete or
 * aio_return, whichever comes first; its own errors; and the byte counts
 * against pread(2) on the same file. Linked with -laio_posix.
 *
 *   waitcomplete             -> every clause, prints "waitcomplete ok" */
#include "check.h"
#include "aio_posix.h"
#include <sys/time.h>

#define N 64
#define BS 512

static const struct timespec ZERO = {0, 0};

/* aio_waitcomplete with a copy of `ts` (its prototype takes no const). */
static ssize_t wc(struct aiocb **out, const struct timespec *ts) {
    struct timespec t;
    if (!ts)
        return aio_waitcomplete(out, NULL);
    t = *ts;
    return aio_waitcomplete(out, &t);
}

/* Expects a call failure with `e`, *iocbp set to NULL. */
static void expect_fail(const struct timespec *ts, int e) {
    struct aiocb *got = (struct aiocb *)&got; /* not NULL before */
    errno = 0;
    CHECK_EQ(wc(&got, ts), -1);
    CHECK_EQ(errno, e);
    CHECK(got == NULL);
}

static int file_with(size_t n) {
    int fd = temp_file();
    char *b = malloc(n);
    for (size_t i = 0; i < n; i++)
        b[i] = (char)(i * 7 + 3);
    CHECK_EQ(pwrite(fd, b, n, 0), (ssize_t)n);
    free(b);
    return fd;
}

static void on_sig(int s) { (void)s; }

struct killer {
    pthread_t target;
    int ms;
    int wfd; /* write a byte here afterwards (-1: no) */
};

static void *kill_later(void *p) {
    struct killer *k = p;
    usleep(k->ms * 1000);
    pthread_kill(k->target, SIGUSR1);
    if (k->wfd >= 0) {
        usleep(k->ms * 1000);
        CHECK_EQ(write(k->wfd, "x", 1), 1);
    }
    return NULL;
}

/* Two threads reap N ops; each must be handed out exactly once. */
static struct aiocb mt_cbs[N];
static atomic_int mt_seen[N];
static atomic_int mt_total;

static void *mt_reaper(void *p) {
    (void)p;
    struct timespec ts = {10, 0};
    for (;;) {
        struct aiocb *got = NULL;
        ssize_t r = aio_waitcomplete(&got, &ts);
        if (r == -1 && errno == EAGAIN)
            return NULL; /* nothing outstanding any more */
        CHECK_EQ(r, BS);
        CHECK(got >= mt_cbs && got < mt_cbs + N);
        atomic_fetch_add(&mt_seen[got - mt_cbs], 1);
        atomic_fetch_add(&mt_total, 1);
    }
}

/* One thread reaps with aio_waitcomplete, one with aio_error/aio_return:
 * each result taken exactly once between them. */
static void *mt_returner(void *p) {
    (void)p;
    int left = N;
    int taken[N] = {0};
    double end = now_s() + 20;
    while (left > 0 && now_s() < end) {
        for (int i = 0; i < N; i++) {
            if (taken[i] || aio_error(&mt_cbs[i]) == EINPROGRESS)
                continue;
            taken[i] = 1;
            left--;
            ssize_t r = aio_return(&mt_cbs[i]);
            if (r == -1) {
                CHECK_EQ(errno, EINVAL); /* reaped first by the other */
            } else {
                CHECK_EQ(r, BS);
                atomic_fetch_add(&mt_seen[i], 1);
                atomic_fetch_add(&mt_total, 1);
            }
        }
    }
    CHECK_EQ(left, 0);
    return NULL;
}

/* N reads of `fd` in flight, taken by threads `a` and `b`; every op must
 * be taken exactly once between them. */
static void race(int fd, void *(*a)(void *), void *(*b)(void *)) {
    atomic_store(&mt_total, 0);
    for (int i = 0; i < N; i++) {
        atomic_store(&mt_seen[i], 0);
        fill_cb(&mt_cbs[i], fd, malloc(BS), BS, (off_t)(i % (N - 1)) * BS);
        CHECK_EQ(aio_read(&mt_cbs[i]), 0);
    }
    pthread_t ta, tb;
    CHECK(pthread_create(&ta, NULL, a, NULL) == 0);
    CHECK(pthread_create(&tb, NULL, b, NULL) == 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK_EQ(atomic_load(&mt_total), N);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(atomic_load(&mt_seen[i]), 1);
        free((void *)mt_cbs[i].aio_buf);
    }
}

int main(void) {
    watchdog(60);
    struct aiocb *got;

    /* Nothing submitted yet: EAGAIN at once, also with no timeout. */
    expect_fail(&ZERO, EAGAIN);
    expect_fail(NULL, EAGAIN);
    printf("nothing submitted: EAGAIN\n");

    /* Bad timeouts: EINVAL; a NULL iocbp: EFAULT. */
    struct timespec bad1 = {0, -1}, bad2 = {0, 1000000000}, bad3 = {-1, 0};
    expect_fail(&bad1, EINVAL);
    expect_fail(&bad2, EINVAL);
    expect_fail(&bad3, EINVAL);
    errno = 0;
    CHECK_EQ(aio_waitcomplete(NULL, NULL), -1);
    CHECK_EQ(errno, EFAULT);
    printf("bad arguments: EINVAL, EFAULT\n");

    /* N reads, reaped in any order, each once, with pread's byte counts;
     * the last one is short (at the end of the file). */
    int fd = file_with(N * BS - 100);
    static struct aiocb cbs[N];
    static char bufs[N][BS];
    for (int i = 0; i < N; i++) {
        fill_cb(&cbs[i], fd, bufs[i], BS, (off_t)i * BS);
        CHECK_EQ(aio_read(&cbs[i]), 0);
    }
    int seen[N] = {0};
    for (int i = 0; i < N; i++) {
        got = NULL;
        ssize_t r = wc(&got, NULL);
        CHECK(got >= cbs && got < cbs + N);
        int k = (int)(got - cbs);
        char want[BS];
        ssize_t pr = pread(fd, want, BS, (off_t)k * BS);
        CHECK_EQ(r, pr);
        CHECK(memcmp(want, bufs[k], (size_t)pr) == 0);
        seen[k]++;
        /* It served as aio_return: aio_error keeps the final status,
         * a second return fails. */
        CHECK_EQ(aio_error(got), 0);
        errno = 0;
        CHECK_EQ(aio_return(got), -1);
        CHECK_EQ(errno, EINVAL);
    }
    for (int i = 0; i < N; i++)
        CHECK_EQ(seen[i], 1);
    expect_fail(&ZERO, EAGAIN); /* all reaped: nothing outstanding */
    printf("%d reads reaped once each, byte counts as pread\n", N);

    /* A failed op: -1 with its error, *iocbp its aiocb (FreeBSD). */
    struct aiocb bad;
    char b1[16];
    fill_cb(&bad, 1000, b1, sizeof b1, 0); /* not open */
    CHECK_EQ(aio_read(&bad), 0);
    got = NULL;
    errno = 0;
    CHECK_EQ(wc(&got, NULL), -1);
    CHECK_EQ(errno, EBADF);
    CHECK(got == &bad);
    CHECK_EQ(aio_error(&bad), EBADF);
    printf("failed op: -1 EBADF, iocbp set\n");

    /* aio_fsync is reaped too (result 0). */
    struct aiocb fs;
    memset(&fs, 0, sizeof fs);
    fs.aio_fildes = fd;
    CHECK_EQ(aio_fsync(O_SYNC, &fs), 0);
    got = NULL;
    CHECK_EQ(wc(&got, NULL), 0);
    CHECK(got == &fs);
    printf("fsync reaped: 0\n");

    /* Mixed with aio_suspend/aio_return: an op returned by aio_return is
     * never reaped; the other one is. */
    struct aiocb a, b;
    char ba[BS], bb[BS];
    fill_cb(&a, fd, ba, BS, 0);
    fill_cb(&b, fd, bb, BS, BS);
    CHECK_EQ(aio_read(&a), 0);
    const struct aiocb *la[1] = {&a};
    struct timespec ten = {10, 0};
    while (aio_error(&a) == EINPROGRESS)
        CHECK(aio_suspend(la, 1, &ten) == 0 || errno == EINTR);
    CHECK_EQ(aio_return(&a), BS);
    CHECK_EQ(aio_read(&b), 0);
    got = NULL;
    CHECK_EQ(wc(&got, NULL), BS);
    CHECK(got == &b);
    expect_fail(&ZERO, EAGAIN);
    printf("aio_return first: not reaped again\n");

    /* An op that cannot complete yet (an empty pipe): a zero timeout
     * polls (EINPROGRESS), a short one expires (EINPROGRESS). */
    int p[2];
    CHECK(pipe(p) == 0);
    struct aiocb pr;
    char pb[8];
    fill_cb(&pr, p[0], pb, sizeof pb, 0);
    CHECK_EQ(aio_read(&pr), 0);
    expect_fail(&ZERO, EINPROGRESS);
    struct timespec short_ts = {0, 50 * 1000 * 1000};
    double t0 = now_s();
    expect_fail(&short_ts, EINPROGRESS);
    CHECK(now_s() - t0 >= 0.045);
    printf("time limit: EINPROGRESS\n");

    /* A signal handler without SA_RESTART ends the wait with EINTR; with
     * SA_RESTART and no timeout the wait goes on (FreeBSD restarts it). */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sig;
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
    struct killer k = {pthread_self(), 50, -1};
    pthread_t kt;
    CHECK(pthread_create(&kt, NULL, kill_later, &k) == 0);
    expect_fail(NULL, EINTR);
    pthread_join(kt, NULL);
    sa.sa_flags = SA_RESTART;
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
    k.wfd = p[1];
    CHECK(pthread_create(&kt, NULL, kill_later, &k) == 0);
    got = NULL;
    CHECK_EQ(wc(&got, NULL), 1); /* the pipe read, after the write */
    CHECK(got == &pr);
    CHECK_EQ(pb[0], 'x');
    pthread_join(kt, NULL);
    printf("signals: EINTR, restarted under SA_RESTART\n");

    /* A cancelled op is reaped with ECANCELED. */
    fill_cb(&pr, p[0], pb, sizeof pb, 0);
    CHECK_EQ(aio_read(&pr), 0);
    CHECK_EQ(aio_cancel(p[0], &pr), AIO_CANCELED);
    got = NULL;
    errno = 0;
    CHECK_EQ(wc(&got, NULL), -1);
    CHECK_EQ(errno, ECANCELED);
    CHECK(got == &pr);
    printf("cancelled: -1 ECANCELED\n");

    /* Two reaping threads, then a reaper against aio_return in another
     * thread: each op exactly once. */
    race(fd, mt_reaper, mt_reaper);
    printf("two reapers: %d ops, each once\n", N);
    race(fd, mt_reaper, mt_returner);
    printf("reaper vs aio_return: %d ops, each once\n", N);

    CHECK(aio_posix_calls("aio_waitcomplete") > 0);
    printf("waitcomplete ok\n");
    return 0;
}

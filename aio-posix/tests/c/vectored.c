/* aio_readv/aio_writev and LIO_READV/LIO_WRITEV (FreeBSD's extension),
 * checked against the kernel: for each clause the same input is given to
 * preadv(2)/pwritev(2) synchronously and to our library, and the result
 * (byte count or errno, and the bytes moved) must agree, except where
 * FreeBSD's aio_readv(2) says otherwise (written in aio-posix/README.md,
 * "Vectored ops": a count of 0 is EINVAL; a bad count or array fails the
 * call). Each clause prints one line "clause: kernel=<r> ours=<r>".
 * Linked with -laio_posix. */
#include "check.h"
#include "aio_posix.h"
#include <limits.h>
#include <sys/mman.h>

/* A result as a number: >= 0 a byte count, < 0 minus the errno. */
static long kres(ssize_t r) { return r >= 0 ? (long)r : -(long)errno; }

static void wait_cb(const struct aiocb *cb) {
    const struct aiocb *l[1] = {cb};
    struct timespec ts = {10, 0};
    while (aio_error(cb) == EINPROGRESS) {
        int r = aio_suspend(l, 1, &ts);
        CHECK(r == 0 || errno == EINTR);
    }
}

/* The op's outcome in kres's form (and its aiocb returned). */
static long ours_of(struct aiocb *cb) {
    wait_cb(cb);
    int e = aio_error(cb);
    ssize_t r = aio_return(cb);
    if (e != 0) {
        CHECK_EQ(r, -1);
        return -(long)e;
    }
    return (long)r;
}

/* Submits; a refused call gives -errno (and the aiocb says the same). */
static long submit_v(int write, struct aiocb *cb) {
    int r = write ? aio_writev(cb) : aio_readv(cb);
    if (r == -1) {
        long e = -(long)errno;
        CHECK_EQ(-aio_error(cb), e); /* FreeBSD: the aiocb says so too */
        CHECK_EQ(aio_return(cb), -1);
        return e;
    }
    CHECK_EQ(r, 0);
    return ours_of(cb);
}

static void vcb(struct aiocb *cb, int fd, struct iovec *iov, int cnt, off_t off) {
    memset(cb, 0, sizeof *cb);
    cb->aio_fildes = fd;
    cb->aio_iov = iov;
    cb->aio_iovcnt = cnt;
    cb->aio_offset = off;
}

static void report(const char *clause, long k, long o) {
    printf("%s: kernel=%ld ours=%ld\n", clause, k, o);
    fflush(stdout);
}

#define SAME(clause, k, o)                                                     \
    do {                                                                       \
        long k_ = (k), o_ = (o);                                               \
        report(clause, k_, o_);                                                \
        CHECK_EQ(o_, k_);                                                      \
    } while (0)

static char filedata[1000];

/* Reads with the same segment lengths (NULL bases kept NULL) by preadv and
 * aio_readv into two sets of buffers; compares results and bytes. */
static void read_clause(const char *clause, int fd, const size_t *lens, int cnt, off_t off) {
    static char kbuf[8][1024], obuf[8][1024];
    struct iovec kv[8] = {{0}}, ov[8] = {{0}};
    for (int i = 0; i < cnt; i++) {
        memset(kbuf[i], '?', sizeof kbuf[i]);
        memset(obuf[i], '?', sizeof obuf[i]);
        kv[i] = (struct iovec){kbuf[i], lens[i]};
        ov[i] = (struct iovec){obuf[i], lens[i]};
    }
    long k = kres(preadv(fd, kv, cnt, off));
    struct aiocb cb;
    vcb(&cb, fd, ov, cnt, off);
    long o = submit_v(0, &cb);
    SAME(clause, k, o);
    for (int i = 0; i < cnt; i++)
        CHECK(!memcmp(kbuf[i], obuf[i], sizeof kbuf[i]));
}

static atomic_int thread_hits;
static void on_done(union sigval v) {
    CHECK_EQ(v.sival_int, 42);
    atomic_fetch_add(&thread_hits, 1);
}

int main(void) {
    watchdog(60);
    for (size_t i = 0; i < sizeof filedata; i++)
        filedata[i] = (char)('a' + i % 26);
    int fd = temp_file();
    CHECK_EQ(pwrite(fd, filedata, sizeof filedata, 0), (ssize_t)sizeof filedata);

    /* Reads of a regular file. */
    size_t three[] = {100, 0, 300};
    read_clause("readv/three segments", fd, three, 3, 50);
    size_t over[] = {600, 600};
    read_clause("readv/short at EOF across a segment boundary", fd, over, 2, 200);
    size_t partial[] = {100, 100, 1000};
    read_clause("readv/partial last segment", fd, partial, 3, 500);
    read_clause("readv/at EOF", fd, over, 2, 1000);
    size_t empty[] = {0, 0};
    read_clause("readv/segments of length 0", fd, empty, 2, 0);

    /* The count: 0 (kernel: 0 bytes; FreeBSD: EINVAL), IOV_MAX, IOV_MAX+1. */
    {
        static struct iovec many[IOV_MAX + 1];
        static char bytes[IOV_MAX + 1];
        for (int i = 0; i <= IOV_MAX; i++)
            many[i] = (struct iovec){&bytes[i], 1};
        struct aiocb cb;
        long k = kres(preadv(fd, many, 0, 0));
        vcb(&cb, fd, many, 0, 0);
        long o = submit_v(0, &cb);
        report("readv/iovcnt 0 (FreeBSD: EINVAL)", k, o);
        CHECK_EQ(k, 0);
        CHECK_EQ(o, -EINVAL);
        k = kres(preadv(fd, many, IOV_MAX + 1, 0));
        vcb(&cb, fd, many, IOV_MAX + 1, 0);
        SAME("readv/iovcnt IOV_MAX+1", k, submit_v(0, &cb));
        k = kres(preadv(fd, many, IOV_MAX, 0));
        vcb(&cb, fd, many, IOV_MAX, 0);
        memset(bytes, 0, sizeof bytes);
        SAME("readv/iovcnt IOV_MAX", k, submit_v(0, &cb));
        CHECK(!memcmp(bytes, filedata, sizeof filedata));
        CHECK_EQ(aio_error(&cb), 0);
    }

    /* Bad arrays: NULL, unmapped, running into an unmapped page. */
    {
        struct aiocb cb;
        /* Through a volatile, so the compiler lets the kernel see NULL. */
        struct iovec *volatile nul = NULL;
        SAME("readv/NULL iov array", kres(preadv(fd, nul, 2, 0)),
             (vcb(&cb, fd, nul, 2, 0), submit_v(0, &cb)));
        long pg = sysconf(_SC_PAGESIZE);
        char *map = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(map != MAP_FAILED);
        CHECK_EQ(mprotect(map + pg, pg, PROT_NONE), 0);
        struct iovec *hole = (struct iovec *)(map + pg);
        SAME("readv/unmapped iov array", kres(preadv(fd, hole, 2, 0)),
             (vcb(&cb, fd, hole, 2, 0), submit_v(0, &cb)));
        struct iovec *edge = (struct iovec *)(map + pg) - 1; /* one in, one out */
        static char b1[16];
        edge[0] = (struct iovec){b1, sizeof b1};
        SAME("readv/iov array running into an unmapped page", kres(preadv(fd, edge, 2, 0)),
             (vcb(&cb, fd, edge, 2, 0), submit_v(0, &cb)));
        CHECK_EQ(munmap(map, 2 * pg), 0);
    }

    /* Bad segments: the transfer's result, as the kernel gives it. */
    {
        static char b[64];
        struct iovec kv[2] = {{NULL, 10}, {b, 10}};
        struct aiocb cb;
        long k = kres(preadv(fd, kv, 2, 0));
        SAME("readv/NULL first segment base", k, (vcb(&cb, fd, kv, 2, 0), submit_v(0, &cb)));
        struct iovec kv2[2] = {{b, 10}, {NULL, 10}};
        k = kres(preadv(fd, kv2, 2, 0));
        SAME("readv/NULL second segment base", k, (vcb(&cb, fd, kv2, 2, 0), submit_v(0, &cb)));
        struct iovec huge[2] = {{b, 10}, {b + 10, (size_t)SSIZE_MAX + 1}};
        k = kres(preadv(fd, huge, 2, 0));
        SAME("readv/segment longer than SSIZE_MAX", k,
             (vcb(&cb, fd, huge, 2, 0), submit_v(0, &cb)));
        struct iovec ok[1] = {{b, 10}};
        k = kres(preadv(fd, ok, 1, -1));
        SAME("readv/negative offset", k, (vcb(&cb, fd, ok, 1, -1), submit_v(0, &cb)));
        int wo = open("/dev/null", O_WRONLY);
        CHECK(wo >= 0);
        k = kres(preadv(wo, ok, 1, 0));
        SAME("readv/descriptor not open for reading", k, (vcb(&cb, wo, ok, 1, 0), submit_v(0, &cb)));
        close(wo);
        int closed = dup(fd);
        close(closed);
        k = kres(preadv(closed, ok, 1, 0));
        SAME("readv/closed descriptor", k, (vcb(&cb, closed, ok, 1, 0), submit_v(0, &cb)));
        k = kres(pwritev(fd, ok, 1, -1));
        SAME("writev/negative offset", k, (vcb(&cb, fd, ok, 1, -1), submit_v(1, &cb)));
    }

    /* Writes: the same segments by pwritev to one file and aio_writev to
     * another give the same files. */
    {
        int kf = temp_file(), of = temp_file();
        static char s0[] = "first-", s2[] = "third|";
        static char s1[300];
        memset(s1, 'M', sizeof s1);
        struct iovec v[3] = {{s0, 6}, {s1, sizeof s1}, {s2, 6}};
        long k = kres(pwritev(kf, v, 3, 10));
        struct aiocb cb;
        vcb(&cb, of, v, 3, 10);
        SAME("writev/three segments at an offset", k, submit_v(1, &cb));
        char kb[512], ob[512];
        CHECK_EQ(pread(kf, kb, sizeof kb, 0), 322);
        CHECK_EQ(pread(of, ob, sizeof ob, 0), 322);
        CHECK(!memcmp(kb, ob, 322));

        /* O_APPEND: eight vectored writes queued back to back land whole,
         * in submission order, as the same writev(2)s do. */
        int ka = open("/tmp", O_TMPFILE | O_RDWR | O_APPEND, 0600);
        int oa = open("/tmp", O_TMPFILE | O_RDWR | O_APPEND, 0600);
        CHECK(ka >= 0 && oa >= 0);
        static char seg[8][3][40];
        struct iovec av[8][3];
        struct aiocb acb[8];
        for (int i = 0; i < 8; i++) {
            for (int j = 0; j < 3; j++) {
                memset(seg[i][j], 'A' + i, sizeof seg[i][j]);
                seg[i][j][0] = (char)('0' + j);
                av[i][j] = (struct iovec){seg[i][j], 10 + 10 * (size_t)j};
            }
            CHECK_EQ(writev(ka, av[i], 3), 60);
            vcb(&acb[i], oa, av[i], 3, 0);
            CHECK_EQ(aio_writev(&acb[i]), 0);
        }
        for (int i = 0; i < 8; i++)
            CHECK_EQ(ours_of(&acb[i]), 60);
        char kab[480], oab[480];
        CHECK_EQ(pread(ka, kab, sizeof kab, 0), 480);
        CHECK_EQ(pread(oa, oab, sizeof oab, 0), 480);
        report("writev/O_APPEND order (bytes equal)", 480, memcmp(kab, oab, 480) ? -1 : 480);
        CHECK(!memcmp(kab, oab, 480));
        close(kf);
        close(of);
        close(ka);
        close(oa);
    }

    /* A pipe: vectored reads complete in queue order; the array may be
     * reused once the call returned (it was copied in). */
    {
        int p[2];
        CHECK_EQ(pipe(p), 0);
        static char rb[3][2][4];
        struct iovec rv[3][2];
        struct aiocb rc[3];
        for (int i = 0; i < 3; i++) {
            rv[i][0] = (struct iovec){rb[i][0], 3};
            rv[i][1] = (struct iovec){rb[i][1], 4};
            vcb(&rc[i], p[0], rv[i], 2, 0);
            CHECK_EQ(aio_readv(&rc[i]), 0);
        }
        static char decoy[64];
        for (int i = 0; i < 3; i++) /* scribble over the arrays */
            rv[i][0] = rv[i][1] = (struct iovec){decoy, sizeof decoy};
        CHECK_EQ(aio_error(&rc[0]), EINPROGRESS);
        /* The same bytes through writev on the pipe. */
        struct iovec wv[2] = {{"ABCDEFGHIJK", 11}, {"LMNOPQRSTU", 10}};
        CHECK_EQ(writev(p[1], wv, 2), 21);
        for (int i = 0; i < 3; i++)
            CHECK_EQ(ours_of(&rc[i]), 7);
        const char *want = "ABCDEFGHIJKLMNOPQRSTU";
        for (int i = 0; i < 3; i++) {
            CHECK(!memcmp(rb[i][0], want + 7 * i, 3));
            CHECK(!memcmp(rb[i][1], want + 7 * i + 3, 4));
        }
        CHECK(decoy[0] == 0);
        report("readv/pipe FIFO order, array reusable after the call", 21, 21);

        /* Vectored writes to a pipe come out in order, each whole. */
        struct iovec w1[2] = {{"one-", 4}, {"two-", 4}}, w2[3] = {{"x", 1}, {"yy", 2}, {"zzz", 3}};
        struct aiocb wc[2];
        vcb(&wc[0], p[1], w1, 2, 0);
        vcb(&wc[1], p[1], w2, 3, 0);
        CHECK_EQ(aio_writev(&wc[0]), 0);
        CHECK_EQ(aio_writev(&wc[1]), 0);
        CHECK_EQ(ours_of(&wc[0]), 8);
        CHECK_EQ(ours_of(&wc[1]), 6);
        char got[14];
        size_t n = 0;
        while (n < sizeof got) {
            ssize_t r = read(p[0], got + n, sizeof got - n);
            CHECK(r > 0);
            n += (size_t)r;
        }
        CHECK(!memcmp(got, "one-two-xyyzzz", 14));
        report("writev/pipe FIFO order", 14, 14);

        /* Cancel: a vectored read waiting for data is cancelled. */
        struct aiocb cc;
        static char c0[4], c1[4];
        struct iovec cv[2] = {{c0, 4}, {c1, 4}};
        vcb(&cc, p[0], cv, 2, 0);
        CHECK_EQ(aio_readv(&cc), 0);
        CHECK_EQ(aio_cancel(p[0], &cc), AIO_CANCELED);
        CHECK_EQ(aio_error(&cc), ECANCELED);
        CHECK_EQ(aio_return(&cc), -1);
        report("readv/cancel of a waiting read", -ECANCELED, -ECANCELED);
        close(p[0]);
        close(p[1]);
    }

    /* Notification: SIGEV_SIGNAL and SIGEV_THREAD, as for aio_read. */
    {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGRTMIN + 2);
        CHECK(pthread_sigmask(SIG_BLOCK, &set, NULL) == 0);
        static char a[10], b[20];
        struct iovec v[2] = {{a, 10}, {b, 20}};
        struct aiocb cb;
        vcb(&cb, fd, v, 2, 5);
        cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
        cb.aio_sigevent.sigev_signo = SIGRTMIN + 2;
        cb.aio_sigevent.sigev_value.sival_ptr = &cb;
        CHECK_EQ(aio_readv(&cb), 0);
        siginfo_t si;
        struct timespec ts = {10, 0};
        CHECK_EQ(sigtimedwait(&set, &si, &ts), SIGRTMIN + 2);
        CHECK_EQ(si.si_code, SI_ASYNCIO);
        CHECK(si.si_value.sival_ptr == &cb);
        CHECK_EQ(aio_error(&cb), 0);
        CHECK_EQ(aio_return(&cb), 30);
        CHECK(!memcmp(a, filedata + 5, 10) && !memcmp(b, filedata + 15, 20));
        report("readv/SIGEV_SIGNAL", 30, 30);

        vcb(&cb, fd, v, 2, 0);
        cb.aio_sigevent.sigev_notify = SIGEV_THREAD;
        cb.aio_sigevent.sigev_notify_function = on_done;
        cb.aio_sigevent.sigev_value.sival_int = 42;
        CHECK_EQ(aio_readv(&cb), 0);
        double t0 = now_s();
        while (atomic_load(&thread_hits) == 0) {
            CHECK(now_s() - t0 < 10);
            usleep(1000);
        }
        CHECK_EQ(aio_return(&cb), 30);
        report("readv/SIGEV_THREAD", 30, 30);
    }

    /* lio_listio: LIO_READV and LIO_WRITEV mixed with LIO_READ. */
    {
        CHECK(LIO_READV != LIO_READ && LIO_READV != LIO_WRITE && LIO_READV != LIO_NOP);
        CHECK(LIO_WRITEV != LIO_READ && LIO_WRITEV != LIO_WRITE && LIO_WRITEV != LIO_NOP);
        int wf = temp_file();
        static char r0[100], r1[50], plain[70];
        struct iovec rv[2] = {{r0, 100}, {r1, 50}};
        struct iovec wv[2] = {{"hello ", 6}, {"world", 5}};
        struct aiocb a, b, c, bad;
        vcb(&a, fd, rv, 2, 0);
        a.aio_lio_opcode = LIO_READV;
        fill_cb(&b, fd, plain, sizeof plain, 900);
        b.aio_lio_opcode = LIO_READ;
        vcb(&c, wf, wv, 2, 0);
        c.aio_lio_opcode = LIO_WRITEV;
        vcb(&bad, fd, rv, 0, 0); /* a count of 0 fails that entry only */
        bad.aio_lio_opcode = LIO_READV;
        struct aiocb *list[4] = {&a, &b, &c, &bad};
        CHECK_EQ(lio_listio(LIO_WAIT, list, 4, NULL), -1);
        CHECK_EQ(errno, EIO);
        CHECK_EQ(aio_error(&a), 0);
        CHECK_EQ(aio_return(&a), 150);
        CHECK(!memcmp(r0, filedata, 100) && !memcmp(r1, filedata + 100, 50));
        CHECK_EQ(aio_return(&b), 70);
        CHECK(!memcmp(plain, filedata + 900, 70));
        CHECK_EQ(aio_return(&c), 11);
        char back[11];
        CHECK_EQ(pread(wf, back, 11, 0), 11);
        CHECK(!memcmp(back, "hello world", 11));
        CHECK_EQ(aio_error(&bad), EINVAL);
        CHECK_EQ(aio_return(&bad), -1);
        report("lio_listio/LIO_READV+LIO_READ+LIO_WRITEV", 150 + 70 + 11, aio_error(&a) + 231);
        close(wf);
    }

    CHECK(aio_posix_calls("aio_readv") > 0);
    CHECK(aio_posix_calls("aio_writev") > 0);
    close(fd);
    printf("vectored ok\n");
    return 0;
}

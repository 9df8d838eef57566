/* The descriptor cache attacked as programs reuse numbers: each clause
 * moves another file onto the same number (close + open, dup2), then
 * submits on it as a program would (zero-filled aiocb), and compares with
 * what the kernel's pread/read/write give on the same input. */
#include "check.h"

static ssize_t aio_rd(int fd, void *buf, size_t n, off_t off) {
    struct aiocb cb;
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = n;
    cb.aio_offset = off;
    CHECK_EQ(aio_read(&cb), 0);
    const struct aiocb *l[1] = {&cb};
    struct timespec ts = {10, 0};
    while (aio_error(&cb) == EINPROGRESS)
        CHECK(aio_suspend(l, 1, &ts) == 0 || errno == EINTR);
    ssize_t r = aio_return(&cb);
    return r < 0 ? -aio_error(&cb) : r;
}

/* A file of n bytes of `c`, on number `at`. */
static void file_on(int at, char c, size_t n) {
    int fd = temp_file();
    char b[8192];
    memset(b, c, sizeof b);
    CHECK(n <= sizeof b);
    CHECK_EQ(pwrite(fd, b, n, 0), (ssize_t)n);
    if (fd != at) { /* the number may have been free: then it is fd */
        CHECK_EQ(dup2(fd, at), at);
        close(fd);
    }
}

int main(void) {
    watchdog(60);
    char got[64], want[64];
    int n = temp_file(); /* the number every clause reuses */

    /* 1. A file, then another file on the same number. */
    file_on(n, 'A', 100);
    CHECK_EQ(aio_rd(n, got, 10, 5), 10);
    CHECK(got[0] == 'A');
    file_on(n, 'B', 50);
    CHECK_EQ(pread(n, want, 64, 40), 10);
    CHECK_EQ(aio_rd(n, got, 64, 40), 10); /* B's length, not A's */
    CHECK(!memcmp(got, want, 10) && got[0] == 'B');
    printf("file then file: ok\n");

    /* 2. A file, then a pipe: read(2)'s semantics, the offset ignored. */
    int p[2];
    CHECK_EQ(pipe(p), 0);
    CHECK_EQ(dup2(p[0], n), n);
    close(p[0]);
    CHECK_EQ(write(p[1], "pipe-data", 9), 9);
    memset(got, 0, sizeof got);
    CHECK_EQ(aio_rd(n, got, 64, 12345), 9);
    CHECK(!memcmp(got, "pipe-data", 9));
    /* ...and in FIFO order: two reads queued before any data. */
    {
        struct aiocb a, b;
        char ba[4], bb[4];
        memset(&a, 0, sizeof a);
        memset(&b, 0, sizeof b);
        a.aio_fildes = b.aio_fildes = n;
        a.aio_buf = ba;
        b.aio_buf = bb;
        a.aio_nbytes = b.aio_nbytes = 4;
        CHECK_EQ(aio_read(&a), 0);
        CHECK_EQ(aio_read(&b), 0);
        CHECK_EQ(write(p[1], "1111", 4), 4);
        CHECK_EQ(write(p[1], "2222", 4), 4);
        CHECK_EQ(poll_done(&a), 0);
        CHECK_EQ(poll_done(&b), 0);
        CHECK_EQ(aio_return(&a), 4);
        CHECK_EQ(aio_return(&b), 4);
        CHECK(!memcmp(ba, "1111", 4) && !memcmp(bb, "2222", 4));
    }
    close(p[1]);
    printf("file then pipe: ok\n");

    /* 3. A pipe, then a file: pread's semantics again (the offset counts). */
    file_on(n, 'C', 200);
    CHECK_EQ(pwrite(n, "xyz", 3, 150), 3);
    CHECK_EQ(pread(n, want, 8, 148), 8);
    CHECK_EQ(aio_rd(n, got, 8, 148), 8);
    CHECK(!memcmp(got, want, 8));
    printf("pipe then file: ok\n");

    /* 4. Closed: EBADF, as pread says. */
    close(n);
    CHECK_EQ(pread(n, want, 8, 0), -1);
    CHECK_EQ(errno, EBADF);
    CHECK_EQ(aio_rd(n, got, 8, 0), -EBADF);
    /* A directory on the number: pread's EISDIR. */
    int d = open("/tmp", O_RDONLY | O_DIRECTORY);
    CHECK(d >= 0);
    if (d != n) {
        CHECK_EQ(dup2(d, n), n);
        close(d);
    }
    CHECK_EQ(pread(n, want, 8, 0), -1);
    int kerr = errno;
    CHECK_EQ(kerr, EISDIR);
    CHECK_EQ(aio_rd(n, got, 8, 0), -kerr);
    printf("closed, directory: ok\n");

    /* 5. O_APPEND set by fcntl after the first write: the writes queued
     * after it land in submission order at the end, as write(2)s do. */
    file_on(n, 'D', 10);
    {
        struct aiocb w;
        memset(&w, 0, sizeof w);
        w.aio_fildes = n;
        w.aio_buf = "0123";
        w.aio_nbytes = 4;
        w.aio_offset = 2;
        CHECK_EQ(aio_write(&w), 0);
        CHECK_EQ(poll_done(&w), 0);
        CHECK_EQ(aio_return(&w), 4);
        int fl = fcntl(n, F_GETFL);
        CHECK_EQ(fcntl(n, F_SETFL, fl | O_APPEND), 0);
        static struct aiocb many[16];
        static char bytes[16][8];
        for (int i = 0; i < 16; i++) {
            memset(&many[i], 0, sizeof many[i]);
            memset(bytes[i], 'a' + i, 8);
            many[i].aio_fildes = n;
            many[i].aio_buf = bytes[i];
            many[i].aio_nbytes = 8;
            many[i].aio_offset = 0; /* ignored with O_APPEND */
            CHECK_EQ(aio_write(&many[i]), 0);
        }
        for (int i = 0; i < 16; i++) {
            CHECK_EQ(poll_done(&many[i]), 0);
            CHECK_EQ(aio_return(&many[i]), 8);
        }
        char all[10 + 16 * 8];
        CHECK_EQ(pread(n, all, sizeof all, 0), (ssize_t)sizeof all);
        CHECK(!memcmp(all, "DD0123DDDD", 10));
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 8; j++)
                CHECK_EQ(all[10 + 8 * i + j], 'a' + i);
    }
    printf("O_APPEND set later: ok\n");

    /* 6. O_DIRECT toggled by fcntl: a misaligned read fails and an
     * aligned one succeeds exactly when pread's do (file systems without
     * O_DIRECT refuse the fcntl: the clause is then skipped). */
    file_on(n, 'E', 8192);
    int fl = fcntl(n, F_GETFL);
    if (fcntl(n, F_SETFL, fl | O_DIRECT) == 0 && (fcntl(n, F_GETFL) & O_DIRECT)) {
        static char big[8192 + 4096] __attribute__((aligned(4096)));
        ssize_t k = pread(n, big + 1, 512, 0);
        long kr = k < 0 ? -errno : k;
        CHECK_EQ(aio_rd(n, big + 1, 512, 0), kr);
        k = pread(n, big, 4096, 4096);
        kr = k < 0 ? -errno : k;
        CHECK_EQ(aio_rd(n, big, 4096, 4096), kr);
        CHECK_EQ(fcntl(n, F_SETFL, fl), 0);
        printf("O_DIRECT toggled: ok (misaligned %ld)\n", kr);
    } else {
        printf("O_DIRECT toggled: skipped (refused by the file system)\n");
    }
    printf("fdreuse ok\n");
    return 0;
}

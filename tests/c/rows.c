/* The table, rows 1, 3, 5, 6 and 7, as C programs through the
 * library (rows 2, 4 and 8 are appends.c, nproc.c and nofile.c). glibc
 * passes each. Every wait has a deadline: a stuck op fails the program.
 *
 *   rows <dir> row1|row3|row5|row6|row7
 *
 * row1: a pipe is full and one aio_write waits on it; 300 writes and an
 *       aio_fsync of an unrelated file and an O_DIRECT read of a third
 *       complete.
 * row3: one 1 MiB aio_write to a blocking pipe and to a blocking socket
 *       completes with 1 MiB, all of it read by the peer.
 * row5: (meant for the fallback: scripts/fallback.sh) 4 reads wait on
 *       empty pipes; a file write, and the pipe write that wakes one of
 *       the readers, complete.
 * row6: 64 reads wait on 64 empty pipes; 8 O_DIRECT reads of a file
 *       complete.
 * row7: O_DIRECT cleared with fcntl, or the fd number closed and reopened
 *       without it: misaligned buffered reads work. */
#include "util.h"
#include <sys/socket.h>

#define DEADLINE 20.0

static const char *dir;

static ssize_t wait_ok(struct aiocb *cb, const char *what) {
    double t0 = now_s();
    int e;
    while ((e = aio_error(cb)) == EINPROGRESS) {
        if (now_s() - t0 > DEADLINE) {
            fprintf(stderr, "rows: %s still in progress after %.0f s\n", what, DEADLINE);
            exit(1);
        }
        usleep(200);
    }
    ssize_t r = aio_return(cb);
    if (e != 0) {
        fprintf(stderr, "rows: %s failed: %s\n", what, strerror(e));
        exit(1);
    }
    return r;
}

static int scratch_file(const char *tag, int flags, size_t size) {
    char path[4096];
    snprintf(path, sizeof path, "%s/rows-%s-%d.dat", dir, tag, (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(ftruncate(fd, (off_t)size) == 0);
    close(fd);
    fd = open(path, O_RDWR | flags);
    CHECK(fd >= 0);
    unlink(path);
    return fd;
}

static void fill_pipe(int w) {
    int fl = fcntl(w, F_GETFL);
    CHECK(fcntl(w, F_SETFL, fl | O_NONBLOCK) == 0);
    static char b[4096];
    while (write(w, b, sizeof b) > 0) {
    }
    CHECK(fcntl(w, F_SETFL, fl) == 0);
}

static void row1(void) {
    int p[2];
    CHECK(pipe(p) == 0);
    fill_pipe(p[1]);
    static struct aiocb stuck;
    fill_cb(&stuck, p[1], "x", 1, 0);
    CHECK(aio_write(&stuck) == 0);
    int f = scratch_file("row1", 0, 2 << 20);
    int d = scratch_file("row1d", O_DIRECT, 1 << 20);
    static struct aiocb w[300], s, r;
    static char buf[4096];
    for (int i = 0; i < 300; i++) {
        fill_cb(&w[i], f, buf, sizeof buf, (off_t)i * 4096);
        CHECK(aio_write(&w[i]) == 0);
    }
    fill_cb(&s, f, NULL, 0, 0);
    CHECK(aio_fsync(O_SYNC, &s) == 0);
    void *db;
    CHECK(posix_memalign(&db, 4096, 4096) == 0);
    fill_cb(&r, d, db, 4096, 0);
    CHECK(aio_read(&r) == 0);
    for (int i = 0; i < 300; i++)
        CHECK_EQ(wait_ok(&w[i], "a file write"), 4096);
    CHECK_EQ(wait_ok(&s, "the fsync"), 0);
    CHECK_EQ(wait_ok(&r, "the O_DIRECT read"), 4096);
    CHECK_EQ(aio_error(&stuck), EINPROGRESS);
    close(p[0]); /* the write now fails with EPIPE */
    int e;
    while ((e = aio_error(&stuck)) == EINPROGRESS)
        usleep(200);
    CHECK_EQ(e, EPIPE);
    aio_return(&stuck);
    free(db);
}

#define MIB (1 << 20)
static int peer;
static size_t peer_got;
static void *drain_peer(void *a) {
    (void)a;
    static char b[65536];
    ssize_t n;
    while (peer_got < MIB && (n = read(peer, b, sizeof b)) > 0)
        peer_got += (size_t)n;
    return NULL;
}

static void row3_one(int w, int r) {
    static char big[MIB];
    memset(big, 'q', sizeof big);
    peer = r;
    peer_got = 0;
    pthread_t t;
    static struct aiocb cb;
    fill_cb(&cb, w, big, sizeof big, 0);
    CHECK(aio_write(&cb) == 0);
    CHECK(pthread_create(&t, NULL, drain_peer, NULL) == 0);
    CHECK_EQ(wait_ok(&cb, "the 1 MiB write"), MIB);
    pthread_join(t, NULL);
    CHECK_EQ(peer_got, MIB);
}

static void row3(void) {
    int p[2];
    CHECK(pipe(p) == 0);
    row3_one(p[1], p[0]);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, p) == 0);
    row3_one(p[0], p[1]);
}

static void row5(void) {
    int p[4][2];
    static struct aiocb rd[4], fw, pw;
    static char rb[4][8], fb[4096];
    for (int i = 0; i < 4; i++) {
        CHECK(pipe(p[i]) == 0);
        fill_cb(&rd[i], p[i][0], rb[i], 8, 0);
        CHECK(aio_read(&rd[i]) == 0);
    }
    usleep(20000);
    int f = scratch_file("row5", 0, 1 << 20);
    fill_cb(&fw, f, fb, sizeof fb, 0);
    CHECK(aio_write(&fw) == 0);
    CHECK_EQ(wait_ok(&fw, "the file write"), 4096);
    fill_cb(&pw, p[0][1], "wake up!", 8, 0);
    CHECK(aio_write(&pw) == 0);
    CHECK_EQ(wait_ok(&pw, "the pipe write"), 8);
    CHECK_EQ(wait_ok(&rd[0], "the woken read"), 8);
    for (int i = 1; i < 4; i++) {
        close(p[i][1]);
        CHECK_EQ(wait_ok(&rd[i], "a read at EOF"), 0);
    }
}

static void row6(void) {
    static int p[64][2];
    static struct aiocb rd[64], dr[8];
    static char rb[64][8];
    for (int i = 0; i < 64; i++) {
        CHECK(pipe(p[i]) == 0);
        fill_cb(&rd[i], p[i][0], rb[i], 8, 0);
        CHECK(aio_read(&rd[i]) == 0);
    }
    int d = scratch_file("row6", O_DIRECT, 1 << 20);
    void *db[8];
    for (int i = 0; i < 8; i++) {
        CHECK(posix_memalign(&db[i], 4096, 4096) == 0);
        fill_cb(&dr[i], d, db[i], 4096, (off_t)i * 4096);
        CHECK(aio_read(&dr[i]) == 0);
    }
    for (int i = 0; i < 8; i++)
        CHECK_EQ(wait_ok(&dr[i], "an O_DIRECT read"), 4096);
    for (int i = 0; i < 64; i++) {
        CHECK_EQ(aio_error(&rd[i]), EINPROGRESS);
        close(p[i][1]);
        CHECK_EQ(wait_ok(&rd[i], "a read at EOF"), 0);
        free(i < 8 ? db[i] : NULL);
    }
}

static void misaligned(int fd, const char *what) {
    static char b[200];
    static struct aiocb cb;
    fill_cb(&cb, fd, b + 1, 100, 1);
    CHECK(aio_read(&cb) == 0);
    CHECK_EQ(wait_ok(&cb, what), 100);
}

static void row7(void) {
    int fd = scratch_file("row7", O_DIRECT, 1 << 16);
    void *ab;
    CHECK(posix_memalign(&ab, 4096, 4096) == 0);
    static struct aiocb cb;
    fill_cb(&cb, fd, ab, 4096, 0);
    CHECK(aio_read(&cb) == 0);
    CHECK_EQ(wait_ok(&cb, "an aligned O_DIRECT read"), 4096);
    int fl = fcntl(fd, F_GETFL);
    CHECK(fcntl(fd, F_SETFL, fl & ~O_DIRECT) == 0);
    misaligned(fd, "a misaligned read after clearing O_DIRECT");
    /* The same number, closed and reopened without O_DIRECT. */
    int plain = scratch_file("row7b", 0, 1 << 16);
    CHECK(fcntl(fd, F_SETFL, fl) == 0);
    fill_cb(&cb, fd, ab, 4096, 0);
    CHECK(aio_read(&cb) == 0);
    CHECK_EQ(wait_ok(&cb, "an aligned O_DIRECT read again"), 4096);
    CHECK(dup2(plain, fd) == fd);
    close(plain);
    misaligned(fd, "a misaligned read on the reopened number");
    free(ab);
}

int main(int argc, char **argv) {
    CHECK(argc == 3);
    watchdog(60);
    dir = argv[1];
    const char *r = argv[2];
    if (!strcmp(r, "row1"))
        row1();
    else if (!strcmp(r, "row3"))
        row3();
    else if (!strcmp(r, "row5"))
        row5();
    else if (!strcmp(r, "row6"))
        row6();
    else if (!strcmp(r, "row7"))
        row7();
    else
        CHECK(!"unknown row");
    printf("%s ok\n", r);
    return 0;
}

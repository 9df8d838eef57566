/* Fault: fork under load. LOADERS threads keep DEPTH file reads/writes
 * each in flight (and one read of an empty pipe waits throughout) while the
 * main thread forks FORKS times. Each child uses AIO at once and must
 * succeed: aio_write, aio_read back (data compared), aio_fsync, a
 * lio_listio(LIO_WAIT) batch, waited for with aio_suspend; it exits 0 with
 * _exit. In the parent, every op in flight across the forks completes
 * exactly once with the right data, and the pipe read completes once the
 * parent finally writes to the pipe. Prints "forkload: ops N, lost 0,
 * duplicated 0, corrupted 0, forks F" and exits 1 on any failure.
 * usage: forkload FILE    (preloaded or linked) */
#include "util.h"

#define LOADERS 2
#define DEPTH 32
#define FORKS 16
#define BS 1024

static const char *path;
static atomic_int stop;

struct result {
    long ops, lost, duplicated, corrupted;
};

static void fill(unsigned char *b, int t, int block, unsigned v) {
    uint64_t x = ((uint64_t)t << 48) ^ ((uint64_t)block << 24) ^ v ^ 0x2545f4914f6cdd1dull;
    for (int i = 0; i < BS; i += 8) {
        rnd(&x);
        memcpy(b + i, &x, 8);
    }
}

static void *loader(void *p) {
    int t = (int)(intptr_t)p;
    struct result *res = calloc(1, sizeof *res);
    CHECK(res != NULL);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    struct aiocb *cb = calloc(DEPTH, sizeof *cb);
    unsigned char(*buf)[BS] = calloc(DEPTH, BS);
    unsigned char expect[BS];
    unsigned version[DEPTH] = {0};
    int busy[DEPTH] = {0}, wr[DEPTH] = {0};
    CHECK(cb && buf);
    uint64_t r = 99 + (uint64_t)t;
    for (;;) {
        int inflight = 0;
        for (int i = 0; i < DEPTH; i++) {
            if (busy[i]) {
                int e = aio_error(&cb[i]);
                if (e == EINPROGRESS) {
                    inflight++;
                    continue;
                }
                ssize_t ret = aio_return(&cb[i]);
                errno = 0;
                if (aio_return(&cb[i]) != -1 || errno != EINVAL)
                    res->duplicated++;
                busy[i] = 0;
                res->ops++;
                if (e != 0 || ret != BS) {
                    fprintf(stderr, "forkload: op error %d return %zd\n", e, ret);
                    res->corrupted++;
                } else if (!wr[i]) {
                    fill(expect, t, i, version[i]);
                    if (memcmp(expect, buf[i], BS))
                        res->corrupted++;
                }
            }
            if (atomic_load(&stop))
                continue;
            fill_cb(&cb[i], fd, buf[i], BS, ((off_t)t * DEPTH + i) * BS);
            wr[i] = version[i] == 0 || rnd(&r) % 2;
            if (wr[i]) {
                fill(buf[i], t, i, ++version[i]);
                CHECK(aio_write(&cb[i]) == 0);
            } else {
                memset(buf[i], 0, BS);
                CHECK(aio_read(&cb[i]) == 0);
            }
            busy[i] = 1;
            inflight++;
        }
        if (inflight == 0 && atomic_load(&stop))
            break;
        const struct aiocb *l[DEPTH];
        int n = 0;
        for (int i = 0; i < DEPTH; i++)
            if (busy[i])
                l[n++] = &cb[i];
        struct timespec ts = {0, 10 * 1000 * 1000};
        if (n > 0 && aio_suspend(l, n, &ts) != 0)
            CHECK(errno == EAGAIN || errno == EINTR);
    }
    close(fd);
    free(cb);
    free(buf);
    return res;
}

/* The child: AIO works at once, with fresh pools. */
static void child(int k) {
    watchdog(30);
    char name[4096];
    snprintf(name, sizeof name, "%s.child%d", path, k);
    int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    unlink(name);
    static unsigned char out[4][BS], in[4][BS];
    struct aiocb w[4], rd[4], fs;
    const struct aiocb *l[4];
    struct timespec ts = {1, 0};
    for (int i = 0; i < 4; i++) {
        fill(out[i], 100 + k, i, 1);
        fill_cb(&w[i], fd, out[i], BS, (off_t)i * BS);
        CHECK(aio_write(&w[i]) == 0);
        l[i] = &w[i];
    }
    for (int i = 0; i < 4; i++) {
        while (aio_error(&w[i]) == EINPROGRESS)
            CHECK(aio_suspend(l, 4, &ts) == 0 || errno == EINTR || errno == EAGAIN);
        CHECK_EQ(aio_error(&w[i]), 0);
        CHECK_EQ(aio_return(&w[i]), BS);
    }
    fill_cb(&fs, fd, NULL, 0, 0);
    CHECK(aio_fsync(O_SYNC, &fs) == 0);
    CHECK_EQ(wait_done(&fs, 20), 0);
    CHECK_EQ(aio_return(&fs), 0);
    struct aiocb *list[4];
    for (int i = 0; i < 4; i++) {
        fill_cb(&rd[i], fd, in[i], BS, (off_t)i * BS);
        rd[i].aio_lio_opcode = LIO_READ;
        list[i] = &rd[i];
    }
    int rc;
    while ((rc = lio_listio(LIO_WAIT, list, 4, NULL)) != 0 && errno == EINTR) {
        for (int i = 0; i < 4; i++)
            CHECK(wait_done(&rd[i], 20) != -2);
        break;
    }
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(aio_error(&rd[i]), 0);
        CHECK_EQ(aio_return(&rd[i]), BS);
        CHECK(memcmp(in[i], out[i], BS) == 0);
    }
    close(fd);
    _exit(0);
}

int main(int argc, char **argv) {
    CHECK(argc == 2);
    path = argv[1];
    watchdog(120);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK(ftruncate(fd, (off_t)LOADERS * DEPTH * BS) == 0);
    close(fd);
    /* A read that waits on an empty pipe across every fork. */
    int p[2];
    CHECK(pipe(p) == 0);
    char pb[8] = {0};
    struct aiocb prd;
    fill_cb(&prd, p[0], pb, 6, 0);
    CHECK(aio_read(&prd) == 0);

    pthread_t tid[LOADERS];
    for (int t = 0; t < LOADERS; t++)
        CHECK(pthread_create(&tid[t], NULL, loader, (void *)(intptr_t)t) == 0);
    usleep(20000);
    int forks = 0;
    for (int k = 0; k < FORKS; k++) {
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0)
            child(k);
        int st;
        CHECK_EQ(waitpid(pid, &st, 0), pid);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "forkload: child %d failed (status %#x)\n", k, st);
            return 1;
        }
        forks++;
        usleep(2000);
    }
    atomic_store(&stop, 1);
    struct result total = {0, 0, 0, 0};
    for (int t = 0; t < LOADERS; t++) {
        void *rv;
        CHECK(pthread_join(tid[t], &rv) == 0);
        struct result *res = rv;
        total.ops += res->ops;
        total.duplicated += res->duplicated;
        total.corrupted += res->corrupted;
        free(res);
    }
    /* The pipe read is still waiting, in the parent, and completes here. */
    if (aio_error(&prd) != EINPROGRESS) {
        fprintf(stderr, "forkload: the pipe read finished early (%d)\n", aio_error(&prd));
        total.corrupted++;
    }
    CHECK_EQ(write(p[1], "parent", 6), 6);
    int e = wait_done(&prd, 20);
    if (e == -2) {
        total.lost++;
    } else {
        total.ops++;
        if (e != 0 || aio_return(&prd) != 6 || strcmp(pb, "parent"))
            total.corrupted++;
    }
    printf("forkload: ops %ld, lost %ld, duplicated %ld, corrupted %ld, forks %d\n", total.ops,
           total.lost, total.duplicated, total.corrupted, forks);
    return total.lost == 0 && total.duplicated == 0 && total.corrupted == 0 && forks == FORKS
               ? 0
               : 1;
}

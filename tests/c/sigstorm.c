/* Fault: a signal storm while threads sit in aio_suspend. WAITERS threads
 * each keep PIPE_DEPTH one-byte reads of their own pipe (fed slowly by a
 * feeder thread, so the reads wait) and FILE_DEPTH file reads/writes in
 * flight, and sleep in aio_suspend (no timeout, or a short one) while a
 * storm thread sends SIGUSR1 to them (a handler installed, no SA_RESTART)
 * as fast as it can. aio_suspend must return 0, EINTR or (with a timeout)
 * EAGAIN, never hang (the watchdog turns a hang into a failure), and every
 * op must still complete exactly once with the right bytes: the pipe reads
 * in queue order, each with the next byte the feeder wrote.
 * Prints "sigstorm: ops N, lost 0, duplicated 0, corrupted 0, signals S,
 * eintr E" and exits 1 on any loss, duplicate or corruption.
 * usage: sigstorm FILE    (preloaded or linked) */
#include "util.h"

#define WAITERS 3
#define PIPE_DEPTH 8
#define FILE_DEPTH 8
#define PIPE_OPS 10000 /* one-byte reads per waiter */
#define FILE_OPS 10000 /* file ops per waiter */
#define BS 512

static int pipes[WAITERS][2];
static const char *path;
static atomic_long handled, eintr, eagain, suspends, signals_sent;
static atomic_int waiters_done;
static pthread_t waiter_tid[WAITERS];

static void on_usr1(int s) {
    (void)s;
    atomic_fetch_add(&handled, 1);
}

struct result {
    long ops, lost, duplicated, corrupted;
};

struct slot {
    struct aiocb cb;
    unsigned char buf[BS];
    int busy, pipe;
    long seq;    /* pipe reads: queue order */
    int write;   /* file ops */
    int block;
    unsigned version;
};

static void fill_block(unsigned char *b, int w, int block, unsigned version) {
    uint64_t x = ((uint64_t)w << 40) ^ ((uint64_t)block << 20) ^ version ^ 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < BS; i += 8) {
        rnd(&x);
        memcpy(b + i, &x, 8);
    }
}

static void *waiter(void *p) {
    int w = (int)(intptr_t)p;
    struct result *res = calloc(1, sizeof *res);
    CHECK(res != NULL);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    struct slot *s = calloc(PIPE_DEPTH + FILE_DEPTH, sizeof *s);
    CHECK(s != NULL);
    unsigned versions[FILE_DEPTH] = {0};
    unsigned char expect[BS];
    long pipe_issued = 0, file_issued = 0, done = 0;
    unsigned char *seen = calloc(PIPE_OPS, 1); /* per pipe read: completions */
    CHECK(seen != NULL);
    uint64_t r = 77 + (uint64_t)w;
    int n = PIPE_DEPTH + FILE_DEPTH;
    for (;;) {
        /* Issue into free slots. */
        for (int i = 0; i < n; i++) {
            struct slot *sl = &s[i];
            if (sl->busy)
                continue;
            if (i < PIPE_DEPTH) {
                if (pipe_issued >= PIPE_OPS)
                    continue;
                fill_cb(&sl->cb, pipes[w][0], sl->buf, 1, 0);
                sl->pipe = 1;
                sl->seq = pipe_issued++;
                CHECK(aio_read(&sl->cb) == 0);
            } else {
                if (file_issued >= FILE_OPS)
                    continue;
                int b = i - PIPE_DEPTH;
                sl->pipe = 0;
                sl->block = b;
                /* Alternate: write a new version, then read it back. */
                sl->write = versions[b] == 0 || rnd(&r) % 2;
                fill_cb(&sl->cb, fd, sl->buf, BS, ((off_t)w * FILE_DEPTH + b) * BS);
                if (sl->write) {
                    sl->version = ++versions[b];
                    fill_block(sl->buf, w, b, sl->version);
                    CHECK(aio_write(&sl->cb) == 0);
                } else {
                    memset(sl->buf, 0, BS);
                    CHECK(aio_read(&sl->cb) == 0);
                }
                file_issued++;
            }
            sl->busy = 1;
        }
        /* Sleep in aio_suspend until something completes. */
        const struct aiocb *list[PIPE_DEPTH + FILE_DEPTH];
        int m = 0;
        for (int i = 0; i < n; i++)
            if (s[i].busy)
                list[m++] = &s[i].cb;
        if (m == 0)
            break;
        struct timespec ts = {0, 20 * 1000 * 1000};
        atomic_fetch_add(&suspends, 1);
        int rc = aio_suspend(list, m, rnd(&r) % 2 ? NULL : &ts);
        if (rc != 0) {
            CHECK(errno == EINTR || errno == EAGAIN);
            atomic_fetch_add(errno == EINTR ? &eintr : &eagain, 1);
        }
        /* Harvest, in queue order for the pipe. */
        for (int i = 0; i < n; i++) {
            struct slot *sl = &s[i];
            if (!sl->busy)
                continue;
            int e = aio_error(&sl->cb);
            if (e == EINPROGRESS)
                continue;
            ssize_t ret = aio_return(&sl->cb);
            errno = 0;
            if (aio_return(&sl->cb) != -1 || errno != EINVAL)
                res->duplicated++;
            sl->busy = 0;
            res->ops++;
            done++;
            if (sl->pipe) {
                if (e != 0 || ret != 1 || sl->buf[0] != (unsigned char)(sl->seq % 251))
                    res->corrupted++;
                if (seen[sl->seq]++)
                    res->duplicated++;
            } else {
                if (e != 0 || ret != BS) {
                    res->corrupted++;
                    continue;
                }
                if (!sl->write) {
                    fill_block(expect, w, sl->block, versions[sl->block]);
                    if (memcmp(expect, sl->buf, BS))
                        res->corrupted++;
                }
            }
        }
    }
    res->lost = PIPE_OPS + FILE_OPS - done;
    close(fd);
    free(s);
    free(seen);
    atomic_fetch_add(&waiters_done, 1);
    return res;
}

/* Writes byte k % 251 as the k-th byte of every pipe, slowly, so the reads
 * wait and their waiters sleep. */
static void *feeder(void *p) {
    (void)p;
    for (long k = 0; k < PIPE_OPS; k++) {
        for (int w = 0; w < WAITERS; w++) {
            unsigned char b = (unsigned char)(k % 251);
            CHECK_EQ(write(pipes[w][1], &b, 1), 1);
        }
        if (k % 4 == 0)
            usleep(200);
    }
    return NULL;
}

static void *storm(void *p) {
    (void)p;
    long k = 0;
    while (atomic_load(&waiters_done) < WAITERS) {
        for (int w = 0; w < WAITERS; w++)
            if (pthread_kill(waiter_tid[w], SIGUSR1) == 0)
                k++;
        if (k % 64 == 0)
            sched_yield();
    }
    atomic_store(&signals_sent, k);
    return NULL;
}

int main(int argc, char **argv) {
    CHECK(argc == 2);
    path = argv[1];
    watchdog(120);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1; /* no SA_RESTART */
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK(ftruncate(fd, (off_t)WAITERS * FILE_DEPTH * BS) == 0);
    close(fd);
    for (int w = 0; w < WAITERS; w++)
        CHECK(pipe(pipes[w]) == 0);
    for (int w = 0; w < WAITERS; w++)
        CHECK(pthread_create(&waiter_tid[w], NULL, waiter, (void *)(intptr_t)w) == 0);
    pthread_t f, st;
    CHECK(pthread_create(&st, NULL, storm, NULL) == 0);
    CHECK(pthread_create(&f, NULL, feeder, NULL) == 0);
    struct result total = {0, 0, 0, 0};
    for (int w = 0; w < WAITERS; w++) {
        void *rv;
        CHECK(pthread_join(waiter_tid[w], &rv) == 0);
        struct result *res = rv;
        total.ops += res->ops;
        total.lost += res->lost;
        total.duplicated += res->duplicated;
        total.corrupted += res->corrupted;
        free(res);
    }
    CHECK(pthread_join(f, NULL) == 0);
    CHECK(pthread_join(st, NULL) == 0);
    printf("sigstorm: ops %ld, lost %ld, duplicated %ld, corrupted %ld, signals %ld, "
           "handled %ld, aio_suspend %ld (eintr %ld, eagain %ld)\n",
           total.ops, total.lost, total.duplicated, total.corrupted,
           atomic_load(&signals_sent), atomic_load(&handled), atomic_load(&suspends),
           atomic_load(&eintr), atomic_load(&eagain));
    return total.lost == 0 && total.duplicated == 0 && total.corrupted == 0 &&
                   total.ops == (long)WAITERS * (PIPE_OPS + FILE_OPS)
               ? 0
               : 1;
}

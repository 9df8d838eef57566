/* The soak's streams: pipe and socket pairs whose readers stall and
 * resume, O_APPEND writers, fsyncs and reads of an unrelated file, and
 * cancels, all through aio_*.
 *
 * Every stream has a writer thread keeping WDEPTH aio_writes of numbered,
 * checksummed records in flight (blocking descriptors: each must complete
 * with its full count) and a reader thread reading it with aio_read, one
 * at a time, stalling now and then (so the pipe fills and writes wait) and
 * cancelling some of its reads (a cancelled read consumed nothing; one
 * that says AIO_ALLDONE did). Two O_APPEND writers append records to one
 * file. A file thread keeps writing, fsyncing and reading another file and
 * times each op. The ledger proves every accepted write landed exactly
 * once, in order per stream (and per appender), and prints the worst file-op
 * completion latency while a reader was stalled (a figure, not a verdict):
 *
 *     streams S records R lost L duplicated D misordered M corrupted C ...
 *
 * usage: streamsoak DIR   (AIO_STREAMSOAK_SECS, default 4)
 * Built against glibc only and run with libaio_posix.so preloaded. */
#include "util.h"
#include <sys/socket.h>

#define PIPES 3
#define SOCKS 3
#define NSTREAM (PIPES + SOCKS)
#define WDEPTH 4
#define MAXREC 8192
#define HDR 16
#define APPENDERS 2
#define AREC 32

static double secs;
static atomic_int stop_writing;
static atomic_int stalled; /* readers inside a stall */
static atomic_long cancels_won, cancels_other, short_writes, bad_results;

/* A wrong result: counted, and the first few described on stderr. */
static void bad(const char *what, int e, long n) {
    if (atomic_fetch_add(&bad_results, 1) < 5)
        fprintf(stderr, "streamsoak: %s: error %d (%s), return %ld\n", what, e, strerror(e), n);
}

struct stream {
    int rfd, wfd, sock;
    long written;   /* records whose write completed (full count) */
    long read_recs; /* records the reader parsed */
    long misordered, corrupted, duplicated;
};
static struct stream st[NSTREAM];

static uint32_t sum32(const unsigned char *p, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static void make_rec(unsigned char *b, uint32_t stream, uint32_t seq, uint32_t len) {
    memcpy(b, &stream, 4);
    memcpy(b + 4, &seq, 4);
    memcpy(b + 8, &len, 4);
    for (uint32_t i = HDR; i < len; i++)
        b[i] = (unsigned char)(seq * 31 + i);
    uint32_t s = sum32(b + HDR, len - HDR);
    memcpy(b + 12, &s, 4);
}

static ssize_t wait_cb(struct aiocb *cb, int *err) {
    const struct aiocb *l[1] = {cb};
    int e;
    while ((e = aio_error(cb)) == EINPROGRESS) {
        struct timespec ts = {1, 0};
        aio_suspend(l, 1, &ts);
    }
    *err = e;
    return aio_return(cb);
}

static void *writer(void *arg) {
    struct stream *s = &st[(long)arg];
    uint32_t id = (uint32_t)(long)arg;
    uint64_t r = 0x9e3779b97f4a7c15ull ^ id;
    static __thread unsigned char bufs[WDEPTH][MAXREC];
    struct aiocb cbs[WDEPTH];
    int busy[WDEPTH] = {0};
    uint32_t seq = 0;
    for (int k = 0;; k = (k + 1) % WDEPTH) {
        if (busy[k]) {
            int e;
            ssize_t n = wait_cb(&cbs[k], &e);
            if (e != 0)
                bad("stream write", e, (long)n);
            else if ((size_t)n != cbs[k].aio_nbytes)
                atomic_fetch_add(&short_writes, 1);
            else
                s->written++;
            busy[k] = 0;
        }
        if (atomic_load(&stop_writing)) {
            int any = 0;
            for (int j = 0; j < WDEPTH; j++)
                any |= busy[j];
            if (!any)
                break;
            continue;
        }
        uint32_t len = HDR + (uint32_t)(rnd(&r) % (MAXREC - HDR));
        make_rec(bufs[k], id, seq++, len);
        fill_cb(&cbs[k], s->wfd, bufs[k], len, 0);
        while (aio_write(&cbs[k]) != 0) {
            CHECK(errno == EAGAIN); /* refused at submission: allowed */
            usleep(100);
        }
        busy[k] = 1;
    }
    if (s->sock)
        shutdown(s->wfd, SHUT_WR);
    else
        close(s->wfd);
    return NULL;
}

static void *reader(void *arg) {
    struct stream *s = &st[(long)arg];
    uint32_t id = (uint32_t)(long)arg;
    uint64_t r = 0x1234567ull ^ ((uint64_t)id << 20);
    static __thread unsigned char acc[4 * MAXREC];
    size_t have = 0;
    uint32_t next = 0;
    char buf[4096];
    for (;;) {
        if (rnd(&r) % 64 == 0) { /* stall: the writers fill the stream */
            atomic_fetch_add(&stalled, 1);
            usleep(20000 + (useconds_t)(rnd(&r) % 80000));
            atomic_fetch_sub(&stalled, 1);
        }
        struct aiocb cb;
        fill_cb(&cb, s->rfd, buf, sizeof buf, 0);
        while (aio_read(&cb) != 0) {
            CHECK(errno == EAGAIN);
            usleep(100);
        }
        if (rnd(&r) % 16 == 0) {
            int c = aio_cancel(s->rfd, &cb);
            if (c == AIO_CANCELED) {
                atomic_fetch_add(&cancels_won, 1);
                int e;
                ssize_t n = wait_cb(&cb, &e);
                if (e != ECANCELED || n != -1)
                    bad("cancelled read", e, (long)n);
                continue;
            }
            atomic_fetch_add(&cancels_other, 1);
        }
        int e;
        ssize_t n = wait_cb(&cb, &e);
        if (e != 0) {
            bad("stream read", e, (long)n);
            break;
        }
        if (n == 0)
            break; /* EOF: the writer is done */
        CHECK(have + (size_t)n <= sizeof acc);
        memcpy(acc + have, buf, (size_t)n);
        have += (size_t)n;
        for (;;) { /* parse whole records */
            if (have < HDR)
                break;
            uint32_t sid, seq, len, sum;
            memcpy(&sid, acc, 4);
            memcpy(&seq, acc + 4, 4);
            memcpy(&len, acc + 8, 4);
            memcpy(&sum, acc + 12, 4);
            if (len < HDR || len > MAXREC || sid != id) {
                s->corrupted++;
                return NULL; /* framing lost: nothing after is trustworthy */
            }
            if (have < len)
                break;
            if (sum32(acc + HDR, len - HDR) != sum)
                s->corrupted++;
            if (seq < next)
                s->duplicated++;
            else if (seq != next)
                s->misordered++;
            next = seq + 1;
            s->read_recs++;
            memmove(acc, acc + len, have - len);
            have -= len;
        }
    }
    if (have)
        s->corrupted++;
    return NULL;
}

static const char *dir;
static long app_done[APPENDERS];
static int app_fd;

static void *appender(void *arg) {
    long t = (long)arg;
    static __thread char recs[WDEPTH][AREC];
    struct aiocb cbs[WDEPTH];
    int busy[WDEPTH] = {0};
    long seq = 0;
    for (int k = 0;; k = (k + 1) % WDEPTH) {
        if (busy[k]) {
            int e;
            ssize_t n = wait_cb(&cbs[k], &e);
            if (e != 0 || n != AREC)
                bad("append", e, (long)n);
            else
                app_done[t]++;
            busy[k] = 0;
        }
        if (atomic_load(&stop_writing)) {
            int any = 0;
            for (int j = 0; j < WDEPTH; j++)
                any |= busy[j];
            if (!any)
                break;
            continue;
        }
        snprintf(recs[k], AREC, "app %ld seq %020ld", t, seq++);
        recs[k][AREC - 1] = '\n';
        fill_cb(&cbs[k], app_fd, recs[k], AREC, 0);
        while (aio_write(&cbs[k]) != 0) {
            CHECK(errno == EAGAIN);
            usleep(100);
        }
        busy[k] = 1;
    }
    return NULL;
}

static double worst_stalled, worst_any;
static long file_ops;

static void *filer(void *arg) {
    (void)arg;
    char path[4096];
    snprintf(path, sizeof path, "%s/streamsoak-file-%d.dat", dir, (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(ftruncate(fd, 256 * 4096) == 0);
    static char b[4096];
    for (long i = 0; !atomic_load(&stop_writing); i++) {
        struct aiocb cb;
        int kind = (int)(i % 3);
        fill_cb(&cb, fd, b, sizeof b, (off_t)(i % 256) * 4096);
        int st0 = atomic_load(&stalled);
        double t0 = now_s();
        int rc = kind == 0 ? aio_write(&cb) : kind == 1 ? aio_fsync(O_SYNC, &cb) : aio_read(&cb);
        if (rc != 0) {
            CHECK(errno == EAGAIN);
            usleep(100);
            continue;
        }
        int e;
        ssize_t n = wait_cb(&cb, &e);
        double dt = now_s() - t0;
        if (e != 0 || (kind != 1 && n != (ssize_t)sizeof b))
            bad(kind == 0 ? "file write" : kind == 1 ? "file fsync" : "file read", e, (long)n);
        if (dt > worst_any)
            worst_any = dt;
        if ((st0 || atomic_load(&stalled)) && dt > worst_stalled)
            worst_stalled = dt;
        file_ops++;
    }
    close(fd);
    unlink(path);
    return NULL;
}

int main(int argc, char **argv) {
    CHECK(argc == 2);
    dir = argv[1];
    const char *v = getenv("AIO_STREAMSOAK_SECS");
    secs = v ? atof(v) : 4.0;
    watchdog((unsigned)(secs + 90));
    for (int i = 0; i < NSTREAM; i++) {
        int p[2];
        if (i < PIPES) {
            CHECK(pipe(p) == 0);
        } else {
            CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, p) == 0);
            st[i].sock = 1;
        }
        st[i].rfd = p[0];
        st[i].wfd = p[1];
    }
    char apath[4096];
    snprintf(apath, sizeof apath, "%s/streamsoak-append-%d.dat", dir, (int)getpid());
    app_fd = open(apath, O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0644);
    CHECK(app_fd >= 0);
    pthread_t w[NSTREAM], rd[NSTREAM], ap[APPENDERS], fl;
    for (long i = 0; i < NSTREAM; i++) {
        CHECK(pthread_create(&rd[i], NULL, reader, (void *)i) == 0);
        CHECK(pthread_create(&w[i], NULL, writer, (void *)i) == 0);
    }
    for (long t = 0; t < APPENDERS; t++)
        CHECK(pthread_create(&ap[t], NULL, appender, (void *)t) == 0);
    CHECK(pthread_create(&fl, NULL, filer, NULL) == 0);
    usleep((useconds_t)(secs * 1e6));
    atomic_store(&stop_writing, 1);
    for (int i = 0; i < NSTREAM; i++) {
        pthread_join(w[i], NULL);
        pthread_join(rd[i], NULL);
    }
    for (int t = 0; t < APPENDERS; t++)
        pthread_join(ap[t], NULL);
    pthread_join(fl, NULL);

    long records = 0, lost = 0, dup = 0, mis = 0, corrupt = 0;
    for (int i = 0; i < NSTREAM; i++) {
        records += st[i].written;
        if (st[i].read_recs < st[i].written)
            lost += st[i].written - st[i].read_recs;
        dup += st[i].duplicated;
        mis += st[i].misordered;
        corrupt += st[i].corrupted;
    }
    /* The O_APPEND file: each appender's records once, in order. */
    FILE *f = fopen(apath, "r");
    CHECK(f != NULL);
    long next[APPENDERS] = {0}, got[APPENDERS] = {0};
    char line[AREC + 8];
    while (fgets(line, sizeof line, f)) {
        long t, q;
        if (sscanf(line, "app %ld seq %ld", &t, &q) != 2 || t < 0 || t >= APPENDERS) {
            corrupt++;
            continue;
        }
        if (q < next[t])
            dup++;
        else if (q != next[t])
            mis++;
        next[t] = q + 1;
        got[t]++;
    }
    fclose(f);
    unlink(apath);
    for (int t = 0; t < APPENDERS; t++) {
        records += app_done[t];
        if (got[t] < app_done[t])
            lost += app_done[t] - got[t];
    }
    printf("streams %d records %ld lost %ld duplicated %ld misordered %ld corrupted %ld "
           "short_writes %ld bad_results %ld cancels_won %ld cancels_other %ld file_ops %ld "
           "worst_file_ms_while_stalled %.1f worst_file_ms %.1f\n",
           NSTREAM, records, lost, dup, mis, corrupt, atomic_load(&short_writes),
           atomic_load(&bad_results), atomic_load(&cancels_won), atomic_load(&cancels_other),
           file_ops, worst_stalled * 1e3, worst_any * 1e3);
    return lost || dup || mis || corrupt || atomic_load(&short_writes) ||
                   atomic_load(&bad_results)
               ? 1
               : 0;
}

/* Issue row 2: while other threads keep the write queues busy, numbered
 * records are written with aio_write to an O_APPEND file ("append") or a
 * pipe ("pipe"). An aio_write that returned 0 must complete with its full
 * count: EAGAIN belongs to submission only. The ledger checks that every
 * record landed exactly once, in order.
 *
 *   appends <dir> append|pipe
 *
 * Prints "records N lost L duplicated D misordered M late_eagain E bad B
 * submit_eagain S"; exits 1 on any loss. */
#include "util.h"

#define RECORDS 4000
#define REC 16
#define FLOODERS 2
#define FLOOD_DEPTH 1500

static atomic_int stop;
static const char *dir;

static void *flood(void *arg) {
    long t = (long)arg;
    char path[4096];
    snprintf(path, sizeof path, "%s/flood-%ld-%d.dat", dir, t, (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    static char buf[512];
    struct aiocb *cbs = calloc(FLOOD_DEPTH, sizeof *cbs);
    char *busy = calloc(FLOOD_DEPTH, 1);
    CHECK(cbs && busy);
    while (!atomic_load(&stop)) {
        for (int i = 0; i < FLOOD_DEPTH; i++) {
            if (busy[i]) {
                if (aio_error(&cbs[i]) == EINPROGRESS)
                    continue;
                aio_return(&cbs[i]);
                busy[i] = 0;
            }
            fill_cb(&cbs[i], fd, buf, sizeof buf, (off_t)i * 512);
            if (aio_write(&cbs[i]) == 0)
                busy[i] = 1;
        }
    }
    for (int i = 0; i < FLOOD_DEPTH; i++)
        if (busy[i]) {
            while (aio_error(&cbs[i]) == EINPROGRESS)
                usleep(100);
            aio_return(&cbs[i]);
        }
    close(fd);
    unlink(path);
    free(cbs);
    free(busy);
    return NULL;
}

static int pfd[2];
static char got[RECORDS * REC];
static size_t got_n;

static void *drain_pipe(void *arg) {
    (void)arg;
    while (got_n < sizeof got) {
        ssize_t n = read(pfd[0], got + got_n, sizeof got - got_n);
        if (n <= 0)
            break;
        got_n += (size_t)n;
    }
    return NULL;
}

int main(int argc, char **argv) {
    CHECK(argc == 3);
    watchdog(120);
    dir = argv[1];
    int pipe_mode = strcmp(argv[2], "pipe") == 0;
    char path[4096];
    int fd;
    pthread_t reader;
    if (pipe_mode) {
        CHECK(pipe(pfd) == 0);
        fd = pfd[1];
        CHECK(pthread_create(&reader, NULL, drain_pipe, NULL) == 0);
    } else {
        snprintf(path, sizeof path, "%s/appends-%d.dat", dir, (int)getpid());
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0644);
        CHECK(fd >= 0);
    }
    pthread_t fl[FLOODERS];
    for (long t = 0; t < FLOODERS; t++)
        CHECK(pthread_create(&fl[t], NULL, flood, (void *)t) == 0);
    usleep(20000);

    static struct aiocb cbs[RECORDS];
    static char recs[RECORDS][REC];
    long submit_eagain = 0;
    for (int i = 0; i < RECORDS; i++) {
        snprintf(recs[i], REC, "rec %010d", i);
        recs[i][REC - 1] = '\n';
        fill_cb(&cbs[i], fd, recs[i], REC, 0);
        while (aio_write(&cbs[i]) != 0) {
            CHECK(errno == EAGAIN); /* refused at submission: allowed, retry */
            submit_eagain++;
            usleep(50);
        }
    }
    long late_eagain = 0, bad = 0;
    for (int i = 0; i < RECORDS; i++) {
        int e;
        while ((e = aio_error(&cbs[i])) == EINPROGRESS)
            usleep(100);
        ssize_t r = aio_return(&cbs[i]);
        if (e == EAGAIN)
            late_eagain++;
        else if (e != 0 || r != REC)
            bad++;
    }
    atomic_store(&stop, 1);
    for (int t = 0; t < FLOODERS; t++)
        pthread_join(fl[t], NULL);

    size_t n;
    if (pipe_mode) {
        close(pfd[1]);
        pthread_join(reader, NULL);
        n = got_n;
    } else {
        int rfd = open(path, O_RDONLY);
        CHECK(rfd >= 0);
        ssize_t k = pread(rfd, got, sizeof got, 0);
        CHECK(k >= 0);
        n = (size_t)k;
        close(rfd);
        unlink(path);
    }
    /* The ledger: record i must be the i-th record in the stream. */
    long lost = 0, dup = 0, misordered = 0;
    static unsigned char seen[RECORDS];
    size_t nrec = n / REC;
    for (size_t k = 0; k < nrec; k++) {
        int id = atoi(got + k * REC + 4);
        if (id < 0 || id >= RECORDS) {
            misordered++;
            continue;
        }
        if (seen[id]++)
            dup++;
        if ((size_t)id != k)
            misordered++;
    }
    for (int i = 0; i < RECORDS; i++)
        if (!seen[i])
            lost++;
    printf("records %d lost %ld duplicated %ld misordered %ld late_eagain %ld "
           "bad %ld submit_eagain %ld\n",
           RECORDS, lost, dup, misordered, late_eagain, bad, submit_eagain);
    return lost || dup || misordered || late_eagain || bad ? 1 : 0;
}

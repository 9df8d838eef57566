/* Issue row 4: run unprivileged under `ulimit -u 8`, where io_uring's
 * io-wq cannot start a worker and completes what it would have punted
 * (buffered writes, fsyncs) with -ECANCELED (or -EAGAIN). ECANCELED must
 * mean "an aio_cancel won": every op here completes with its count, and
 * the data is on disk.
 *
 *   nproc <dir>
 *
 * Prints "ops N ecanceled E failed F corrupted C refused_at_submission R";
 * exits 1 on any but R (EAGAIN at submission is allowed: a class whose
 * workers cannot be started refuses; the program then syncs itself). */
#include "util.h"

#define N 64
#define BS 4096

int main(int argc, char **argv) {
    CHECK(argc == 2);
    watchdog(60);
    char path[4096];
    snprintf(path, sizeof path, "%s/nproc-%d.dat", argv[1], (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    static struct aiocb cbs[N + 1];
    static char bufs[N][BS];
    long ops = 0, ecanceled = 0, failed = 0, corrupted = 0, refused = 0;
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < N; i++) {
            memset(bufs[i], 'a' + (i + round) % 26, BS);
            fill_cb(&cbs[i], fd, bufs[i], BS, (off_t)i * BS);
            while (aio_write(&cbs[i]) != 0) {
                CHECK(errno == EAGAIN);
                refused++;
                usleep(1000);
            }
        }
        for (int i = 0; i < N; i++) {
            int e;
            while ((e = aio_error(&cbs[i])) == EINPROGRESS)
                usleep(100);
            ssize_t r = aio_return(&cbs[i]);
            ops++;
            if (e == ECANCELED)
                ecanceled++;
            else if (e != 0 || r != BS)
                failed++;
        }
        fill_cb(&cbs[N], fd, NULL, 0, 0);
        if (aio_fsync(O_SYNC, &cbs[N]) != 0) {
            /* Refused at submission (no thread can be started for the
             * sync class: the fallback's blocking threads count against
             * the same limit). Allowed; this is where EAGAIN belongs. */
            CHECK(errno == EAGAIN);
            refused++;
            CHECK(fsync(fd) == 0);
        } else {
            int e;
            while ((e = aio_error(&cbs[N])) == EINPROGRESS)
                usleep(100);
            aio_return(&cbs[N]);
            ops++;
            if (e == ECANCELED)
                ecanceled++;
            else if (e != 0)
                failed++;
        }
        for (int i = 0; i < N; i++) {
            char b[BS];
            CHECK(pread(fd, b, BS, (off_t)i * BS) == BS);
            if (memcmp(b, bufs[i], BS) != 0)
                corrupted++;
        }
    }
    close(fd);
    unlink(path);
    printf("ops %ld ecanceled %ld failed %ld corrupted %ld refused_at_submission %ld\n", ops,
           ecanceled, failed, corrupted, refused);
    return ecanceled || failed || corrupted ? 1 : 0;
}

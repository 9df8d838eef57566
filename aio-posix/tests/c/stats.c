/* AIO_POSIX_STATS: a program that does a known number of ops (reads,
 * writes, an fsync, one at a time and a batch of 16 in flight) and exits
 * normally; the test reads the table the library printed at exit and
 * checks that the pools' completions add up to that number. Preloaded, as
 * fio would be: plain <aio.h>, zero-filled aiocbs. */
#include "check.h"

#define READS 100
#define WRITES 10
#define BATCH 16

static void wait_one(struct aiocb *cb) {
    const struct aiocb *l[1] = {cb};
    struct timespec ts = {10, 0};
    while (aio_error(cb) == EINPROGRESS)
        CHECK(aio_suspend(l, 1, &ts) == 0 || errno == EINTR);
}

int main(void) {
    watchdog(60);
    int fd = temp_file();
    static char buf[BATCH][4096];
    memset(buf, 'x', sizeof buf);
    CHECK_EQ(pwrite(fd, buf, sizeof buf, 0), (ssize_t)sizeof buf);
    struct aiocb cb;
    for (int i = 0; i < READS; i++) {
        memset(&cb, 0, sizeof cb);
        cb.aio_fildes = fd;
        cb.aio_buf = buf[0];
        cb.aio_nbytes = 4096;
        cb.aio_offset = (off_t)(i % BATCH) * 4096;
        CHECK_EQ(aio_read(&cb), 0);
        wait_one(&cb);
        CHECK_EQ(aio_return(&cb), 4096);
    }
    for (int i = 0; i < WRITES; i++) {
        memset(&cb, 0, sizeof cb);
        cb.aio_fildes = fd;
        cb.aio_buf = buf[1];
        cb.aio_nbytes = 512;
        cb.aio_offset = (off_t)i * 512;
        CHECK_EQ(aio_write(&cb), 0);
        wait_one(&cb);
        CHECK_EQ(aio_return(&cb), 512);
    }
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    CHECK_EQ(aio_fsync(O_SYNC, &cb), 0);
    wait_one(&cb);
    CHECK_EQ(aio_return(&cb), 0);
    struct aiocb many[BATCH];
    for (int i = 0; i < BATCH; i++) {
        memset(&many[i], 0, sizeof many[i]);
        many[i].aio_fildes = fd;
        many[i].aio_buf = buf[i];
        many[i].aio_nbytes = 4096;
        many[i].aio_offset = (off_t)i * 4096;
        CHECK_EQ(aio_read(&many[i]), 0);
    }
    for (int i = 0; i < BATCH; i++) {
        wait_one(&many[i]);
        CHECK_EQ(aio_return(&many[i]), 4096);
    }
    printf("stats ops %d\n", READS + WRITES + 1 + BATCH);
    return 0;
}

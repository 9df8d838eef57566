/* Streams: ops on one descriptor and direction run one at a time in FIFO
 * order, but a read waiting forever on one pipe never holds up ops on
 * other pipes or files (run with AIO_POSIX_THREADS=1: one worker per
 * class). A queued op can be cancelled without disturbing the order.
 * Linked with -laio_posix. */
#include "check.h"
#include "aio_posix.h"

int main(void) {
    watchdog(20);
    int a[2], b[2];
    CHECK(pipe(a) == 0 && pipe(b) == 0);
    char x[8], z[4], y[3][4];
    struct aiocb ra, ra2, rb[3];
    /* Pipe A: a read that never gets data, and one queued behind it. */
    fill_cb(&ra, a[0], x, 8, 0);
    fill_cb(&ra2, a[0], z, 4, 0);
    CHECK(aio_read(&ra) == 0);
    CHECK(aio_read(&ra2) == 0);
    usleep(20000);
    /* Pipe B: three reads; the middle one is cancelled while queued. */
    for (int i = 0; i < 3; i++) {
        fill_cb(&rb[i], b[0], y[i], 4, 0);
        CHECK(aio_read(&rb[i]) == 0);
    }
    CHECK_EQ(aio_cancel(b[0], &rb[1]), AIO_CANCELED);
    CHECK_EQ(aio_error(&rb[1]), ECANCELED);
    CHECK_EQ(write(b[1], "11112222", 8), 8);
    CHECK_EQ(poll_done(&rb[0]), 0);
    CHECK_EQ(poll_done(&rb[2]), 0);
    CHECK(!memcmp(y[0], "1111", 4));
    CHECK(!memcmp(y[2], "2222", 4));
    /* A file read meanwhile. */
    int f = temp_file();
    CHECK_EQ(write(f, "abcd", 4), 4);
    struct aiocb rf;
    char fb[4];
    fill_cb(&rf, f, fb, 4, 0);
    CHECK(aio_read(&rf) == 0);
    CHECK_EQ(poll_done(&rf), 0);
    /* Pipe A is still waiting, in order. */
    CHECK_EQ(aio_error(&ra), EINPROGRESS);
    CHECK_EQ(aio_error(&ra2), EINPROGRESS);
    CHECK_EQ(write(a[1], "AAAAAAAABBBB", 12), 12);
    CHECK_EQ(poll_done(&ra), 0);
    CHECK_EQ(poll_done(&ra2), 0);
    CHECK(!memcmp(x, "AAAAAAAA", 8) && !memcmp(z, "BBBB", 4));
    /* Many writes to one pipe keep their order. */
    static char bufs[64][16];
    static struct aiocb w[64];
    for (int i = 0; i < 64; i++) {
        snprintf(bufs[i], 16, "%015d", i);
        fill_cb(&w[i], a[1], bufs[i], 15, 0);
        CHECK(aio_write(&w[i]) == 0);
    }
    for (int i = 0; i < 64; i++) {
        CHECK_EQ(poll_done(&w[i]), 0);
        char got[16] = {0};
        CHECK_EQ(read(a[0], got, 15), 15);
        CHECK(!strcmp(got, bufs[i]));
    }
    printf("streams ok\n");
    return 0;
}

/* aio_fsync completes after every write queued on its descriptor before
 * it; a bad op is EINVAL. Linked with -laio_posix. */
#include "check.h"
#include "aio_posix.h"

#define N 64
#define SZ 65536

int main(void) {
    watchdog(30);
    int fd = temp_file();
    static char bufs[N][SZ];
    static struct aiocb w[N];
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < N; i++) {
            memset(bufs[i], 'a' + (i + round) % 26, SZ);
            fill_cb(&w[i], fd, bufs[i], SZ, (off_t)i * SZ);
            CHECK(aio_write(&w[i]) == 0);
        }
        struct aiocb s;
        fill_cb(&s, fd, NULL, 0, 0);
        CHECK(aio_fsync(round % 2 ? O_DSYNC : O_SYNC, &s) == 0);
        CHECK_EQ(poll_done(&s), 0);
        CHECK_EQ(aio_return(&s), 0);
        /* Every earlier write is complete once the fsync is. */
        for (int i = 0; i < N; i++) {
            CHECK_EQ(aio_error(&w[i]), 0);
            CHECK_EQ(aio_return(&w[i]), SZ);
        }
    }
    /* O_APPEND: the appends land in order, and the fsync follows them. */
    char path[] = "/tmp/aio-posix-append-XXXXXX";
    int afd = mkstemp(path);
    CHECK(afd >= 0);
    CHECK(fcntl(afd, F_SETFL, O_APPEND) == 0);
    static char line[N][8];
    for (int i = 0; i < N; i++) {
        snprintf(line[i], 8, "%06d\n", i);
        fill_cb(&w[i], afd, line[i], 7, 0);
        CHECK(aio_write(&w[i]) == 0);
    }
    struct aiocb as;
    fill_cb(&as, afd, NULL, 0, 0);
    CHECK(aio_fsync(O_SYNC, &as) == 0);
    CHECK_EQ(poll_done(&as), 0);
    for (int i = 0; i < N; i++) {
        if (aio_error(&w[i]) != 0) {
            for (int j = 0; j < N; j++)
                fprintf(stderr, "%d ", aio_error(&w[j]));
            fprintf(stderr, "\n");
        }
        CHECK_EQ(aio_error(&w[i]), 0);
    }
    char got[N * 7 + 1];
    CHECK_EQ(pread(afd, got, N * 7, 0), N * 7);
    for (int i = 0; i < N; i++)
        CHECK(!memcmp(got + 7 * i, line[i], 7));
    unlink(path);

    struct aiocb bad;
    fill_cb(&bad, fd, NULL, 0, 0);
    CHECK_EQ(aio_fsync(O_RDWR, &bad), -1);
    CHECK_EQ(errno, EINVAL);
    CHECK_EQ(aio_fsync(0, &bad), -1);
    CHECK_EQ(errno, EINVAL);
    fill_cb(&bad, -1, NULL, 0, 0);
    CHECK_EQ(aio_fsync(O_SYNC, &bad), -1);
    CHECK_EQ(errno, EBADF);
    CHECK(aio_posix_calls("aio_fsync") >= 4);
    printf("fsync ok\n");
    return 0;
}

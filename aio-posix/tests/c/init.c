/* aio_init is a sizing hint, as in glibc: aio_num = 2 does not refuse a
 * program that has sixteen reads in flight. Linked with -laio_posix. */
#include "check.h"
#include "aio_posix.h"

int main(void) {
    watchdog(20);
    struct aioinit init;
    memset(&init, 0, sizeof init);
    init.aio_threads = 1;
    init.aio_num = 2;
    aio_init(&init);
    int p[2];
    CHECK(pipe(p) == 0);
    char b[16][4];
    struct aiocb r[16];
    for (int i = 0; i < 16; i++) {
        fill_cb(&r[i], p[0], b[i], 4, 0);
        CHECK_EQ(aio_read(&r[i]), 0);
    }
    /* Fed in order, each read gets its own 4 bytes (FIFO per stream). */
    char data[64];
    for (int i = 0; i < 64; i++)
        data[i] = (char)('A' + i / 4);
    CHECK_EQ(write(p[1], data, 64), 64);
    for (int i = 0; i < 16; i++) {
        CHECK_EQ(poll_done(&r[i]), 0);
        CHECK_EQ(aio_return(&r[i]), 4);
        CHECK_EQ(b[i][0], 'A' + i);
    }
    CHECK_EQ(aio_posix_calls("aio_init"), 1);
    printf("init ok\n");
    return 0;
}

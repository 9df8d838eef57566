/* aio_init sets the limits before the first submission: with aio_num = 2,
 * a third op in flight is refused with EAGAIN. Linked with -laio_posix. */
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
    char b[3][4];
    struct aiocb r[3];
    for (int i = 0; i < 2; i++) {
        fill_cb(&r[i], p[0], b[i], 4, 0);
        CHECK(aio_read(&r[i]) == 0);
    }
    fill_cb(&r[2], p[0], b[2], 4, 0);
    CHECK_EQ(aio_read(&r[2]), -1);
    CHECK_EQ(errno, EAGAIN);
    /* Once one completes, its slot serves the next (no aio_return). */
    CHECK_EQ(write(p[1], "abcd", 4), 4);
    CHECK_EQ(poll_done(&r[0]), 0);
    CHECK(aio_read(&r[2]) == 0);
    CHECK_EQ(write(p[1], "efghijkl", 8), 8);
    CHECK_EQ(poll_done(&r[1]), 0);
    CHECK_EQ(poll_done(&r[2]), 0);
    CHECK(!memcmp(b[2], "ijkl", 4));
    CHECK_EQ(aio_posix_calls("aio_init"), 1);
    printf("init ok\n");
    return 0;
}

/* Reaping with a full slab (run with AIO_POSIX_MAX_OPS=4): once the
 * process reaps (here: an aio_waitcomplete before anything was submitted,
 * which also counts), completed ops whose results nobody took keep their
 * slots, so the fifth aio_read fails with EAGAIN (at once: the watchdog
 * catches a hang) until one result is taken. Linked with -laio_posix.
 *
 *   full_slab      -> prints "full_slab ok" */
#include "check.h"
#include "aio_posix.h"

int main(void) {
    watchdog(20);
    int fd = temp_file();
    static char b[5][512];
    struct aiocb cbs[5];
    struct aiocb *got;
    struct timespec z = {0, 0};
    /* Nothing submitted: EAGAIN, and the process reaps from now on. */
    CHECK_EQ(aio_waitcomplete(&got, &z), -1);
    CHECK_EQ(errno, EAGAIN);
    for (int i = 0; i < 4; i++) {
        fill_cb(&cbs[i], fd, b[i], 512, 0);
        CHECK_EQ(aio_read(&cbs[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        CHECK_EQ(poll_done(&cbs[i]), 0);
    fill_cb(&cbs[4], fd, b[4], 512, 0);
    double t0 = now_s();
    CHECK_EQ(aio_read(&cbs[4]), -1);
    CHECK_EQ(errno, EAGAIN);
    printf("full slab: EAGAIN after %.3f ms\n", (now_s() - t0) * 1e3);
    /* aio_return frees a slot as aio_waitcomplete does. */
    CHECK_EQ(aio_return(&cbs[0]), 0);
    CHECK_EQ(aio_read(&cbs[4]), 0);
    CHECK_EQ(poll_done(&cbs[4]), 0);
    CHECK_EQ(aio_read(&cbs[0]), -1); /* full again: 1..4 untaken */
    CHECK_EQ(errno, EAGAIN);
    int n = 0;
    while (aio_waitcomplete(&got, &z) == 0)
        n++;
    CHECK_EQ(errno, EAGAIN); /* all taken: nothing outstanding */
    CHECK_EQ(n, 4);
    CHECK_EQ(aio_read(&cbs[0]), 0);
    CHECK_EQ(aio_waitcomplete(&got, NULL), 0);
    CHECK(got == &cbs[0]);
    printf("full_slab ok\n");
    return 0;
}

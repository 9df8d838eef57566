/* A lio_listio entry that is already in flight (a read waiting on an empty
 * pipe) must be refused without touching the op in flight: its aio_error
 * must still say EINPROGRESS afterwards, and it must complete normally
 * once data arrives. (The library writes the entry's refusal, EINVAL and
 * -1, into the aiocb of the op in flight: see c_faults.rs.)
 * usage: lio_inflight    (preloaded or linked) */
#include "util.h"

int main(void) {
    watchdog(20);
    int p[2];
    CHECK(pipe(p) == 0);
    char b[4] = {0};
    struct aiocb cb;
    fill_cb(&cb, p[0], b, 3, 0);
    cb.aio_lio_opcode = LIO_READ;
    CHECK(aio_read(&cb) == 0);
    CHECK_EQ(aio_error(&cb), EINPROGRESS);
    /* aio_read refuses the resubmission and leaves the op alone. */
    CHECK_EQ(aio_read(&cb), -1);
    CHECK_EQ(errno, EINVAL);
    CHECK_EQ(aio_error(&cb), EINPROGRESS);
    /* lio_listio must do the same for its entry. */
    struct aiocb *list[1] = {&cb};
    int rc = lio_listio(LIO_NOWAIT, list, 1, NULL);
    int e = errno;
    int now = aio_error(&cb);
    printf("lio_listio: %d (errno %d); aio_error of the op in flight: %d\n", rc, e, now);
    CHECK_EQ(now, EINPROGRESS);
    CHECK_EQ(write(p[1], "abc", 3), 3);
    CHECK_EQ(wait_done(&cb, 10), 0);
    CHECK_EQ(aio_return(&cb), 3);
    CHECK(memcmp(b, "abc", 3) == 0);
    printf("lio_inflight ok\n");
    return 0;
}

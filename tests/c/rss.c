/* No memory kept per completed op: OPS aio_reads (AIO_RSS_OPS, default
 * 200000), DEPTH in flight, each polled with aio_error until done and never
 * passed to aio_return; half are resubmitted on the same aiocb, half on a
 * freshly allocated one (the old one freed while the library could still
 * remember it). The resident set (/proc/self/statm) after a warm-up of a
 * tenth of the ops and at the end must not grow by more than LIMIT pages:
 * a library keeping even 16 bytes per op would add 700+ pages here.
 * Prints "rss: ops N, warm P pages, end Q pages, max M, growth G pages".
 * The library's slab of op slots (AIO_POSIX_MAX_OPS, 8192 by default) fills
 * before slots are reused, so the warm-up must exceed it; AIO_RSS_LIMIT=-1
 * turns the check off (under valgrind, whose own footprint moves).
 * usage: rss FILE    (linked or preloaded) */
#include "util.h"

#define DEPTH 16
#define BS 512
#define LIMIT 128 /* pages (512 KiB) */

int main(int argc, char **argv) {
    CHECK(argc == 2);
    watchdog(600);
    long ops = getenv("AIO_RSS_OPS") ? atol(getenv("AIO_RSS_OPS")) : 200000;
    CHECK(ops >= 1000);
    int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK(ftruncate(fd, 1 << 20) == 0);
    struct aiocb *cb[DEPTH];
    static char buf[DEPTH][BS];
    uint64_t r = 1;
    for (int i = 0; i < DEPTH; i++) {
        cb[i] = malloc(sizeof(struct aiocb));
        CHECK(cb[i] != NULL);
        fill_cb(cb[i], fd, buf[i], BS, (off_t)(rnd(&r) % 2048) * BS);
        CHECK(aio_read(cb[i]) == 0);
    }
    long submitted = DEPTH, completed = 0, warm = -1, maxrss = 0, fresh = 0;
    while (completed < ops) {
        int progress = 0;
        for (int i = 0; i < DEPTH && completed < ops; i++) {
            int e = aio_error(cb[i]);
            if (e == EINPROGRESS)
                continue;
            CHECK_EQ(e, 0);
            progress = 1;
            completed++;
            if (submitted < ops && rnd(&r) % 2) {
                free(cb[i]); /* never returned: nothing may remain of it */
                cb[i] = malloc(sizeof(struct aiocb));
                CHECK(cb[i] != NULL);
                fresh++;
            }
            if (submitted < ops) {
                fill_cb(cb[i], fd, buf[i], BS, (off_t)(rnd(&r) % 2048) * BS);
                CHECK(aio_read(cb[i]) == 0);
                submitted++;
            }
        }
        if (warm < 0 && completed >= ops / 10)
            warm = rss_pages();
        if (completed % 4096 == 0) {
            long now = rss_pages();
            if (now > maxrss)
                maxrss = now;
        }
        if (!progress)
            sched_yield();
    }
    /* The last ones in flight. */
    for (int i = 0; i < DEPTH; i++)
        while (aio_error(cb[i]) == EINPROGRESS)
            usleep(100);
    long end = rss_pages();
    if (end > maxrss)
        maxrss = end;
    printf("rss: ops %ld (%ld on fresh aiocbs), warm %ld pages, end %ld pages, max %ld, "
           "growth %ld pages (limit %d pages)\n",
           completed, fresh, warm, end, maxrss, end - warm, LIMIT);
    for (int i = 0; i < DEPTH; i++)
        free(cb[i]);
    close(fd);
    unlink(argv[1]);
    long limit = getenv("AIO_RSS_LIMIT") ? atol(getenv("AIO_RSS_LIMIT")) : LIMIT;
    return limit < 0 || end - warm <= limit ? 0 : 1;
}

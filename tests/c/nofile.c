/* Issue row 8: under `ulimit -n 16` a program that reads a file with
 * aio_read, then opens its own pipe and uses it with aio_write/aio_read,
 * works: the library holds descriptors only for what was used (before,
 * 12 descriptors from the first call: one io_uring and one eventfd per
 * worker, all workers started at once, so pipe() failed with EMFILE).
 *
 *   nofile <dir>
 *
 * Prints "held_after_read N held_at_end M"; exits 1 on any failure. */
#include "util.h"
#include <dirent.h>

static int open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    CHECK(d != NULL);
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n - 3; /* ".", "..", and the directory's own descriptor */
}

static ssize_t wait_op(struct aiocb *cb) {
    int e;
    while ((e = aio_error(cb)) == EINPROGRESS)
        usleep(100);
    ssize_t r = aio_return(cb);
    errno = e;
    CHECK(e == 0);
    return r;
}

int main(int argc, char **argv) {
    CHECK(argc == 2);
    watchdog(30);
    char path[4096];
    snprintf(path, sizeof path, "%s/nofile-%d.dat", argv[1], (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    char data[4096];
    memset(data, 'x', sizeof data);
    CHECK(write(fd, data, sizeof data) == (ssize_t)sizeof data);
    int before = open_fds();
    struct aiocb cb;
    char buf[4096];
    fill_cb(&cb, fd, buf, sizeof buf, 0);
    CHECK(aio_read(&cb) == 0);
    CHECK_EQ(wait_op(&cb), sizeof buf);
    int after_read = open_fds();
    int p[2];
    CHECK(pipe(p) == 0); /* EMFILE before */
    fill_cb(&cb, p[1], "hello", 5, 0);
    CHECK(aio_write(&cb) == 0);
    CHECK_EQ(wait_op(&cb), 5);
    fill_cb(&cb, p[0], buf, 5, 0);
    CHECK(aio_read(&cb) == 0);
    CHECK_EQ(wait_op(&cb), 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    int at_end = open_fds();
    close(fd);
    unlink(path);
    printf("held_after_read %d held_at_end %d\n", after_read - before, at_end - before - 2);
    return 0;
}

/* Numbers the program closed, which the library may since have taken for
 * descriptors of its own (io_uring instances, eventfds, epoll): an op on
 * one fails with EBADF, as on glibc, which opens none. Before the fix a
 * write on such a number went into the library's eventfd and a read of it
 * never completed.
 *
 * Also the daemon's pattern (below), with the limit as it is: the library
 * keeps its descriptors above the numbers a program's open gets.
 *
 * Then, under a low RLIMIT_NOFILE, the program frees eight numbers before its first AIO call (which builds
 * the library's instance, so its descriptors take the lowest free ones),
 * starts reads, writes and an fsync so that workers of every class exist,
 * then submits to each freed number; and to the numbers of two files it
 * had written and closed before the first fsync (whose workers start
 * then), which the library knew as files.
 *
 * Written as users write C: zero-filled aiocbs, only the needed fields. */
#include "conform.h"
#include <sys/resource.h>
#include <sys/wait.h>

/* The daemon's pattern, in a child: stdin and stderr closed, some AIO
 * (a file write and a pipe read that has to wait, so that the library
 * makes its rings, eventfds and epoll instance), then two opens: they
 * must get 0 and 2, as with glibc, whose AIO opens no descriptor. */
static void daemon_child(void) {
    watchdog(20);
    int file = data_file(8192);
    int p[2];
    if (pipe(p) != 0)
        _exit(3);
    close(0);
    close(2);
    static char buf[64];
    struct aiocb cb;
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = file;
    cb.aio_buf = buf;
    cb.aio_nbytes = 64;
    if (aio_write(&cb) != 0 || settle(&cb) != 0)
        _exit(3);
    aio_return(&cb);
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = p[0];
    cb.aio_buf = buf;
    cb.aio_nbytes = 4;
    if (aio_read(&cb) != 0)
        _exit(3);
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    int a = open("/dev/null", O_RDONLY), b = open("/dev/null", O_WRONLY);
    if (write(p[1], "done", 4) != 4 || settle(&cb) != 0)
        _exit(3);
    aio_return(&cb);
    SAY("fds/daemon_reopen_after_aio", "%d %d", a, b);
    _exit(0);
}

int main(void) {
    watchdog(60);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
        daemon_child();
    int wst = 0;
    waitpid(pid, &wst, 0);
    SAY("fds/daemon_child_exit", "%d", WIFEXITED(wst) ? WEXITSTATUS(wst) : -1);
    /* A low limit, so that the library's descriptors must take low
     * numbers (it keeps them high when it can). */
    struct rlimit lim;
    getrlimit(RLIMIT_NOFILE, &lim);
    lim.rlim_cur = 48;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0)
        return 2;
    int file = data_file(1 << 16);
    int freed[8];
    for (int i = 0; i < 8; i++)
        freed[i] = dup(file);
    for (int i = 0; i < 8; i++)
        close(freed[i]);
    static char buf[4096];
    struct aiocb cb;
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = file;
    cb.aio_buf = buf;
    cb.aio_nbytes = 4096;
    outcome("fds/first_read", aio_read(&cb), &cb);
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = file;
    cb.aio_buf = buf;
    cb.aio_nbytes = 4096;
    outcome("fds/first_write", aio_write(&cb), &cb);
    /* Two files the library has served (so it knows their numbers as
     * files), closed; the first fsync then starts the flush workers, whose
     * rings and eventfds may take those numbers. */
    int known[2];
    for (int i = 0; i < 2; i++) {
        known[i] = data_file(8192);
        memset(&cb, 0, sizeof cb);
        cb.aio_fildes = known[i];
        cb.aio_buf = buf;
        cb.aio_nbytes = 16;
        if (aio_write(&cb) != 0 || settle(&cb) != 0 || aio_return(&cb) != 16)
            return 2;
    }
    close(known[0]);
    close(known[1]);
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = file;
    outcome("fds/first_fsync", aio_fsync(O_SYNC, &cb), &cb);
    int bad_known = 0;
    for (int i = 0; i < 2; i++) {
        memset(&cb, 0, sizeof cb);
        cb.aio_fildes = known[i];
        cb.aio_buf = buf;
        cb.aio_nbytes = 8;
        if (aio_write(&cb) == 0 ? settle(&cb) == EBADF && aio_return(&cb) == -1 : errno == EBADF)
            bad_known++;
        memset(&cb, 0, sizeof cb);
        cb.aio_fildes = known[i];
        if (aio_fsync(O_SYNC, &cb) == 0 ? settle(&cb) == EBADF && aio_return(&cb) == -1 : errno == EBADF)
            bad_known++;
    }
    SAY("fds/closed_known_files_write_fsync", "%d of 4 EBADF", bad_known);
    int bad_read = 0, bad_write = 0, bad_fsync = 0;
    for (int i = 0; i < 8; i++) {
        memset(&cb, 0, sizeof cb);
        cb.aio_fildes = freed[i];
        cb.aio_buf = buf;
        cb.aio_nbytes = 8;
        if (aio_read(&cb) == 0 ? settle(&cb) == EBADF && aio_return(&cb) == -1 : errno == EBADF)
            bad_read++;
        memset(&cb, 0, sizeof cb);
        cb.aio_fildes = freed[i];
        cb.aio_buf = buf;
        cb.aio_nbytes = 8;
        if (aio_write(&cb) == 0 ? settle(&cb) == EBADF && aio_return(&cb) == -1 : errno == EBADF)
            bad_write++;
        memset(&cb, 0, sizeof cb);
        cb.aio_fildes = freed[i];
        if (aio_fsync(O_SYNC, &cb) == 0 ? settle(&cb) == EBADF && aio_return(&cb) == -1 : errno == EBADF)
            bad_fsync++;
    }
    SAY("fds/closed_numbers_read", "%d of 8 EBADF", bad_read);
    SAY("fds/closed_numbers_write", "%d of 8 EBADF", bad_write);
    SAY("fds/closed_numbers_fsync", "%d of 8 EBADF", bad_fsync);
    /* The library still works. */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = file;
    cb.aio_buf = buf;
    cb.aio_nbytes = 4096;
    outcome("fds/read_after", aio_read(&cb), &cb);
    return 0;
}

/* POSIX aio_fsync(): one line per clause (see conform.h). */
#include "conform.h"

int main(void) {
    watchdog(60);
    /* The first AIO call, on a descriptor just closed. */
    int gone = open("/dev/null", O_RDONLY);
    close(gone);
    struct aiocb first;
    memset(&first, 0, sizeof first);
    first.aio_fildes = gone;
    outcome("aio_fsync/error/EBADF_just_closed_first_call", aio_fsync(O_SYNC, &first), &first);
    int fd = data_file(4096);
    char buf[64];
    memset(buf, 'S', sizeof buf);
    struct aiocb cb;

    /* O_SYNC and O_DSYNC are accepted; the op completes with 0. */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    outcome("aio_fsync/O_SYNC", aio_fsync(O_SYNC, &cb), &cb);
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    outcome("aio_fsync/O_DSYNC", aio_fsync(O_DSYNC, &cb), &cb);

    /* "All other members of the structure are ignored." */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_reqprio = 12345;
    cb.aio_buf = (void *)0x1;
    cb.aio_nbytes = (size_t)-1;
    cb.aio_offset = -7;
    cb.aio_lio_opcode = 999;
    outcome("aio_fsync/other_members_ignored", aio_fsync(O_SYNC, &cb), &cb);

    /* Completes after the writes queued before it. */
    struct aiocb w;
    memset(&w, 0, sizeof w);
    w.aio_fildes = fd;
    w.aio_buf = buf;
    w.aio_nbytes = sizeof buf;
    w.aio_offset = 100;
    int wr = aio_write(&w);
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    int fr = aio_fsync(O_SYNC, &cb);
    int fst = settle(&cb);
    int wst = aio_error(&w);
    SAY("aio_fsync/after_queued_writes", "write=%d fsync=%d fsync_status=%s write_status_then=%s",
        wr, fr, en(fst), en(wst));
    settle(&w);
    aio_return(&w);
    aio_return(&cb);

    /* ERRORS, EINVAL: op is neither O_SYNC nor O_DSYNC. */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    outcome("aio_fsync/error/EINVAL_op", aio_fsync(0x12345, &cb), &cb);

    /* ERRORS, EBADF: not a valid descriptor. */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = -1;
    outcome("aio_fsync/error/EBADF_invalid_fd", aio_fsync(O_SYNC, &cb), &cb);
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = 1000;
    outcome("aio_fsync/error/EBADF_closed_fd", aio_fsync(O_DSYNC, &cb), &cb);

    /* A pipe cannot be synced: fsync(2)'s EINVAL, from aio_error. */
    int p[2];
    if (pipe(p) != 0)
        return 2;
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = p[1];
    outcome("aio_fsync/pipe", aio_fsync(O_SYNC, &cb), &cb);

    /* "All currently queued I/O operations": also writes queued while
     * O_APPEND was set, after the program cleared it with fcntl. */
    {
        enum { N = 64, SZ = 256 << 10 };
        char path[] = "/tmp/aio-conform-app-XXXXXX";
        int afd = mkstemp(path);
        unlink(path);
        fcntl(afd, F_SETFL, O_APPEND);
        static struct aiocb w[N];
        static char blk[SZ];
        memset(blk, 'x', sizeof blk);
        int queued = 0;
        for (int i = 0; i < N; i++) {
            memset(&w[i], 0, sizeof w[i]);
            w[i].aio_fildes = afd;
            w[i].aio_buf = blk;
            w[i].aio_nbytes = SZ;
            if (aio_write(&w[i]) == 0)
                queued++;
        }
        fcntl(afd, F_SETFL, 0);
        memset(&cb, 0, sizeof cb);
        cb.aio_fildes = afd;
        int rc = aio_fsync(O_SYNC, &cb);
        int st = rc == 0 ? settle(&cb) : errno;
        int pending = 0;
        for (int i = 0; i < N; i++)
            pending += aio_error(&w[i]) == EINPROGRESS;
        SAY("aio_fsync/after_appends_flag_cleared", "queued=%d call=%d status=%s writes_in_progress=%d",
            queued, rc, en(st), pending);
        for (int i = 0; i < N; i++) {
            settle(&w[i]);
            aio_return(&w[i]);
        }
        close(afd);
    }
    return 0;
}

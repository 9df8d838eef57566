/* POSIX aio_write(): one line per clause (see conform.h). */
#include "conform.h"

int main(void) {
    watchdog(60);
    int fd = data_file(0);
    char buf[256], back[256];
    memset(buf, 'W', sizeof buf);
    struct aiocb cb;

    /* DESCRIPTION: writes aio_nbytes from aio_buf at aio_offset. */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = 100;
    cb.aio_offset = 1000;
    outcome("aio_write/writes_nbytes_at_offset", aio_write(&cb), &cb);
    SAY("aio_write/data_at_offset", "%s",
        pread(fd, back, 100, 1000) == 100 && memcmp(back, buf, 100) == 0 ? "ok" : "wrong");
    struct stat st;
    fstat(fd, &st);
    SAY("aio_write/file_size", "%lld", (long long)st.st_size);

    /* "aio_lio_opcode shall be ignored by aio_write()". */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = 10;
    cb.aio_lio_opcode = LIO_READ;
    outcome("aio_write/lio_opcode_ignored", aio_write(&cb), &cb);

    /* O_APPEND: "write operations append to the end of the file in the
     * same order as the calls were made", whatever aio_offset says. */
    char path[] = "/tmp/aio-conform-app-XXXXXX";
    int afd0 = mkstemp(path);
    int afd = open(path, O_WRONLY | O_APPEND);
    int rfd = open(path, O_RDONLY);
    unlink(path);
    close(afd0);
    struct aiocb w[4];
    char rec[4][8];
    for (int i = 0; i < 4; i++) {
        memset(rec[i], '0' + i, 8);
        memset(&w[i], 0, sizeof w[i]);
        w[i].aio_fildes = afd;
        w[i].aio_buf = rec[i];
        w[i].aio_nbytes = 8;
        w[i].aio_offset = 0;
        if (aio_write(&w[i]) != 0)
            SAY("aio_write/append_in_order", "call failed %s", en(errno));
    }
    for (int i = 0; i < 4; i++)
        settle(&w[i]);
    char all[32] = {0};
    int ok = pread(rfd, all, 32, 0) == 32;
    for (int i = 0; ok && i < 32; i++)
        ok = all[i] == '0' + i / 8;
    SAY("aio_write/append_in_order", "%s", ok ? "ok" : "wrong");

    /* Zero length: write(fd, buf, 0) returns 0. */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    outcome("aio_write/zero_length", aio_write(&cb), &cb);

    /* ERRORS, EBADF: invalid, closed, or not open for writing. */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = -1;
    cb.aio_buf = buf;
    cb.aio_nbytes = 10;
    outcome("aio_write/error/EBADF_invalid_fd", aio_write(&cb), &cb);
    int ro = open("/dev/null", O_RDONLY);
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = ro;
    cb.aio_buf = buf;
    cb.aio_nbytes = 10;
    outcome("aio_write/error/EBADF_read_only", aio_write(&cb), &cb);
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = ro;
    cb.aio_buf = buf;
    outcome("aio_write/error/EBADF_read_only_zero_length", aio_write(&cb), &cb);

    /* ERRORS, EINVAL: offset, reqprio. */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = 10;
    cb.aio_offset = -1;
    outcome("aio_write/error/EINVAL_negative_offset", aio_write(&cb), &cb);
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = 10;
    cb.aio_reqprio = -1;
    outcome("aio_write/error/EINVAL_reqprio", aio_write(&cb), &cb);
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = 10;
    cb.aio_offset = (off_t)0x7ffffffffffffff0LL;
    outcome("aio_write/error/offset_past_off_max", aio_write(&cb), &cb);

    /* A NULL buffer with a length: the kernel's EFAULT. */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_nbytes = 10;
    outcome("aio_write/null_buffer", aio_write(&cb), &cb);

    /* A pipe: the whole buffer is written (write(2) on a blocking pipe). */
    int p[2];
    if (pipe(p) != 0)
        return 2;
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = p[1];
    cb.aio_buf = buf;
    cb.aio_nbytes = 200;
    outcome("aio_write/pipe", aio_write(&cb), &cb);
    SAY("aio_write/pipe_data", "%s", read(p[0], back, 200) == 200 && !memcmp(back, buf, 200) ? "ok" : "wrong");
    return 0;
}

/* Fault: a real ENOSPC. On a file system of 1 MiB (a tmpfs the test mounts),
 * NOPS writes of 64 KiB (2 MiB in all, more than fits) are in flight at
 * once, then an aio_fsync. Every op completes exactly once: a write either
 * wrote (all, or a short count) or failed with ENOSPC, and at least one
 * failed; what the successful writes report is what reads back.
 * Prints "enospc: ops N, lost 0, duplicated 0, corrupted 0, enospc E,
 * short S, bytes B" and exits 1 on any failure.
 * usage: enospc DIR    (preloaded or linked) */
#include "util.h"

#define NOPS 32
#define CHUNK (64 * 1024)

int main(int argc, char **argv) {
    CHECK(argc == 2);
    watchdog(60);
    char path[4096];
    snprintf(path, sizeof path, "%s/fill.dat", argv[1]);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    static unsigned char buf[NOPS][CHUNK], back[CHUNK];
    static struct aiocb cb[NOPS];
    for (int i = 0; i < NOPS; i++) {
        memset(buf[i], 'a' + i % 26, CHUNK);
        fill_cb(&cb[i], fd, buf[i], CHUNK, (off_t)i * CHUNK);
        CHECK(aio_write(&cb[i]) == 0);
    }
    long ops = 0, lost = 0, dup = 0, corrupted = 0, enospc = 0, shorts = 0, bytes = 0;
    ssize_t got[NOPS];
    for (int i = 0; i < NOPS; i++) {
        int e = wait_done(&cb[i], 20);
        if (e == -2) {
            lost++;
            continue;
        }
        ops++;
        got[i] = aio_return(&cb[i]);
        errno = 0;
        if (aio_return(&cb[i]) != -1 || errno != EINVAL)
            dup++;
        if (e == ENOSPC && got[i] == -1) {
            enospc++;
        } else if (e == 0 && got[i] >= 0 && got[i] <= CHUNK) {
            shorts += got[i] < CHUNK;
            bytes += got[i];
        } else {
            fprintf(stderr, "enospc: write %d: error %d return %zd\n", i, e, got[i]);
            corrupted++;
            got[i] = -1;
        }
    }
    struct aiocb fs;
    fill_cb(&fs, fd, NULL, 0, 0);
    CHECK(aio_fsync(O_SYNC, &fs) == 0);
    int e = wait_done(&fs, 20);
    if (e == -2) {
        lost++;
    } else {
        ops++;
        ssize_t r = aio_return(&fs);
        if (!((e == 0 && r == 0) || (e == ENOSPC && r == -1)))
            corrupted++;
    }
    /* What was reported written reads back. */
    for (int i = 0; i < NOPS && lost == 0; i++) {
        if (got[i] <= 0)
            continue;
        CHECK_EQ(pread(fd, back, (size_t)got[i], (off_t)i * CHUNK), got[i]);
        if (memcmp(back, buf[i], (size_t)got[i]))
            corrupted++;
    }
    close(fd);
    unlink(path);
    printf("enospc: ops %ld, lost %ld, duplicated %ld, corrupted %ld, enospc %ld, short %ld, "
           "bytes %ld\n", ops, lost, dup, corrupted, enospc, shorts, bytes);
    return lost == 0 && dup == 0 && corrupted == 0 && enospc > 0 && bytes <= 1024 * 1024 ? 0 : 1;
}

/* Streams that block, next to files that do not, clause by clause:
 *
 * - A pty master (which has no RWF_NOWAIT and cannot be reopened) gets
 *   write(2)'s and read(2)'s answers: a blocking write larger than the
 *   pty's buffer completes with its full count once the slave side reads
 *   it all, a read waits for data and returns what arrived. While either
 *   waits, file reads, writes and fsyncs complete.
 * - A pty master closed and its number reused for a new master: ops on
 *   the number go to the new pty, and the old slave sees the hangup as
 *   soon as the old master is closed.
 * - A socket's SO_RCVTIMEO/SO_SNDTIMEO end a waiting read (EAGAIN) or
 *   write (the count sent), as recv(2)/send(2) do.
 * - A negative aio_offset on a pipe is EINVAL (pread(2)'s check comes
 *   before ESPIPE); on an O_APPEND file a write ignores it (write(2)).
 * - A read waiting on a socket and a write to the same socket (a table
 *   row: glibc runs one op per descriptor at a time).
 * - Out of descriptors (RLIMIT_NOFILE reached by the program's own
 *   descriptors): a read waiting on an empty pipe does not keep file
 *   reads from completing, however many there are, and a blocking pipe
 *   write larger than the pipe completes with its full count.
 *
 * Written as users write C: zero-filled aiocbs, only the needed fields.
 * Every wait has a time limit; the watchdog ends a hung program. */
#include "conform.h"
#include <sys/resource.h>
#include <termios.h>

#define BIG (256 * 1024)

static char wbuf[BIG], rbuf[BIG];

/* Waits at most `ms` for the op to settle; its aio_error. */
static int settle_ms(const struct aiocb *cb, int ms) {
    const struct aiocb *l[1] = {cb};
    for (int i = 0; i < ms / 10; i++) {
        int e = aio_error(cb);
        if (e != EINPROGRESS)
            return e;
        struct timespec ts = {0, 10 * 1000 * 1000};
        aio_suspend(l, 1, &ts);
    }
    return aio_error(cb);
}

/* `n` file reads at once, then each settled: "ok" if all gave 512
 * bytes within the time limit. */
static const char *file_reads(int fd, int n) {
    static struct aiocb cbs[16];
    static char bufs[16][512];
    for (int i = 0; i < n; i++) {
        memset(&cbs[i], 0, sizeof cbs[i]);
        cbs[i].aio_fildes = fd;
        cbs[i].aio_buf = bufs[i];
        cbs[i].aio_nbytes = 512;
        cbs[i].aio_offset = (off_t)i * 4096;
        if (aio_read(&cbs[i]) != 0)
            return "submit-failed";
    }
    const char *r = "ok";
    for (int i = 0; i < n; i++) {
        int e = settle_ms(&cbs[i], 5000);
        if (e == EINPROGRESS)
            r = "stalled";
        else if (aio_return(&cbs[i]) != 512)
            r = "wrong";
    }
    return r;
}

/* A file write and an fsync after it: "ok" if both completed. */
static const char *file_write_fsync1(int fd) {
    struct aiocb w, s;
    memset(&w, 0, sizeof w);
    w.aio_fildes = fd;
    w.aio_buf = wbuf;
    w.aio_nbytes = 4096;
    w.aio_offset = 1 << 20;
    if (aio_write(&w) != 0)
        return "submit-failed";
    int e = settle_ms(&w, 5000);
    if (e == EINPROGRESS)
        return "write-stalled";
    if (aio_return(&w) != 4096)
        return "write-wrong";
    memset(&s, 0, sizeof s);
    s.aio_fildes = fd;
    if (aio_fsync(O_SYNC, &s) != 0)
        return "fsync-submit-failed";
    e = settle_ms(&s, 5000);
    if (e == EINPROGRESS)
        return "fsync-stalled";
    return aio_return(&s) == 0 ? "ok" : "fsync-wrong";
}

/* More files than there are pools, so that one of them shares its pool
 * with the stream (writes are spread by file). */
#define NFILES 6
static int files[NFILES];

/* file_write_fsync1 on each file: "ok" if all completed. */
static const char *file_write_fsync(int fd) {
    (void)fd;
    for (int i = 0; i < NFILES; i++) {
        const char *r = file_write_fsync1(files[i]);
        if (strcmp(r, "ok"))
            return r;
    }
    return "ok";
}

/* Reads `n` bytes from `fd` with read(2), within about 10 s. */
static ssize_t drain(int fd, char *into, size_t n) {
    size_t got = 0;
    for (int i = 0; i < 2000 && got < n; i++) {
        ssize_t r = read(fd, into + got, n - got);
        if (r > 0)
            got += (size_t)r;
        else if (r < 0 && errno != EAGAIN && errno != EINTR)
            break;
        else if (r <= 0) {
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    return (ssize_t)got;
}

/* A raw-mode pty: master in *m, slave returned (non-blocking). */
static int pty(int *m) {
    *m = posix_openpt(O_RDWR | O_NOCTTY);
    if (*m < 0 || grantpt(*m) != 0 || unlockpt(*m) != 0)
        exit(2);
    int s = open(ptsname(*m), O_RDWR | O_NOCTTY);
    if (s < 0)
        exit(2);
    struct termios t;
    tcgetattr(s, &t);
    cfmakeraw(&t);
    tcsetattr(s, TCSANOW, &t);
    fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK);
    return s;
}

static void ptys(int file) {
    int m;
    /* The slave side reads non-blocking, so drain() polls. */
    int s = pty(&m);

    /* A write larger than the pty holds: in progress until the slave
     * reads, then its full count. */
    struct aiocb w;
    memset(&w, 0, sizeof w);
    w.aio_fildes = m;
    w.aio_buf = wbuf;
    w.aio_nbytes = BIG;
    int call = aio_write(&w);
    SAY("stream/pty_master_big_write_waits", "call=%d status=%s", call, en(settle_ms(&w, 300)));
    SAY("stream/pty_file_io_beside_blocked_write", "%s %s", file_reads(file, 8), file_write_fsync(file));
    ssize_t got = drain(s, rbuf, BIG);
    int st = settle_ms(&w, 10000);
    ssize_t ret = st == EINPROGRESS ? -2 : aio_return(&w);
    SAY("stream/pty_master_big_write", "status=%s return=%zd drained=%zd data=%s", en(st), ret, got,
        got == BIG && !memcmp(rbuf, wbuf, BIG) ? "ok" : "wrong");

    /* A read of the master with nothing written: waits; file I/O runs;
     * then what the slave writes. */
    struct aiocb r;
    memset(&r, 0, sizeof r);
    r.aio_fildes = m;
    r.aio_buf = rbuf;
    r.aio_nbytes = 100;
    call = aio_read(&r);
    SAY("stream/pty_master_read_waits", "call=%d status=%s", call, en(settle_ms(&r, 300)));
    SAY("stream/pty_file_io_beside_waiting_read", "%s %s", file_reads(file, 8), file_write_fsync(file));
    if (write(s, "hello", 5) != 5)
        exit(2);
    st = settle_ms(&r, 10000);
    ret = st == EINPROGRESS ? -2 : aio_return(&r);
    SAY("stream/pty_master_read", "status=%s return=%zd data=%s", en(st), ret,
        ret == 5 && !memcmp(rbuf, "hello", 5) ? "ok" : "wrong");

    /* Two reads waiting on the master: the second (queued) is cancelled,
     * the first (its transfer under way) is not; it gets the data. */
    struct aiocb r1, r2;
    static char b1[100], b2[100];
    memset(&r1, 0, sizeof r1);
    memset(&r2, 0, sizeof r2);
    r1.aio_fildes = r2.aio_fildes = m;
    r1.aio_buf = b1;
    r2.aio_buf = b2;
    r1.aio_nbytes = r2.aio_nbytes = 100;
    int c1 = aio_read(&r1), c2 = aio_read(&r2);
    settle_ms(&r1, 200);
    int k2 = aio_cancel(m, &r2), k1 = aio_cancel(m, &r1);
    SAY("stream/pty_master_cancel_reads", "calls=%d,%d cancel_second=%s cancel_first=%s second=%s", c1, c2,
        k2 == AIO_CANCELED ? "AIO_CANCELED" : k2 == AIO_NOTCANCELED ? "AIO_NOTCANCELED" : "other",
        k1 == AIO_CANCELED ? "AIO_CANCELED" : k1 == AIO_NOTCANCELED ? "AIO_NOTCANCELED" : "other",
        en(settle_ms(&r2, 1000)));
    if (write(s, "world", 5) != 5)
        exit(2);
    st = settle_ms(&r1, 10000);
    SAY("stream/pty_master_read_after_cancel", "status=%s return=%zd", en(st),
        st == EINPROGRESS ? -2 : aio_return(&r1));
    if (st != 0)
        (void)aio_return(&r2);

    /* Two writes in a row: both whole, in order. */
    struct aiocb a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(wbuf, 'A', 3000);
    memset(wbuf + 3000, 'B', 3000);
    a.aio_fildes = b.aio_fildes = m;
    a.aio_buf = wbuf;
    b.aio_buf = wbuf + 3000;
    a.aio_nbytes = b.aio_nbytes = 3000;
    int ca = aio_write(&a), cb2 = aio_write(&b);
    got = drain(s, rbuf, 6000);
    int sa = settle_ms(&a, 10000), sb = settle_ms(&b, 10000);
    SAY("stream/pty_master_two_writes", "calls=%d,%d status=%s,%s returns=%zd,%zd order=%s", ca, cb2, en(sa), en(sb),
        sa == EINPROGRESS ? -2 : aio_return(&a), sb == EINPROGRESS ? -2 : aio_return(&b),
        got == 6000 && !memcmp(rbuf, wbuf, 6000) ? "ok" : "wrong");
    close(s);
    close(m);
}


static void reuse_and_timeouts(void) {
    /* A master used, closed, its number reused by a new master. */
    int ma, mb;
    int sa = pty(&ma);
    struct aiocb w;
    memset(&w, 0, sizeof w);
    w.aio_fildes = ma;
    w.aio_buf = "AAAA";
    w.aio_nbytes = 4;
    outcome("stream/pty_reuse_first_write", aio_write(&w), &w);
    char got[16];
    ssize_t n = drain(sa, got, 4);
    close(ma);
    int sb = pty(&mb);
    SAY("stream/pty_reuse_same_number", "%s", ma == mb ? "yes" : "no");
    /* The old slave: hung up at once (read gives 0 or EIO, never data). */
    n = read(sa, got, sizeof got);
    SAY("stream/pty_old_slave_after_close", "%s", n > 0 ? "data" : n == 0 || errno == EIO ? "hangup" : en(errno));
    memset(&w, 0, sizeof w);
    w.aio_fildes = mb;
    w.aio_buf = "BBBB";
    w.aio_nbytes = 4;
    outcome("stream/pty_reuse_second_write", aio_write(&w), &w);
    n = drain(sb, got, 4);
    SAY("stream/pty_reuse_new_slave_got", "%zd %s", n, n == 4 && !memcmp(got, "BBBB", 4) ? "BBBB" : "wrong");
    if (write(sb, "from-B", 6) != 6)
        exit(2);
    struct aiocb r;
    memset(&r, 0, sizeof r);
    r.aio_fildes = mb;
    r.aio_buf = rbuf;
    r.aio_nbytes = 100;
    int c = aio_read(&r);
    int st = settle_ms(&r, 10000);
    ssize_t ret = st == EINPROGRESS ? -2 : aio_return(&r);
    SAY("stream/pty_reuse_read", "call=%d status=%s return=%zd data=%s", c, en(st), ret,
        ret == 6 && !memcmp(rbuf, "from-B", 6) ? "from-B" : "wrong");
    close(sa);
    close(sb);
    close(mb);

    /* Socket time-outs. */
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        exit(2);
    struct timeval tv = {0, 200 * 1000};
    setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    memset(&r, 0, sizeof r);
    r.aio_fildes = sv[0];
    r.aio_buf = rbuf;
    r.aio_nbytes = 100;
    c = aio_read(&r);
    st = settle_ms(&r, 5000);
    SAY("stream/socket_rcvtimeo_read", "call=%d status=%s return=%zd", c, en(st), st == EINPROGRESS ? -2 : aio_return(&r));
    setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    memset(&w, 0, sizeof w);
    w.aio_fildes = sv[0];
    w.aio_buf = wbuf;
    w.aio_nbytes = BIG;
    c = aio_write(&w);
    st = settle_ms(&w, 5000);
    ret = st == EINPROGRESS ? -2 : aio_return(&w);
    SAY("stream/socket_sndtimeo_write", "call=%d status=%s short=%s", c, en(st), ret > 0 && ret < BIG ? "yes" : "no");
    close(sv[0]);
    close(sv[1]);

    /* A read waiting on a socket, then a write to it. */
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        exit(2);
    memset(&r, 0, sizeof r);
    r.aio_fildes = sv[0];
    r.aio_buf = rbuf;
    r.aio_nbytes = 100;
    int cr = aio_read(&r);
    memset(&w, 0, sizeof w);
    w.aio_fildes = sv[0];
    w.aio_buf = "ping";
    w.aio_nbytes = 4;
    int cw = aio_write(&w);
    SAY("stream/socket_write_beside_waiting_read", "calls=%d,%d write=%s", cr, cw, en(settle_ms(&w, 500)));
    if (write(sv[1], "pong", 4) != 4)
        exit(2);
    st = settle_ms(&r, 10000);
    SAY("stream/socket_read_after_peer", "status=%s return=%zd", en(st), st == EINPROGRESS ? -2 : aio_return(&r));
    st = settle_ms(&w, 10000);
    SAY("stream/socket_write_after_peer", "status=%s return=%zd", en(st), st == EINPROGRESS ? -2 : aio_return(&w));
    close(sv[0]);
    close(sv[1]);

    /* Negative offsets. */
    int p[2];
    if (pipe(p) != 0)
        exit(2);
    if (write(p[1], "xy", 2) != 2)
        exit(2);
    memset(&r, 0, sizeof r);
    r.aio_fildes = p[0];
    r.aio_buf = rbuf;
    r.aio_nbytes = 2;
    r.aio_offset = -1;
    outcome("stream/pipe_read_negative_offset", aio_read(&r), &r);
    memset(&w, 0, sizeof w);
    w.aio_fildes = p[1];
    w.aio_buf = "z";
    w.aio_nbytes = 1;
    w.aio_offset = -5;
    outcome("stream/pipe_write_negative_offset", aio_write(&w), &w);
    close(p[0]);
    close(p[1]);
    int af = data_file(100);
    fcntl(af, F_SETFL, O_APPEND);
    memset(&w, 0, sizeof w);
    w.aio_fildes = af;
    w.aio_buf = "tail";
    w.aio_nbytes = 4;
    w.aio_offset = -7;
    outcome("stream/append_file_write_negative_offset", aio_write(&w), &w);
    struct stat sb2;
    fstat(af, &sb2);
    SAY("stream/append_file_size", "%lld", (long long)sb2.st_size);
    close(af);
}

static void out_of_descriptors(int file) {
    int p[2];
    if (pipe(p) != 0)
        exit(2);
    /* More idle pipes than the library has threads for blocking calls. */
    int idle[8][2];
    for (int i = 0; i < 8; i++)
        if (pipe(idle[i]) != 0)
            exit(2);
    struct rlimit old, lim;
    getrlimit(RLIMIT_NOFILE, &old);
    lim = old;
    lim.rlim_cur = 64;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
        perror("setrlimit");
        exit(2);
    }
    /* Take every descriptor left. */
    int taken[64], nt = 0;
    for (;;) {
        int d = dup(0);
        if (d < 0)
            break;
        if (nt < 64)
            taken[nt++] = d;
    }
    SAY("stream/emfile_setup", "%s", errno == EMFILE ? "EMFILE" : en(errno));

    /* Reads of eight empty pipes wait; file reads still complete. */
    static struct aiocb ir[8];
    static char ibuf[8][16];
    int icalls = 0;
    for (int i = 0; i < 8; i++) {
        memset(&ir[i], 0, sizeof ir[i]);
        ir[i].aio_fildes = idle[i][0];
        ir[i].aio_buf = ibuf[i];
        ir[i].aio_nbytes = 16;
        icalls |= aio_read(&ir[i]);
    }
    SAY("stream/emfile_idle_pipe_reads_wait", "calls=%d status=%s", icalls, en(settle_ms(&ir[7], 200)));

    /* One more read of an empty pipe: waits; 16 file reads complete. */
    struct aiocb r;
    memset(&r, 0, sizeof r);
    r.aio_fildes = p[0];
    r.aio_buf = rbuf;
    r.aio_nbytes = 100;
    int call = aio_read(&r);
    SAY("stream/emfile_pipe_read_waits", "call=%d status=%s", call, en(settle_ms(&r, 300)));
    SAY("stream/emfile_file_reads_beside_waiting_read", "%s", file_reads(file, 16));
    if (write(p[1], "abc", 3) != 3)
        exit(2);
    int st = settle_ms(&r, 10000);
    ssize_t ret = st == EINPROGRESS ? -2 : aio_return(&r);
    SAY("stream/emfile_pipe_read", "status=%s return=%zd", en(st), ret);

    /* A blocking write larger than the pipe: its full count once read. */
    struct aiocb w;
    memset(&w, 0, sizeof w);
    for (int i = 0; i < BIG; i++)
        wbuf[i] = (char)(i * 7);
    w.aio_fildes = p[1];
    w.aio_buf = wbuf;
    w.aio_nbytes = BIG;
    call = aio_write(&w);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    ssize_t got = drain(p[0], rbuf, BIG);
    st = settle_ms(&w, 10000);
    ret = st == EINPROGRESS ? -2 : aio_return(&w);
    SAY("stream/emfile_pipe_big_write", "call=%d status=%s return=%zd drained=%zd data=%s", call, en(st), ret,
        got, got == BIG && !memcmp(rbuf, wbuf, BIG) ? "ok" : "wrong");

    int iok = 0;
    for (int i = 0; i < 8; i++)
        if (write(idle[i][1], "x", 1) == 1 && settle_ms(&ir[i], 10000) == 0 && aio_return(&ir[i]) == 1)
            iok++;
    SAY("stream/emfile_idle_pipe_reads", "%d of 8 read their byte", iok);
    for (int i = 0; i < nt; i++)
        close(taken[i]);
    setrlimit(RLIMIT_NOFILE, &old);
    close(p[0]);
    close(p[1]);
}

int main(void) {
    watchdog(120);
    int file = data_file(1 << 20);
    for (int i = 0; i < NFILES; i++)
        files[i] = data_file(8192);
    /* The library's first call, before any limit is reached. */
    struct aiocb first;
    memset(&first, 0, sizeof first);
    first.aio_fildes = file;
    first.aio_buf = rbuf;
    first.aio_nbytes = 10;
    outcome("stream/first_read", aio_read(&first), &first);
    ptys(file);
    reuse_and_timeouts();
    out_of_descriptors(file);
    return 0;
}

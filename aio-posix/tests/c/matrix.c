/* One cell of the fd kind x notification matrix:
 *   matrix KIND NOTIFY
 *   KIND   = file | pipe | fifo | socket | pty
 *   NOTIFY = poll | suspend | signal | thread
 * On a stream the read is queued first, before any data exists, and the
 * write second: the waiting read must not hold up the write (a socket has
 * one descriptor for both directions). Built against glibc's headers only
 * and run under LD_PRELOAD. */
#include "check.h"

static const char payload[] = "matrix-payload-0123456789";
static atomic_int thread_hits;
/* The aiocbs whose notification arrived (signals and threads may arrive
 * in any order: a stream's read completes when the write does). */
static atomic_uintptr_t notified[8];

static void note(void *cb) {
    for (int i = 0; i < 8; i++) {
        uintptr_t z = 0;
        if (atomic_compare_exchange_strong(&notified[i], &z, (uintptr_t)cb))
            return;
    }
    CHECK(!"too many notifications");
}

static int was_notified(void *cb) {
    for (int i = 0; i < 8; i++)
        if (atomic_load(&notified[i]) == (uintptr_t)cb)
            return 1;
    return 0;
}

static void on_thread(union sigval v) {
    atomic_fetch_add(&thread_hits, 1);
    /* The notification is sent after the status is stored. */
    CHECK(aio_error(v.sival_ptr) != EINPROGRESS);
    note(v.sival_ptr);
}

static void set_notify(struct aiocb *cb, const char *how) {
    if (!strcmp(how, "signal")) {
        cb->aio_sigevent.sigev_notify = SIGEV_SIGNAL;
        cb->aio_sigevent.sigev_signo = SIGRTMIN + 1;
        cb->aio_sigevent.sigev_value.sival_ptr = cb;
    } else if (!strcmp(how, "thread")) {
        cb->aio_sigevent.sigev_notify = SIGEV_THREAD;
        cb->aio_sigevent.sigev_notify_function = on_thread;
        cb->aio_sigevent.sigev_notify_attributes = NULL;
        cb->aio_sigevent.sigev_value.sival_ptr = cb;
    }
}

/* Waits for `cb` the way `how` says and returns its aio_error. */
static int wait_for(struct aiocb *cb, const char *how) {
    if (!strcmp(how, "poll"))
        return poll_done(cb);
    if (!strcmp(how, "suspend")) {
        const struct aiocb *list[3] = {NULL, cb, NULL};
        while (aio_error(cb) == EINPROGRESS) {
            int r = aio_suspend(list, 3, NULL);
            CHECK(r == 0 || errno == EINTR);
        }
        return aio_error(cb);
    }
    if (!strcmp(how, "signal")) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGRTMIN + 1);
        while (!was_notified(cb)) {
            siginfo_t si;
            int s = sigwaitinfo(&set, &si);
            CHECK_EQ(s, SIGRTMIN + 1);
            CHECK_EQ(si.si_code, SI_ASYNCIO);
            CHECK_EQ(si.si_pid, getpid());
            /* The signal is sent after the status is stored. */
            CHECK(aio_error(si.si_value.sival_ptr) != EINPROGRESS);
            note(si.si_value.sival_ptr);
        }
        return aio_error(cb);
    }
    /* thread */
    while (!was_notified(cb))
        usleep(100);
    return aio_error(cb);
}

static void make_fds(const char *kind, int *rfd, int *wfd) {
    if (!strcmp(kind, "file")) {
        *rfd = *wfd = temp_file();
    } else if (!strcmp(kind, "pipe")) {
        int p[2];
        CHECK(pipe(p) == 0);
        *rfd = p[0];
        *wfd = p[1];
    } else if (!strcmp(kind, "fifo")) {
        char path[64];
        snprintf(path, sizeof path, "/tmp/aio-posix-fifo-%d", getpid());
        unlink(path);
        CHECK(mkfifo(path, 0600) == 0);
        *rfd = open(path, O_RDONLY | O_NONBLOCK);
        CHECK(*rfd >= 0);
        *wfd = open(path, O_WRONLY);
        CHECK(*wfd >= 0);
        CHECK(fcntl(*rfd, F_SETFL, 0) == 0); /* blocking again */
        unlink(path);
    } else if (!strcmp(kind, "socket")) {
        int sv[2];
        CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
        /* One descriptor for both directions: read and write on sv[0],
         * the peer echoes nothing; data is written from sv[0] to sv[1]
         * and read on sv[0] after the peer sends it. */
        *rfd = sv[0];
        *wfd = sv[1];
    } else if (!strcmp(kind, "pty")) {
        int m = posix_openpt(O_RDWR | O_NOCTTY);
        CHECK(m >= 0);
        CHECK(grantpt(m) == 0 && unlockpt(m) == 0);
        int s = open(ptsname(m), O_RDWR | O_NOCTTY);
        CHECK(s >= 0);
        struct termios t;
        CHECK(tcgetattr(s, &t) == 0);
        cfmakeraw(&t);
        CHECK(tcsetattr(s, TCSANOW, &t) == 0);
        *rfd = s;
        *wfd = m;
    } else {
        CHECK(!"unknown kind");
    }
}

int main(int argc, char **argv) {
    CHECK(argc == 3);
    const char *kind = argv[1], *how = argv[2];
    watchdog(20);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN + 1);
    CHECK(pthread_sigmask(SIG_BLOCK, &set, NULL) == 0);

    int rfd, wfd;
    make_fds(kind, &rfd, &wfd);
    int stream = strcmp(kind, "file") != 0;
    size_t n = sizeof payload - 1;
    char in[64] = {0};
    char out[64];
    memcpy(out, payload, n);
    struct aiocb rd, wr;
    fill_cb(&rd, rfd, in, n, 0);
    fill_cb(&wr, wfd, out, n, 0);
    set_notify(&rd, how);
    set_notify(&wr, how);

    if (stream) {
        CHECK(aio_read(&rd) == 0);
        usleep(20000);
        CHECK_EQ(aio_error(&rd), EINPROGRESS); /* no data yet */
        if (!strcmp(kind, "socket")) {
            /* A write on the SAME descriptor as the waiting read. */
            struct aiocb wr2;
            char ping[] = "ping";
            char got[8] = {0};
            fill_cb(&wr2, rfd, ping, 4, 0);
            set_notify(&wr2, how);
            CHECK(aio_write(&wr2) == 0);
            CHECK_EQ(wait_for(&wr2, how), 0);
            CHECK_EQ(aio_return(&wr2), 4);
            CHECK_EQ(read(wfd, got, 4), 4);
            CHECK(!memcmp(got, "ping", 4));
            CHECK_EQ(aio_error(&rd), EINPROGRESS);
        }
        CHECK(aio_write(&wr) == 0);
        CHECK_EQ(wait_for(&wr, how), 0);
        CHECK_EQ(aio_return(&wr), (long long)n);
        CHECK_EQ(wait_for(&rd, how), 0);
        CHECK_EQ(aio_return(&rd), (long long)n);
    } else {
        CHECK(aio_write(&wr) == 0);
        CHECK_EQ(wait_for(&wr, how), 0);
        CHECK_EQ(aio_return(&wr), (long long)n);
        CHECK(aio_read(&rd) == 0);
        CHECK_EQ(wait_for(&rd, how), 0);
        CHECK_EQ(aio_return(&rd), (long long)n);
    }
    CHECK(!memcmp(in, payload, n));
    /* The result was handed out once. */
    CHECK_EQ(aio_return(&rd), -1);
    CHECK_EQ(errno, EINVAL);
    if (!strcmp(how, "thread"))
        CHECK(atomic_load(&thread_hits) >= 2);
    printf("matrix %s %s ok\n", kind, how);
    return 0;
}

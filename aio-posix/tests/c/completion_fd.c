/* The completion descriptor (aio_posix_completion_fd, our extension; see
 * aio-posix/README.md, "The completion descriptor"): it polls readable
 * whenever a completed op waits to be reaped, and not after a drain that
 * left nothing; an epoll loop that waits on it and a pipe together reaps
 * every op exactly once; a fork child gets its own; a thread with a
 * cancellation pending completes an inline read that arms it. Linked with
 * -laio_posix.
 *
 *   completion_fd    -> every clause, prints "completion_fd ok" */
#include "check.h"
#include "aio_posix.h"
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/epoll.h>

#define N 200
#define BS 4096

static int readable(int fd, int ms) {
    struct pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, ms);
    CHECK(r >= 0);
    return r == 1 && (p.revents & POLLIN);
}

/* Reaps with a zero timeout until nothing is left; returns how many. */
static int drain(struct aiocb *base, int n, int *seen) {
    int got_n = 0;
    for (;;) {
        struct aiocb *got = NULL;
        struct timespec z = {0, 0};
        ssize_t r = aio_waitcomplete(&got, &z);
        if (r == -1 && (errno == EINPROGRESS || errno == EAGAIN)) {
            CHECK(got == NULL);
            return got_n;
        }
        CHECK(r >= 0);
        if (base) {
            CHECK(got >= base && got < base + n);
            seen[got - base]++;
        }
        got_n++;
    }
}

static int cancel_f;
static atomic_int cancel_go;
static volatile int cancel_call = -7, cancel_status = -7;
static char cancel_buf[BS];

/* Submits a page-cache read with a cancellation already pending, polls it
 * (aio_error and sched_yield are no cancellation points), then reaches
 * one. */
static void *cancel_body(void *a) {
    (void)a;
    while (!atomic_load(&cancel_go))
        sched_yield();
    struct aiocb cb;
    fill_cb(&cb, cancel_f, cancel_buf, 100, 0);
    cancel_call = aio_read(&cb);
    if (cancel_call == 0) {
        int e;
        while ((e = aio_error(&cb)) == EINPROGRESS)
            sched_yield();
        cancel_status = e;
    }
    pthread_testcancel();
    return NULL;
}

int main(void) {
    watchdog(60);
    int fd = aio_posix_completion_fd();
    CHECK(fd >= 0);
    CHECK_EQ(aio_posix_completion_fd(), fd); /* the same one every time */
    CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
    CHECK(!readable(fd, 0));
    printf("descriptor: close-on-exec, non-blocking, quiet\n");

    /* One read: readable after it completes; quiet after the drain. */
    int f = temp_file();
    static char data[BS];
    memset(data, 'd', sizeof data);
    CHECK_EQ(pwrite(f, data, sizeof data, 0), (ssize_t)sizeof data);
    struct aiocb cb;
    char buf[BS];
    fill_cb(&cb, f, buf, sizeof buf, 0);
    CHECK_EQ(aio_read(&cb), 0);
    CHECK(readable(fd, 10000));
    struct aiocb *got = NULL;
    struct timespec z = {0, 0};
    CHECK_EQ(aio_waitcomplete(&got, &z), BS);
    CHECK(got == &cb);
    CHECK_EQ(aio_waitcomplete(&got, &z), -1);
    CHECK_EQ(errno, EAGAIN);
    CHECK(!readable(fd, 0));
    printf("one op: readable, then quiet after the drain\n");

    /* An op that waits (empty pipe): not readable until it completes. */
    int p[2];
    CHECK(pipe(p) == 0);
    struct aiocb pr;
    char pb[4];
    fill_cb(&pr, p[0], pb, sizeof pb, 0);
    CHECK_EQ(aio_read(&pr), 0);
    CHECK(!readable(fd, 100));
    CHECK_EQ(aio_waitcomplete(&got, &z), -1);
    CHECK_EQ(errno, EINPROGRESS);
    CHECK_EQ(write(p[1], "ab", 2), 2);
    CHECK(readable(fd, 10000));
    CHECK_EQ(aio_waitcomplete(&got, &z), 2);
    CHECK(got == &pr);
    printf("waiting op: quiet until it completes\n");

    /* An epoll loop over the descriptor and a pipe: N reads, each reaped
     * once, while a byte on the pipe is served too. */
    int ep = epoll_create1(EPOLL_CLOEXEC);
    CHECK(ep >= 0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0);
    ev.data.fd = p[0];
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0);
    static struct aiocb cbs[N];
    static char bufs[N][512];
    int seen[N] = {0};
    for (int i = 0; i < N; i++) {
        fill_cb(&cbs[i], f, bufs[i], sizeof bufs[i], (off_t)(i % 8) * 512);
        CHECK_EQ(aio_read(&cbs[i]), 0);
    }
    CHECK_EQ(write(p[1], "z", 1), 1);
    int reaped = 0, piped = 0;
    while (reaped < N || !piped) {
        struct epoll_event out[4];
        int n = epoll_wait(ep, out, 4, 10000);
        CHECK(n > 0);
        for (int i = 0; i < n; i++) {
            if (out[i].data.fd == fd) {
                reaped += drain(cbs, N, seen);
            } else {
                char c;
                CHECK_EQ(read(p[0], &c, 1), 1);
                piped = 1;
            }
        }
    }
    CHECK_EQ(reaped, N);
    for (int i = 0; i < N; i++)
        CHECK_EQ(seen[i], 1);
    printf("epoll loop: %d ops reaped once each beside a pipe\n", N);

    /* fork: the child's copy of the parent's descriptor is closed; the
     * child gets one of its own, which works. */
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
            _exit(2);
        int cfd = aio_posix_completion_fd();
        if (cfd < 0)
            _exit(3);
        struct aiocb c2;
        char b2[BS];
        fill_cb(&c2, f, b2, sizeof b2, 0);
        if (aio_read(&c2) != 0)
            _exit(4);
        if (!readable(cfd, 10000))
            _exit(5);
        struct aiocb *g = NULL;
        struct timespec zz = {0, 0};
        if (aio_waitcomplete(&g, &zz) != BS || g != &c2)
            _exit(6);
        _exit(0);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
    CHECK(!readable(fd, 0)); /* the child's op is not the parent's */
    printf("fork: the child has its own descriptor\n");

    /* A thread with a cancellation pending reads a cached page: the read
     * finishes inside aio_read, which arms the descriptor, and aio_read
     * is no cancellation point (the arming write must not be one). */
    CHECK(!readable(fd, 0));
    pthread_t t;
    cancel_f = f;
    CHECK_EQ(pthread_create(&t, NULL, cancel_body, NULL), 0);
    pthread_cancel(t);
    atomic_store(&cancel_go, 1);
    void *res = NULL;
    CHECK_EQ(pthread_join(t, &res), 0);
    CHECK(res == PTHREAD_CANCELED);
    CHECK_EQ(cancel_call, 0);
    CHECK_EQ(cancel_status, 0);
    CHECK(readable(fd, 10000));
    CHECK_EQ(drain(NULL, 0, NULL), 1);
    printf("pending cancellation: the inline read completed and armed the descriptor\n");

    CHECK(aio_posix_calls("aio_posix_completion_fd") >= 2);
    printf("completion_fd ok\n");
    return 0;
}

/* The C boundary under legal but hostile use. Linked with -laio_posix or
 * run on glibc (tests/c_abi.rs runs both).
 *   signal   aio_error, aio_return and aio_suspend called from a signal
 *            handler as the process's very first AIO calls, then from
 *            handlers that interrupt submissions under load
 *   cancel   pthread_cancel of threads sleeping in aio_suspend with a zero,
 *            an expired, a short and no timeout
 *   fork     a child keeps none of the library's descriptors (checked in
 *            a grandchild too) and may resubmit an aiocb that was in
 *            flight in its parent */
#include "check.h"
#include <dirent.h>

static struct aiocb sig_cb;
static char sig_buf[8];
static atomic_int sig_calls, sig_bad;

static void on_usr1(int s) {
    (void)s;
    int saved = errno;
    int e = aio_error(&sig_cb);
    if (e == 0 || e == EINPROGRESS) {
        const struct aiocb *l[1] = {&sig_cb};
        struct timespec zero = {0, 0};
        int r = aio_suspend(l, 1, &zero);
        if (r != 0 && errno != EAGAIN && errno != EINTR)
            atomic_fetch_add(&sig_bad, 1);
    } else if (e != -1 && e != ECANCELED) {
        atomic_fetch_add(&sig_bad, 1);
    }
    atomic_fetch_add(&sig_calls, 1);
    errno = saved;
}

static void *signaller(void *arg) {
    pthread_t t = *(pthread_t *)arg;
    for (int i = 0; i < 2000; i++) {
        pthread_kill(t, SIGUSR1);
        usleep(50);
    }
    return NULL;
}

static void test_signal(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
    /* The first AIO calls of the process, from a handler. */
    memset(&sig_cb, 0, sizeof sig_cb);
    raise(SIGUSR1);
    CHECK_EQ(atomic_load(&sig_calls), 1);
    /* Under load: a thread keeps interrupting this one while it submits
     * and the handler inspects the op in flight. */
    int fd = temp_file();
    CHECK_EQ(pwrite(fd, "abcdefgh", 8, 0), 8);
    pthread_t self = pthread_self(), t;
    CHECK(pthread_create(&t, NULL, signaller, &self) == 0);
    for (int i = 0; i < 3000; i++) {
        fill_cb(&sig_cb, fd, sig_buf, 8, 0);
        int r;
        while ((r = aio_read(&sig_cb)) != 0 && errno == EINTR)
            ;
        CHECK_EQ(r, 0);
        int e;
        while ((e = aio_error(&sig_cb)) == EINPROGRESS) {
            const struct aiocb *l[1] = {&sig_cb};
            aio_suspend(l, 1, NULL); /* EINTR is fine */
        }
        CHECK_EQ(e, 0);
        CHECK_EQ(aio_return(&sig_cb), 8);
    }
    pthread_join(t, NULL);
    CHECK_EQ(atomic_load(&sig_bad), 0);
    printf("signal ok (%d handler calls)\n", atomic_load(&sig_calls));
}

struct sleeper {
    const struct aiocb *l[1];
    int kind; /* 0 zero, 1 expired, 2 short, 3 none */
    atomic_int looping;
};

static void *sleeper(void *arg) {
    struct sleeper *s = arg;
    for (;;) {
        atomic_store(&s->looping, 1);
        struct timespec ts = {0, 0};
        if (s->kind == 1)
            ts.tv_nsec = 1; /* expires before the sleep */
        if (s->kind == 2)
            ts.tv_nsec = 2 * 1000 * 1000;
        aio_suspend(s->l, 1, s->kind == 3 ? NULL : &ts);
    }
    return NULL;
}

static void test_cancel(void) {
    int p[2];
    CHECK(pipe(p) == 0);
    struct aiocb cb;
    char b[4];
    fill_cb(&cb, p[0], b, 4, 0);
    CHECK_EQ(aio_read(&cb), 0); /* never completes while we cancel */
    for (int round = 0; round < 20; round++) {
        struct sleeper s = {{&cb}, round % 4, 0};
        pthread_t t;
        CHECK(pthread_create(&t, NULL, sleeper, &s) == 0);
        while (!atomic_load(&s.looping))
            usleep(100);
        usleep(1000 * (round % 3));
        CHECK_EQ(pthread_cancel(t), 0);
        void *ret;
        CHECK_EQ(pthread_join(t, &ret), 0);
        CHECK(ret == PTHREAD_CANCELED);
    }
    CHECK_EQ(write(p[1], "done", 4), 4);
    CHECK_EQ(poll_done(&cb), 0);
    printf("cancel ok\n");
}

/* Descriptors that are io_uring instances or eventfds. */
static int library_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    CHECK(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[300], link[256];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t k = readlink(path, link, sizeof link - 1);
        if (k <= 0)
            continue;
        link[k] = 0;
        if (strstr(link, "io_uring") || strstr(link, "eventfd"))
            n++;
    }
    closedir(d);
    return n;
}

static void test_fork(void) {
    int fd = temp_file();
    CHECK_EQ(pwrite(fd, "forkdata", 8, 0), 8);
    int p[2];
    CHECK(pipe(p) == 0);
    struct aiocb cb;
    char b[8];
    fill_cb(&cb, p[0], b, 8, 0);
    CHECK_EQ(aio_read(&cb), 0); /* in flight across the fork */
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        watchdog(30);
        CHECK_EQ(library_fds(), 0);
        /* The parent's op is not in flight here: the aiocb may be used. */
        fill_cb(&cb, fd, b, 8, 0);
        CHECK_EQ(aio_read(&cb), 0);
        CHECK_EQ(poll_done(&cb), 0);
        CHECK_EQ(aio_return(&cb), 8);
        CHECK(!memcmp(b, "forkdata", 8));
        pid_t g = fork();
        CHECK(g >= 0);
        if (g == 0) {
            CHECK_EQ(library_fds(), 0);
            fill_cb(&cb, fd, b, 4, 4);
            CHECK_EQ(aio_read(&cb), 0);
            CHECK_EQ(poll_done(&cb), 0);
            _exit(0);
        }
        int st;
        CHECK_EQ(waitpid(g, &st, 0), g);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        _exit(0);
    }
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_EQ(write(p[1], "parent!!", 8), 8);
    CHECK_EQ(poll_done(&cb), 0);
    CHECK_EQ(aio_return(&cb), 8);
    printf("fork ok\n");
}

int main(int argc, char **argv) {
    watchdog(120);
    const char *what = argc > 1 ? argv[1] : "all";
    int all = !strcmp(what, "all");
    if (all || !strcmp(what, "signal"))
        test_signal();
    if (all || !strcmp(what, "cancel"))
        test_cancel();
    if (all || !strcmp(what, "fork"))
        test_fork();
    printf("boundary ok\n");
    return 0;
}

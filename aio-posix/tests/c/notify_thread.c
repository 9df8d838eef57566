/* SIGEV_THREAD as POSIX defines it: the function runs "as if it were the
 * start routine of a new thread". Linked with -laio_posix; the same
 * program passes on glibc (tests/c_abi.rs runs it both ways).
 *   deep     a function that uses 3 MiB of stack (glibc's default stack)
 *   exit     functions that call pthread_exit; later ones still run
 *   cancel   functions that cancel themselves
 *   attr     sigev_notify_attributes honoured (a 16 MiB stack)
 *   block    six functions that wait for each other all finish
 *   backlog  1M completions: each function runs exactly once, and the
 *            backlog of accepted-but-not-started functions stays bounded */
#include "check.h"

static int data_fd;

static void submit_thread_read(struct aiocb *cb, char *buf, void (*fn)(union sigval), void *arg,
                               pthread_attr_t *attr) {
    memset(cb, 0, sizeof *cb);
    cb->aio_fildes = data_fd;
    cb->aio_buf = buf;
    cb->aio_nbytes = 1;
    cb->aio_sigevent.sigev_notify = SIGEV_THREAD;
    cb->aio_sigevent.sigev_notify_function = fn;
    cb->aio_sigevent.sigev_value.sival_ptr = arg;
    cb->aio_sigevent.sigev_notify_attributes = attr;
    int r;
    while ((r = aio_read(cb)) != 0 && errno == EAGAIN)
        usleep(100);
    CHECK_EQ(r, 0);
}

static atomic_int ran;

static void wait_ran(int n) {
    for (int i = 0; i < 20000 && atomic_load(&ran) < n; i++)
        usleep(500);
    CHECK_EQ(atomic_load(&ran), n);
}

/* deep: 3 MiB of stack, touched. */
static void deep(union sigval v) {
    (void)v;
    volatile char big[3 << 20];
    for (size_t i = 0; i < sizeof big; i += 4096)
        big[i] = (char)i;
    atomic_fetch_add(&ran, 1);
}

/* exit: pthread_exit from the function. */
static void exiting(union sigval v) {
    (void)v;
    atomic_fetch_add(&ran, 1);
    pthread_exit(NULL);
}

/* cancel: cancels itself, acted on at a cancellation point. */
static void self_cancel(union sigval v) {
    (void)v;
    atomic_fetch_add(&ran, 1);
    pthread_cancel(pthread_self());
    pthread_testcancel();
    abort(); /* not reached */
}

/* attr: the stack is at least what the attributes asked for. */
static atomic_long attr_stack;
static void check_attr(union sigval v) {
    (void)v;
    pthread_attr_t a;
    size_t sz = 0;
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
        pthread_attr_getstacksize(&a, &sz);
        pthread_attr_destroy(&a);
    }
    atomic_store(&attr_stack, (long)sz);
    atomic_fetch_add(&ran, 1);
}

/* block: six functions meet at a barrier. */
static pthread_barrier_t barrier;
static void meet(union sigval v) {
    (void)v;
    pthread_barrier_wait(&barrier);
    atomic_fetch_add(&ran, 1);
}

/* backlog */
#define NB (1 << 20)
static atomic_uchar *hits;
static atomic_long started;
static void backlog_fn(union sigval v) {
    atomic_fetch_add(&hits[(long)v.sival_ptr], 1);
    atomic_fetch_add(&started, 1);
}

int main(int argc, char **argv) {
    watchdog(240);
    const char *what = argc > 1 ? argv[1] : "all";
    int all = !strcmp(what, "all");
    data_fd = temp_file();
    CHECK_EQ(pwrite(data_fd, "0123456789", 10, 0), 10);
    static char bufs[16][4];
    struct aiocb cbs[16];

    if (all || !strcmp(what, "deep")) {
        atomic_store(&ran, 0);
        for (int i = 0; i < 4; i++)
            submit_thread_read(&cbs[i], bufs[i], deep, NULL, NULL);
        wait_ran(4);
        printf("deep ok\n");
    }
    if (all || !strcmp(what, "exit")) {
        atomic_store(&ran, 0);
        for (int i = 0; i < 8; i++)
            submit_thread_read(&cbs[i], bufs[i], exiting, NULL, NULL);
        wait_ran(8);
        for (int i = 0; i < 8; i++)
            CHECK_EQ(poll_done(&cbs[i]), 0);
        printf("exit ok\n");
    }
    if (all || !strcmp(what, "cancel")) {
        atomic_store(&ran, 0);
        for (int i = 0; i < 8; i++)
            submit_thread_read(&cbs[i], bufs[i], self_cancel, NULL, NULL);
        wait_ran(8);
        printf("cancel ok\n");
    }
    if (all || !strcmp(what, "attr")) {
        atomic_store(&ran, 0);
        pthread_attr_t a;
        CHECK_EQ(pthread_attr_init(&a), 0);
        CHECK_EQ(pthread_attr_setstacksize(&a, 16 << 20), 0);
        CHECK_EQ(pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED), 0);
        submit_thread_read(&cbs[0], bufs[0], check_attr, NULL, &a);
        wait_ran(1);
        CHECK(atomic_load(&attr_stack) >= (16 << 20));
        pthread_attr_destroy(&a);
        printf("attr ok\n");
    }
    if (all || !strcmp(what, "block")) {
        atomic_store(&ran, 0);
        CHECK_EQ(pthread_barrier_init(&barrier, NULL, 6), 0);
        for (int i = 0; i < 6; i++)
            submit_thread_read(&cbs[i], bufs[i], meet, NULL, NULL);
        wait_ran(6);
        printf("block ok\n");
    }
    if (all || !strcmp(what, "backlog")) {
        /* Not self-limited: the program submits as fast as it can and
         * retries EAGAIN; the library must bound what waits. */
        hits = calloc(NB, 1);
        struct aiocb *cb = calloc(NB, sizeof *cb);
        char *b = calloc(NB, 1);
        CHECK(hits && cb && b);
        long eagain = 0, peak = 0;
        for (long i = 0; i < NB; i++) {
            cb[i].aio_fildes = data_fd;
            cb[i].aio_buf = b + i;
            cb[i].aio_nbytes = 1;
            cb[i].aio_sigevent.sigev_notify = SIGEV_THREAD;
            cb[i].aio_sigevent.sigev_notify_function = backlog_fn;
            cb[i].aio_sigevent.sigev_value.sival_ptr = (void *)i;
            while (aio_read(&cb[i]) != 0) {
                CHECK_EQ(errno, EAGAIN);
                eagain++;
                usleep(50);
            }
            long waiting = i + 1 - atomic_load(&started);
            if (waiting > peak)
                peak = waiting;
        }
        for (int i = 0; i < 120000 && atomic_load(&started) < NB; i++)
            usleep(1000);
        CHECK_EQ(atomic_load(&started), NB);
        for (long i = 0; i < NB; i++)
            CHECK_EQ(atomic_load(&hits[i]), 1);
        usleep(10000);
        for (long i = 0; i < NB; i += 4096)
            CHECK_EQ(atomic_load(&hits[i]), 1); /* never twice */
        /* The figure: how many functions waited to start at worst. */
        printf("backlog: %d completions, %ld EAGAIN retries, peak %ld waiting\n", NB, eagain, peak);
        printf("backlog ok\n");
    }
    printf("notify_thread ok\n");
    return 0;
}

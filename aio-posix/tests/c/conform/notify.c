/* Notifications, clause by clause, beside glibc:
 *
 * - A SIGEV_THREAD function runs with no signal blocked (glibc's
 *   notification threads empty their mask), even when the submitting
 *   thread blocks some: a signal it raises reaches its handler.
 * - SIGEV_THREAD_ID (Linux's, as timer_create takes it): glibc's AIO
 *   ignores it and sends nothing; this library signals the thread named
 *   (a table row).
 * - A function that ends its thread (pthread_exit) does not use up the
 *   threads that run the later ones: 100 such functions all run.
 *
 * Written as users write C: zero-filled aiocbs, only the needed fields. */
#include "conform.h"
#include <sys/syscall.h>

static atomic_int mask_blocked = -1, handler_runs, exits_done, tid_signals;
static atomic_long tid_value;

static void on_usr1(int s) {
    (void)s;
    atomic_fetch_add(&handler_runs, 1);
}

static void fn_mask(union sigval v) {
    (void)v;
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    int n = 0;
    for (int s = 1; s < 32; s++)
        n += sigismember(&cur, s) == 1;
    atomic_store(&mask_blocked, n);
    raise(SIGUSR1);
}

static void fn_exit(union sigval v) {
    (void)v;
    atomic_fetch_add(&exits_done, 1);
    pthread_exit(NULL);
}

static void on_rt(int s, siginfo_t *si, void *u) {
    (void)s;
    (void)u;
    atomic_fetch_add(&tid_signals, 1);
    atomic_store(&tid_value, (long)si->si_value.sival_int);
}

static void read_with(int fd, struct sigevent *sev, struct aiocb *cb, char *buf) {
    memset(cb, 0, sizeof *cb);
    cb->aio_fildes = fd;
    cb->aio_buf = buf;
    cb->aio_nbytes = 16;
    cb->aio_sigevent = *sev;
}

int main(void) {
    watchdog(60);
    int fd = data_file(1 << 16);
    static char buf[128][16];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);

    /* The submitting thread blocks SIGUSR1 and SIGUSR2. */
    sigset_t blk, old;
    sigemptyset(&blk);
    sigaddset(&blk, SIGUSR1);
    sigaddset(&blk, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &blk, &old);
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD;
    sev.sigev_notify_function = fn_mask;
    struct aiocb cb;
    read_with(fd, &sev, &cb, buf[0]);
    int c = aio_read(&cb);
    int st = settle(&cb);
    for (int i = 0; i < 500 && atomic_load(&handler_runs) == 0; i++)
        usleep(10 * 1000);
    SAY("notify/sigev_thread_mask", "call=%d status=%s blocked=%d handler_runs=%d", c, en(st),
        atomic_load(&mask_blocked), atomic_load(&handler_runs));
    aio_return(&cb);
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    /* 100 functions that end their threads. */
    static struct aiocb many[100];
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD;
    sev.sigev_notify_function = fn_exit;
    int calls = 0;
    for (int i = 0; i < 100; i++) {
        read_with(fd, &sev, &many[i], buf[i % 128]);
        calls |= aio_read(&many[i]);
        settle(&many[i]);
        aio_return(&many[i]);
    }
    for (int i = 0; i < 500 && atomic_load(&exits_done) < 100; i++)
        usleep(10 * 1000);
    SAY("notify/sigev_thread_pthread_exit_100", "calls=%d ran=%d", calls, atomic_load(&exits_done));

    /* SIGEV_THREAD_ID naming this thread. */
    struct sigaction rt;
    memset(&rt, 0, sizeof rt);
    rt.sa_sigaction = on_rt;
    rt.sa_flags = SA_SIGINFO;
    sigaction(SIGRTMIN + 3, &rt, NULL);
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = SIGRTMIN + 3;
    sev.sigev_value.sival_int = 77;
    sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
    read_with(fd, &sev, &cb, buf[0]);
    c = aio_read(&cb);
    st = settle(&cb);
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
    SAY("notify/sigev_thread_id", "call=%d status=%s signals=%d value=%ld", c, en(st), atomic_load(&tid_signals),
        atomic_load(&tid_value));
    aio_return(&cb);
    return 0;
}

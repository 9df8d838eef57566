/* SIGEV_THREAD notifications run on a bounded set of threads (run with
 * AIO_POSIX_NOTIFY_THREADS=2), every one of them runs once, after its op's
 * status is stored, with no signal blocked (glibc's notification threads
 * empty their mask before calling the function).
 * Linked with -laio_posix. */
#include "check.h"
#include "aio_posix.h"

#define N 200
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_t seen[N];
static int nseen;
static atomic_int calls;
static struct aiocb cbs[N];

static void on_done(union sigval v) {
    struct aiocb *cb = v.sival_ptr;
    CHECK(cb >= cbs && cb < cbs + N);
    CHECK_EQ(aio_error(cb), 0);
    sigset_t cur;
    CHECK(pthread_sigmask(SIG_BLOCK, NULL, &cur) == 0);
    CHECK(!sigismember(&cur, SIGRTMIN) && !sigismember(&cur, SIGUSR1));
    pthread_t me = pthread_self();
    pthread_mutex_lock(&mu);
    int known = 0;
    for (int i = 0; i < nseen; i++)
        known |= pthread_equal(seen[i], me);
    if (!known)
        seen[nseen++] = me;
    pthread_mutex_unlock(&mu);
    atomic_fetch_add(&calls, 1);
}

int main(void) {
    watchdog(30);
    int fd = temp_file();
    static char buf[N][512];
    for (int i = 0; i < N; i++) {
        fill_cb(&cbs[i], fd, buf[i], sizeof buf[i], (off_t)i * 512);
        cbs[i].aio_sigevent.sigev_notify = SIGEV_THREAD;
        cbs[i].aio_sigevent.sigev_notify_function = on_done;
        cbs[i].aio_sigevent.sigev_value.sival_ptr = &cbs[i];
        CHECK(aio_write(&cbs[i]) == 0);
    }
    while (atomic_load(&calls) < N)
        usleep(1000);
    usleep(20000);
    CHECK_EQ(atomic_load(&calls), N); /* once each */
    pthread_mutex_lock(&mu);
    CHECK(nseen >= 1 && nseen <= 2);
    pthread_mutex_unlock(&mu);
    printf("sigev_thread ok (%d threads)\n", nseen);
    return 0;
}

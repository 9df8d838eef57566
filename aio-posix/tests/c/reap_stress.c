/* Exactly-once under concurrency (aio_waitcomplete, issue 17): 4 submitter
 * threads mix aio_read, aio_write, aio_fsync, aio_readv and one-entry
 * lio_listio on one file; 3 threads reap with aio_waitcomplete (MODE 0:
 * zero, 1 ms and NULL timeouts; 1: 1 ms; 2: NULL) and NRET threads (2)
 * take results with aio_error/aio_return from the same aiocbs. Every take
 * must find the op in flight (never twice), with its expected result;
 * nothing may be left untaken; at the end a NULL-timeout aio_waitcomplete
 * says EAGAIN at once. Exit 0 ok, 1 a rule broken, 3 stuck (the state of
 * the stuck aiocbs is printed). Written by a hostile-test helper on
 * 2026-12-03. Linked with -laio_posix.
 *
 *   reap_stress [MODE [NRET]]     -> "submitted N taken N failures 0 ..." */
#include "check.h"
#include "aio_posix.h"
#include <sys/uio.h>
#include <poll.h>
/* Submitters each own K cbs; reapers use aio_waitcomplete; returners poll aio_error+aio_return.
 * Every take does exchange(state, 0) which must find 1 (in flight). Result checked vs expected. */
#define NS 4
#define K 16
#define NR 2
#define NRET 2
#define ITERS 3000
static int fd;
static struct aiocb cbs[NS][K];
static struct iovec iovs[NS][K][2];
static char bufs[NS][K][256];
static _Atomic int state[NS][K];
static pthread_mutex_t lk[NS][K];
static long expect[NS][K];
static int kinds[NS][K];
static _Atomic long submitted, taken, failures, wrong;
static _Atomic int stop;
static volatile int stage;
static void onalrm(int sig){(void)sig; char b[200]; int n=snprintf(b,sizeof b,"ALARM stage %d submitted %ld taken %ld\n",stage,(long)submitted,(long)taken); write(2,b,n); _exit(142);}
static int find(struct aiocb *cb, int *s, int *k) {
    for (int i = 0; i < NS; i++) for (int j = 0; j < K; j++) if (&cbs[i][j] == cb) { *s = i; *k = j; return 1; }
    return 0;
}
static void took(int s, int k, ssize_t r, int err, const char *who) {
    long ex = expect[s][k];
    if (r != ex) { fprintf(stderr, "WRONG result by %s cb %d/%d r=%zd err=%d expect %ld state %d\n", who, s, k, r, err, ex, state[s][k]); atomic_fetch_add(&wrong, 1); }
    int old = atomic_exchange(&state[s][k], 0);
    if (old != 1) { fprintf(stderr, "DOUBLE TAKE by %s cb %d/%d state %d\n", who, s, k, old); atomic_fetch_add(&failures, 1); }
    atomic_fetch_add(&taken, 1);
}
static void *submitter(void *a) {
    int s = (int)(long)a; unsigned seed = s * 7 + 1;
    long mine = 0;
    while (mine < ITERS) {
        for (int k = 0; k < K; k++) {
            if (atomic_load(&state[s][k]) != 0) { sched_yield(); continue; }
            struct aiocb *cb = &cbs[s][k];
            pthread_mutex_lock(&lk[s][k]);
            memset(cb, 0, sizeof *cb);
            cb->aio_fildes = fd;
            int kind = rand_r(&seed) % 5;
            size_t n = 1 + rand_r(&seed) % 200;
            cb->aio_offset = rand_r(&seed) % 1000;
            int rc; kinds[s][k] = kind;
            atomic_store(&state[s][k], 1);
            if (kind == 0) { expect[s][k] = n; cb->aio_buf = bufs[s][k]; cb->aio_nbytes = n; rc = aio_read(cb); }
            else if (kind == 1) { expect[s][k] = n; cb->aio_buf = bufs[s][k]; cb->aio_nbytes = n; cb->aio_offset += 4096; rc = aio_write(cb); }
            else if (kind == 2) { expect[s][k] = 0; rc = aio_fsync(O_DSYNC, cb); }
            else if (kind == 3) { iovs[s][k][0].iov_base = bufs[s][k]; iovs[s][k][0].iov_len = n/2; iovs[s][k][1].iov_base = bufs[s][k]+128; iovs[s][k][1].iov_len = n - n/2;
                expect[s][k] = n; cb->aio_iov = (void*)iovs[s][k]; cb->aio_iovcnt = 2; rc = aio_readv(cb); }
            else { expect[s][k] = n; cb->aio_buf = bufs[s][k]; cb->aio_nbytes = n; cb->aio_lio_opcode = LIO_READ; struct aiocb *l[1] = {cb}; rc = lio_listio(LIO_NOWAIT, l, 1, NULL); }
            if (rc != 0) { static _Atomic int nf; if (nf++ < 3) fprintf(stderr, "submit kind %d failed errno %d\n", kind, errno); atomic_store(&state[s][k], 0); pthread_mutex_unlock(&lk[s][k]); if (errno != EAGAIN) atomic_fetch_add(&failures, 1); continue; }
            pthread_mutex_unlock(&lk[s][k]);
            atomic_fetch_add(&submitted, 1); mine++;
        }
    }
    return NULL;
}
static _Atomic int incall[8];
static _Atomic long reaped_by[8];
static void *reaper(void *a) {
    long mode = (long)a; static _Atomic int nid; int id = nid++;
    for (;;) {
        struct aiocb *cb = (void*)1;
        struct timespec ts = {0, mode ? 1000000 : 0};
        errno = 0;
        incall[id] = 1;
        ssize_t r = aio_waitcomplete(&cb, mode == 2 ? NULL : &ts);
        int e = errno; incall[id] = 0; if (cb) reaped_by[id]++;
        if (cb == NULL) {
            if (r != -1) { fprintf(stderr, "cb NULL r=%zd\n", r); atomic_fetch_add(&failures,1); }
            if (e == EAGAIN || e == EINPROGRESS) { if (atomic_load(&stop)) return NULL; if (e == EAGAIN && mode == 2) sched_yield(); continue; }
            fprintf(stderr, "reaper unexpected errno %d\n", e); atomic_fetch_add(&failures,1); continue;
        }
        int s, k;
        if (!find(cb, &s, &k)) { fprintf(stderr, "unknown cb %p\n", (void*)cb); atomic_fetch_add(&failures,1); continue; }
        took(s, k, r, e, "reaper");
    }
}
static void *returner(void *a) {
    (void)a;
    while (!atomic_load(&stop)) {
        for (int s = 0; s < NS; s++) for (int k = 0; k < K; k++) {
            if (atomic_load(&state[s][k]) != 1) continue;
            pthread_mutex_lock(&lk[s][k]);
            if (atomic_load(&state[s][k]) != 1) { pthread_mutex_unlock(&lk[s][k]); continue; }
            int e = aio_error(&cbs[s][k]);
            if (e == EINPROGRESS) { pthread_mutex_unlock(&lk[s][k]); continue; }
            errno = 0;
            ssize_t r = aio_return(&cbs[s][k]);
            int e2 = errno;
            if (r == -1 && e2 == EINVAL) { pthread_mutex_unlock(&lk[s][k]); continue; }
            took(s, k, r, e2, "returner");
            pthread_mutex_unlock(&lk[s][k]);
        }
    }
    return NULL;
}
int main(int argc, char **argv) {
    signal(SIGALRM, onalrm); alarm(30);
    for (int i=0;i<NS;i++) for(int j=0;j<K;j++) pthread_mutex_init(&lk[i][j],0);
    char path[] = "/tmp/stressXXXXXX"; fd = mkstemp(path); unlink(path);
    char z[8192]; memset(z, 'x', sizeof z); CHECK(write(fd, z, sizeof z) == sizeof z);
    int nrep = argc > 1 ? atoi(argv[1]) : 0; /* 0: mixed */
    pthread_t ts[NS], tr[NR+1], tt[NRET];
    for (long i = 0; i < NS; i++) pthread_create(&ts[i], 0, submitter, (void*)i);
    for (long i = 0; i < NR + 1; i++) pthread_create(&tr[i], 0, reaper, (void*)(nrep ? (long)nrep : i));
    int nret = argc > 2 ? atoi(argv[2]) : NRET;
    for (long i = 0; i < nret; i++) pthread_create(&tt[i], 0, returner, 0);
    for (int i = 0; i < NS; i++) pthread_join(ts[i], 0);
    /* wait for all taken */
    { double t0 = now_s(); while (atomic_load(&taken) < atomic_load(&submitted)) { usleep(1000); if (now_s() - t0 > 8) {
        fprintf(stderr, "STUCK submitted %ld taken %ld\n", (long)submitted, (long)taken);
        for (int s = 0; s < NS; s++) for (int k = 0; k < K; k++) if (state[s][k]) { unsigned *w = (unsigned *)cbs[s][k].__glibc_reserved; fprintf(stderr, "  cb %d/%d kind %d expect %ld aio_error %d ret %zd tag %x slot %u gen %u inst %u\n", s, k, kinds[s][k], expect[s][k], aio_error(&cbs[s][k]), cbs[s][k].__return_value, w[0], w[1], w[2], w[3]); }
        for (int i = 0; i < 3; i++) fprintf(stderr, "  reaper %d incall %d reaped %ld\n", i, incall[i], reaped_by[i]);
        int fdc = aio_posix_completion_fd(); struct pollfd p = {fdc, POLLIN, 0}; fprintf(stderr, "  completion fd readable: %d\n", poll(&p,1,0));
        struct aiocb *c = 0; struct timespec z = {0,0}; errno=0; ssize_t r = aio_waitcomplete(&c, &z); fprintf(stderr, "  poll waitcomplete r=%zd errno=%d cb=%p\n", r, errno, (void*)c);
        for (int s = 0; s < NS; s++) for (int k = 0; k < K; k++) if (state[s][k]) { errno=0; ssize_t r2 = aio_return(&cbs[s][k]); fprintf(stderr, "  aio_return %d/%d = %zd errno %d\n", s,k,r2,errno); }
        _exit(3); } } }
    stage = 1; atomic_store(&stop, 1);
    for (int i = 0; i < NR + 1; i++) pthread_join(tr[i], 0);
    for (int i = 0; i < nret; i++) pthread_join(tt[i], 0);
    stage = 2; struct aiocb *cb = (void*)1; struct timespec zt = {0,0};
    errno = 0; ssize_t r = aio_waitcomplete(&cb, NULL);
    printf("submitted %ld taken %ld failures %ld wrong %ld final r=%zd errno=%d cb=%p\n", submitted, taken, failures, wrong, r, errno, (void*)cb);
    (void)zt;
    return (failures || wrong || taken != submitted || r != -1 || errno != EAGAIN || cb) ? 1 : 0;
}

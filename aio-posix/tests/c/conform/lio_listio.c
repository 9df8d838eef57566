/* POSIX lio_listio(): one line per clause (see conform.h). */
#include "conform.h"

static atomic_int list_calls;
static void on_list(union sigval v) {
    (void)v;
    atomic_fetch_add(&list_calls, 1);
}

static void entry(struct aiocb *cb, int fd, int op, void *buf, size_t n, off_t off) {
    memset(cb, 0, sizeof *cb);
    cb->aio_fildes = fd;
    cb->aio_lio_opcode = op;
    cb->aio_buf = buf;
    cb->aio_nbytes = n;
    cb->aio_offset = off;
}

int main(void) {
    watchdog(60);
    int fd = data_file(65536);
    static char bufs[64][512];
    struct aiocb cbs[64];
    struct aiocb *list[64];

    /* LIO_WAIT: returns once every op completed. */
    for (int i = 0; i < 4; i++) {
        entry(&cbs[i], fd, LIO_READ, bufs[i], 100, i * 100);
        list[i] = &cbs[i];
    }
    int r = lio_listio(LIO_WAIT, list, 4, NULL);
    int all = 1;
    for (int i = 0; i < 4; i++)
        all &= aio_error(&cbs[i]) == 0 && aio_return(&cbs[i]) == 100;
    SAY("lio_listio/LIO_WAIT_all_complete", "ret=%d all_done=%d", r, all);

    /* LIO_NOP and NULL entries are ignored. */
    entry(&cbs[0], fd, LIO_READ, bufs[0], 10, 0);
    entry(&cbs[1], fd, LIO_NOP, bufs[1], 10, 0);
    list[0] = &cbs[0];
    list[1] = &cbs[1];
    list[2] = NULL;
    r = lio_listio(LIO_WAIT, list, 3, NULL);
    SAY("lio_listio/LIO_NOP_and_NULL_ignored", "ret=%d status=%s", r, en(aio_error(&cbs[0])));
    aio_return(&cbs[0]);

    /* LIO_WRITE entries write. */
    char w[32];
    memset(w, 'L', sizeof w);
    entry(&cbs[0], fd, LIO_WRITE, w, 32, 60000);
    list[0] = &cbs[0];
    r = lio_listio(LIO_WAIT, list, 1, NULL);
    char back[32];
    SAY("lio_listio/LIO_WRITE", "ret=%d return=%zd data=%s", r, aio_return(&cbs[0]),
        pread(fd, back, 32, 60000) == 32 && !memcmp(back, w, 32) ? "ok" : "wrong");

    /* LIO_NOWAIT: returns; the list's SIGEV_THREAD runs once all done. */
    for (int i = 0; i < 8; i++) {
        entry(&cbs[i], fd, LIO_READ, bufs[i], 512, i * 512);
        list[i] = &cbs[i];
    }
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD;
    sev.sigev_notify_function = on_list;
    r = lio_listio(LIO_NOWAIT, list, 8, &sev);
    for (int i = 0; i < 1000 && atomic_load(&list_calls) == 0; i++)
        usleep(10 * 1000);
    all = 1;
    for (int i = 0; i < 8; i++)
        all &= settle(&cbs[i]) == 0 && aio_return(&cbs[i]) == 512;
    usleep(20 * 1000);
    SAY("lio_listio/LIO_NOWAIT_list_notification", "ret=%d calls=%d all_done=%d", r,
        atomic_load(&list_calls), all);

    /* LIO_NOWAIT with a zero sigevent (SIGEV_SIGNAL, signal 0). */
    entry(&cbs[0], fd, LIO_READ, bufs[0], 10, 0);
    list[0] = &cbs[0];
    memset(&sev, 0, sizeof sev);
    r = lio_listio(LIO_NOWAIT, list, 1, &sev);
    SAY("lio_listio/LIO_NOWAIT_zero_sigevent", "ret=%d status=%s", r, en(settle(&cbs[0])));
    aio_return(&cbs[0]);

    /* A list longer than any small limit (glibc: no limit). */
    for (int i = 0; i < 64; i++) {
        entry(&cbs[i], fd, LIO_READ, bufs[i], 512, i * 512);
        list[i] = &cbs[i];
    }
    r = lio_listio(LIO_WAIT, list, 64, NULL);
    all = 1;
    for (int i = 0; i < 64; i++)
        all &= aio_return(&cbs[i]) == 512;
    SAY("lio_listio/64_entries", "ret=%d all_done=%d", r, all);

    /* An empty list. */
    SAY("lio_listio/empty_list_LIO_WAIT", "%d", lio_listio(LIO_WAIT, list, 0, NULL));

    /* ERRORS, EINVAL: mode is not a proper value. */
    errno = 0;
    r = lio_listio(12345, list, 1, NULL);
    SAY("lio_listio/error/EINVAL_mode", "ret=%d errno=%s", r, en(errno));

    /* An entry with a bad descriptor: its own status is EBADF. */
    char b[16];
    entry(&cbs[0], -1, LIO_READ, b, 16, 0);
    entry(&cbs[1], fd, LIO_READ, bufs[1], 16, 0);
    list[0] = &cbs[0];
    list[1] = &cbs[1];
    r = lio_listio(LIO_NOWAIT, list, 2, NULL);
    int e0 = settle(&cbs[0]), e1 = settle(&cbs[1]);
    SAY("lio_listio/entry_EBADF_LIO_NOWAIT", "ret=%d entry0=%s entry1=%s", r, en(e0), en(e1));
    aio_return(&cbs[0]);
    aio_return(&cbs[1]);

    /* LIO_WAIT with an entry that fails: POSIX says -1 and EIO. */
    entry(&cbs[0], -1, LIO_READ, b, 16, 0);
    entry(&cbs[1], fd, LIO_READ, bufs[1], 16, 0);
    list[0] = &cbs[0];
    list[1] = &cbs[1];
    errno = 0;
    r = lio_listio(LIO_WAIT, list, 2, NULL);
    SAY("lio_listio/error/EIO_entry_failed_LIO_WAIT", "ret=%d errno=%s entry0=%s entry1=%s", r,
        en(r == -1 ? errno : 0), en(aio_error(&cbs[0])), en(aio_error(&cbs[1])));
    aio_return(&cbs[0]);
    aio_return(&cbs[1]);

    /* A negative nent. */
    errno = 0;
    r = lio_listio(LIO_WAIT, list, -1, NULL);
    SAY("lio_listio/nent_negative", "ret=%d errno=%s", r, en(r == -1 ? errno : 0));
    /* ... with LIO_NOWAIT and a list notification: none is sent (an
     * empty list's is, above). */
    {
        struct sigevent nsev;
        memset(&nsev, 0, sizeof nsev);
        nsev.sigev_notify = SIGEV_THREAD;
        nsev.sigev_notify_function = on_list;
        atomic_store(&list_calls, 0);
        errno = 0;
        r = lio_listio(LIO_NOWAIT, list, -1, &nsev);
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
        SAY("lio_listio/nent_negative_LIO_NOWAIT_notification", "ret=%d errno=%s calls=%d", r,
            en(r == -1 ? errno : 0), atomic_load(&list_calls));
        /* The same with a signal (blocked, then taken with sigtimedwait). */
        sigset_t rs, ors;
        sigemptyset(&rs);
        sigaddset(&rs, SIGRTMIN + 5);
        pthread_sigmask(SIG_BLOCK, &rs, &ors);
        memset(&nsev, 0, sizeof nsev);
        nsev.sigev_notify = SIGEV_SIGNAL;
        nsev.sigev_signo = SIGRTMIN + 5;
        r = lio_listio(LIO_NOWAIT, list, -1, &nsev);
        siginfo_t si;
        struct timespec wait = {0, 300 * 1000 * 1000};
        int got = sigtimedwait(&rs, &si, &wait) == SIGRTMIN + 5;
        pthread_sigmask(SIG_SETMASK, &ors, NULL);
        SAY("lio_listio/nent_negative_LIO_NOWAIT_signal", "ret=%d signal=%s", r, got ? "yes" : "no");
    }

    /* An entry with a bad opcode. */
    entry(&cbs[0], fd, 777, b, 16, 0);
    list[0] = &cbs[0];
    r = lio_listio(LIO_NOWAIT, list, 1, NULL);
    SAY("lio_listio/entry_bad_opcode_LIO_NOWAIT", "ret=%d entry=%s", r, en(settle(&cbs[0])));
    return 0;
}

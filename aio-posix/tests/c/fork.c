/* fork with an op in flight: the child gets a working library (fresh
 * pools and threads: its first aio_read completes, unlike glibc's), and
 * the parent's op still completes in the parent. Linked with -laio_posix. */
#include "check.h"
#include "aio_posix.h"

static void child(void) {
    watchdog(15);
    int fd = temp_file();
    char out[] = "child data", in[16] = {0};
    struct aiocb w, r;
    fill_cb(&w, fd, out, sizeof out, 0);
    CHECK(aio_write(&w) == 0);
    const struct aiocb *l[1] = {&w};
    while (aio_error(&w) == EINPROGRESS)
        CHECK(aio_suspend(l, 1, NULL) == 0 || errno == EINTR);
    CHECK_EQ(aio_return(&w), (long long)sizeof out);
    fill_cb(&r, fd, in, sizeof out, 0);
    CHECK(aio_read(&r) == 0);
    CHECK_EQ(poll_done(&r), 0);
    CHECK_EQ(aio_return(&r), (long long)sizeof out);
    CHECK(!strcmp(in, out));
    /* The child's counters start at zero. */
    CHECK_EQ(aio_posix_calls("aio_read"), 1);
    _exit(0);
}

int main(void) {
    watchdog(30);
    int p[2];
    CHECK(pipe(p) == 0);
    char buf[8];
    struct aiocb rd;
    fill_cb(&rd, p[0], buf, sizeof buf, 0);
    CHECK(aio_read(&rd) == 0);
    usleep(10000);
    CHECK_EQ(aio_error(&rd), EINPROGRESS);
    for (int i = 0; i < 3; i++) {
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0)
            child();
        int st;
        CHECK_EQ(waitpid(pid, &st, 0), pid);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    /* The parent's op is still in flight, and completes here. */
    CHECK_EQ(aio_error(&rd), EINPROGRESS);
    CHECK_EQ(write(p[1], "parent!", 8), 8);
    CHECK_EQ(poll_done(&rd), 0);
    CHECK_EQ(aio_return(&rd), 8);
    CHECK(!strcmp(buf, "parent!"));
    printf("fork ok\n");
    return 0;
}

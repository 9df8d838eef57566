/* serve_files: a file server on one thread, one epoll loop, all file and
 * socket I/O asynchronous. It waits on its listening socket and on the
 * library's completion descriptor (aio_posix_completion_fd) together,
 * reaps completions with aio_waitcomplete, and moves each file to its
 * client as a chain of aio_read (file) -> aio_write (socket) ops.
 *
 *   cc -O2 -I aio-posix/include serve_files.c -L target/release -laio_posix -o serve_files
 *   ./serve_files DIR [CONNECTIONS]
 *
 * It listens on 127.0.0.1 at a port the kernel picks, prints "port N" on
 * stdout, and serves CONNECTIONS connections (default: without end), then
 * exits. A client sends a file name (a name inside DIR: no '/') ending
 * in '\n' and receives the file's bytes, then EOF; an unknown or bad
 * name gets "ERR\n". */
#define _GNU_SOURCE
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "aio_posix.h"

#define CHUNK (64 * 1024)

struct conn {
    struct aiocb cb; /* the one op in flight (first: reaped aiocb -> conn) */
    int sock;
    int file;        /* -1 until the request is read */
    off_t off;       /* next file offset to read */
    size_t req_len;
    char req[256];
    char buf[CHUNK];
    size_t sent;     /* bytes of buf already written (short writes) */
    size_t have;     /* bytes in buf */
};

static void die(const char *what) {
    perror(what);
    exit(1);
}

static void finish(struct conn *c) {
    close(c->sock);
    if (c->file >= 0)
        close(c->file);
    free(c);
}

static void submit_read(struct conn *c) {
    memset(&c->cb, 0, sizeof c->cb);
    c->cb.aio_fildes = c->file;
    c->cb.aio_buf = c->buf;
    c->cb.aio_nbytes = sizeof c->buf;
    c->cb.aio_offset = c->off;
    if (aio_read(&c->cb) != 0)
        die("aio_read");
}

static void submit_write(struct conn *c, const void *p, size_t n) {
    memset(&c->cb, 0, sizeof c->cb);
    c->cb.aio_fildes = c->sock;
    c->cb.aio_buf = (void *)p;
    c->cb.aio_nbytes = n;
    c->cb.aio_lio_opcode = LIO_WRITE; /* marks the op kind for reaping */
    if (aio_write(&c->cb) != 0)
        die("aio_write");
}

/* The request line is complete: open the file and start reading. */
static void start(struct conn *c, const char *dir) {
    c->req[c->req_len - 1] = '\0';
    char path[512];
    int bad = c->req[0] == '\0' || strchr(c->req, '/') != NULL;
    snprintf(path, sizeof path, "%s/%s", dir, c->req);
    c->file = bad ? -1 : open(path, O_RDONLY | O_CLOEXEC);
    if (c->file < 0) {
        memcpy(c->buf, "ERR\n", 4);
        c->have = 4;
        c->sent = 0;
        c->off = -1; /* nothing to read after this write */
        submit_write(c, c->buf, 4);
        return;
    }
    submit_read(c);
}

/* One reaped op of connection c: result r (or -1 and err). Returns 1 if
 * the connection is finished. */
static int step(struct conn *c, ssize_t r, int err) {
    if (c->cb.aio_lio_opcode == LIO_WRITE) {
        if (r < 0) {
            fprintf(stderr, "write: %s\n", strerror(err));
            return 1;
        }
        c->sent += (size_t)r;
        if (c->sent < c->have) { /* a short write to the socket */
            submit_write(c, c->buf + c->sent, c->have - c->sent);
            return 0;
        }
        if (c->off < 0)
            return 1; /* the error line is out */
        submit_read(c);
        return 0;
    }
    if (r < 0) {
        fprintf(stderr, "read: %s\n", strerror(err));
        return 1;
    }
    if (r == 0)
        return 1; /* end of file: done */
    c->off += r;
    c->have = (size_t)r;
    c->sent = 0;
    submit_write(c, c->buf, c->have);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR [CONNECTIONS]\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    long left = argc > 2 ? strtol(argv[2], NULL, 10) : -1;

    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (ls < 0)
        die("socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 64) != 0 ||
        getsockname(ls, (struct sockaddr *)&a, &alen) != 0)
        die("listen");
    printf("port %d\n", ntohs(a.sin_port));
    fflush(stdout);

    int cfd = aio_posix_completion_fd();
    if (cfd < 0)
        die("aio_posix_completion_fd");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1");
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev) != 0)
        die("epoll_ctl");
    ev.data.ptr = &ls;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev) != 0)
        die("epoll_ctl");

    long open_conns = 0;
    while (left != 0 || open_conns > 0) {
        struct epoll_event out[16];
        int n = epoll_wait(ep, out, 16, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            if (out[i].data.ptr == &ls) {
                /* New connections: read the request line (a plain
                 * non-blocking read; the transfers are AIO). */
                int s;
                while (left != 0 && (s = accept4(ls, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
                    struct conn *c = calloc(1, sizeof *c);
                    if (!c)
                        die("calloc");
                    c->sock = s;
                    c->file = -1;
                    open_conns++;
                    if (left > 0)
                        left--;
                    /* The request line, read with an aio_read of the
                     * socket: one byte at a time until '\n'. */
                    memset(&c->cb, 0, sizeof c->cb);
                    c->cb.aio_fildes = s;
                    c->cb.aio_buf = c->req;
                    c->cb.aio_nbytes = 1;
                    c->cb.aio_lio_opcode = LIO_NOP; /* the request phase */
                    if (aio_read(&c->cb) != 0)
                        die("aio_read");
                }
            } else {
                /* Completions: reap until none is left. */
                for (;;) {
                    struct aiocb *cb = NULL;
                    struct timespec zero = {0, 0};
                    ssize_t r = aio_waitcomplete(&cb, &zero);
                    int err = errno;
                    if (cb == NULL) {
                        if (err == EINPROGRESS || err == EAGAIN)
                            break;
                        die("aio_waitcomplete");
                    }
                    struct conn *c = (struct conn *)((char *)cb - offsetof(struct conn, cb));
                    int done;
                    if (c->cb.aio_lio_opcode == LIO_NOP) {
                        if (r <= 0) {
                            done = 1; /* client went away */
                        } else if (c->req[c->req_len++] == '\n') {
                            start(c, dir);
                            done = 0;
                        } else if (c->req_len == sizeof c->req) {
                            done = 1; /* request too long */
                        } else {
                            memset(&c->cb, 0, sizeof c->cb);
                            c->cb.aio_fildes = c->sock;
                            c->cb.aio_buf = c->req + c->req_len;
                            c->cb.aio_nbytes = 1;
                            c->cb.aio_lio_opcode = LIO_NOP;
                            if (aio_read(&c->cb) != 0)
                                die("aio_read");
                            done = 0;
                        }
                    } else {
                        done = step(c, r, err);
                    }
                    if (done) {
                        finish(c);
                        open_conns--;
                    }
                }
            }
        }
    }
    return 0;
}

/* nouring: runs a command with io_uring refused, as a seccomp filter or a
 * container runtime would refuse it, without changing any system setting
 * (kernel.io_uring_disabled stays as it is) and without privileges.
 *
 *   nouring [--eperm] command [args...]
 *
 * Installs a seccomp filter (after PR_SET_NO_NEW_PRIVS) that makes
 * io_uring_setup, io_uring_enter and io_uring_register fail with ENOSYS
 * (or EPERM with --eperm) and allows everything else, then execs the
 * command. The filter is inherited by every thread and child, so
 * `nouring cargo test ...` runs whole test suites in the fallback mode. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#else
#error "nouring: add this architecture's AUDIT_ARCH"
#endif

int main(int argc, char **argv) {
    int err = ENOSYS, first = 1;
    if (argc > 1 && strcmp(argv[1], "--eperm") == 0) {
        err = EPERM;
        first = 2;
    }
    if (argc <= first) {
        fprintf(stderr, "usage: nouring [--eperm] command [args...]\n");
        return 2;
    }
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        /* Another architecture (a 32-bit entry): allowed as is. */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 3, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_register, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned)err),
    };
    struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        perror("nouring: PR_SET_NO_NEW_PRIVS");
        return 1;
    }
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
        perror("nouring: PR_SET_SECCOMP");
        return 1;
    }
    execvp(argv[first], argv + first);
    perror("nouring: exec");
    return 127;
}

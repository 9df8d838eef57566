#!/usr/bin/env bash
# Runs the whole C test suite (aio-posix's C ABI tests, the differential
# conformance programs beside glibc, and the aio-tests C
# programs: soak, faults, memcheck, streams) in the fallback mode, with
# io_uring refused by a seccomp filter that scripts/nouring.c installs
# (ENOSYS; `--eperm` for EPERM). No system setting is changed.
#
#   scripts/fallback.sh [--eperm]    -> exit 1 if any test fails
set -euo pipefail
cd "$(dirname "$0")/.."

mkdir -p target/nouring
cc -O2 -Wall -Wextra -Werror -o target/nouring/nouring scripts/nouring.c
launch=(target/nouring/nouring "$@")

# The filter really is in force, and the library really falls back.
cat > target/nouring/probe.c <<'C'
#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
    long r = syscall(__NR_io_uring_setup, 1, NULL);
    printf("io_uring_setup %ld errno %d\n", r, errno);
    return !(r == -1 && (errno == ENOSYS || errno == EPERM));
}
C
cc -O2 -o target/nouring/probe target/nouring/probe.c
"${launch[@]}" target/nouring/probe

# Build first, outside the filter (cargo needs no io_uring, but a failed
# build should not look like a fallback failure).
# `cargo build` refreshes target/debug/libaio_posix.so: cargo puts
# target/debug first on the tests' LD_LIBRARY_PATH, so the linked C tests
# load that copy (a stale one would be tested otherwise).
cargo build -p aio-posix-cabi --quiet
cargo test -p aio-posix -p aio-tests --no-run --quiet
"${launch[@]}" cargo test -p aio-posix --test c_abi --test differential --no-fail-fast
"${launch[@]}" cargo test -p aio-tests --test c_soak --test c_faults --test c_streams \
  --test c_memcheck --no-fail-fast
echo "fallback.sh: the C test suite passed with io_uring refused"

//! Memory: C programs on `libaio_posix.so` under valgrind memcheck (no
//! invalid access, no use of uninitialised memory, no definite leak), and
//! a check that nothing is kept per completed op (`tests/c/rss.c`: 200000
//! aio_reads polled with aio_error and never returned, on reused and on
//! freshly allocated aiocbs, while the resident set stays flat).
//!
//! Under valgrind run: aio-posix's own `listio.c` and `fsync.c` (compiled
//! from `aio-posix/tests/c` as `c_abi.rs` does, not edited), and this
//! crate's `soak.c` (4000 ops) and `rss.c` (5000 ops), each linked with
//! `-laio_posix`. Not run under valgrind: the programs with an op waiting
//! on a pipe or socket (`cancel.c`, `streams.c`, `badinput.c`, `suspend.c`,
//! `fork.c`, `sigstorm.c`): under valgrind 3.19 they hang (the pool worker
//! sleeping in `io_uring_enter` on the waiting op apparently starves the
//! other threads), natively they pass. Needs valgrind (`.ci/run` installs
//! it): fails loudly without it. No suppressions are used.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

const T: Duration = Duration::from_secs(180);

/// Runs `exe args` under memcheck with `env`; asserts success, no error,
/// no definite leak, and that the library served `entry`. Returns the
/// program's stdout.
fn memcheck(exe: &Path, args: &[&Path], env: &[(&str, &str)], entry: &str) -> String {
    let valgrind = require_tool("valgrind", "valgrind");
    let name = exe.file_name().unwrap().to_string_lossy().into_owned();
    let trace = trace_file(&format!("vg-{name}"));
    let mut cmd = Command::new(valgrind);
    cmd.args([
        "--error-exitcode=99",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite",
        "--show-leak-kinds=definite",
    ])
    .arg(exe)
    .args(args)
    .env("AIO_POSIX_TRACE", &trace);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = run_with_timeout(cmd, T);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_ne!(
        o.status.code(),
        Some(99),
        "valgrind found errors in {name}:\n{err}"
    );
    assert_ok(&format!("{name} under valgrind"), &o);
    assert!(
        err.contains("ERROR SUMMARY: 0 errors"),
        "{name}: no clean error summary:\n{err}"
    );
    assert!(
        err.contains("definitely lost: 0 bytes") || err.contains("All heap blocks were freed"),
        "{name}: definite leak:\n{err}"
    );
    let (_, firsts) = trace_counts(&trace, entry);
    assert!(firsts >= 1, "{name}: {entry} not served by libaio_posix.so");
    out
}

fn linked_posix(name: &str) -> PathBuf {
    compile_in(&posix_c_dir(), name, true)
}

#[test]
fn aio_posix_listio_under_memcheck() {
    let out = memcheck(&linked_posix("listio"), &[], &[], "lio_listio");
    assert!(out.contains("listio ok"), "{out}");
}

#[test]
fn aio_posix_fsync_under_memcheck() {
    let out = memcheck(&linked_posix("fsync"), &[], &[], "aio_fsync");
    assert!(out.contains("fsync ok"), "{out}");
}

#[test]
fn soak_under_memcheck() {
    let file = scratch("memcheck").join(format!("soak-{}.dat", std::process::id()));
    let out = memcheck(
        &compile("soak", true),
        &[&file],
        &[("AIO_SOAK_OPS", "4000")],
        "aio_read",
    );
    let _ = std::fs::remove_file(&file);
    assert_eq!(figure(&out, "ops"), Some(4000), "{out}");
    for k in ["lost", "duplicated", "corrupted"] {
        assert_eq!(figure(&out, k), Some(0), "{k}: {out}");
    }
}

#[test]
fn unreturned_ops_under_memcheck() {
    let file = scratch("memcheck").join(format!("rss-{}.dat", std::process::id()));
    // valgrind's own footprint moves the resident set: only memcheck's
    // verdict counts here (AIO_RSS_LIMIT=-1); the native test below checks
    // the resident set.
    let out = memcheck(
        &compile("rss", true),
        &[&file],
        &[("AIO_RSS_OPS", "5000"), ("AIO_RSS_LIMIT", "-1")],
        "aio_read",
    );
    assert!(out.contains("rss: ops 5000"), "{out}");
}

/// 200000 ops never passed to aio_return, half on freshly allocated aiocbs:
/// the resident set after the warm-up (20000 ops, more than the 8192 op
/// slots the library fills before it reuses one) and at the end differ by
/// at most 128 pages (the program's own check), i.e. nothing is kept per
/// completed op. Run natively, with the library preloaded.
#[test]
fn no_memory_kept_per_completed_op() {
    let exe = compile("rss", false);
    let file = scratch("memcheck").join(format!("rss-native-{}.dat", std::process::id()));
    let trace = trace_file("rss-native");
    for max_ops in ["8192", "64"] {
        let mut cmd = Command::new(&exe);
        cmd.arg(&file)
            .env("LD_PRELOAD", lib_path())
            .env("AIO_POSIX_TRACE", &trace)
            .env("AIO_POSIX_MAX_OPS", max_ops);
        let o = run_with_timeout(cmd, Duration::from_secs(120));
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        println!("AIO_POSIX_MAX_OPS={max_ops}: {out}");
        assert_ok("rss.c", &o);
        assert!(out.contains("rss: ops 200000"), "{out}");
        let warm = figure(&out, "warm").expect("warm figure");
        let end = figure(&out, "end").expect("end figure");
        assert!(
            end <= warm + 128,
            "resident set grew by {} pages: {out}",
            end - warm
        );
    }
    let _ = std::fs::remove_file(&file);
    let (reads, firsts) = trace_counts(&trace, "aio_read");
    assert!(
        firsts >= 2 && reads >= 400_000,
        "aio_read served {reads} times"
    );
}

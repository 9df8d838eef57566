//! The soak through the C ABI: `tests/c/soak.c`, a multi-threaded glibc
//! program run with `libaio_posix.so` preloaded, keeps many aiocbs in
//! flight per thread on a file under the target directory (reads, writes,
//! fsyncs, lio_listio batches, cancels at random moments, aio_suspend with
//! timeouts, thread and signal notifications), and its ledger proves every
//! op completed exactly once with the expected value and intact data.
//!
//! `streamsoak.c` adds streams (stalling readers, `O_APPEND` writers,
//! fsyncs on an unrelated file, cancels) with a ledger of its own.
//!
//! CI-sized by default (200000 ops; a few seconds). Long mode:
//! `AIO_SOAK_OPS=2000000 cargo test -p aio-tests --test c_soak -- --nocapture`
//! (the variable is passed through to the program).

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

/// Runs the soak with `ops` ops (and `extra` environment) and checks its
/// ledger and the library's trace.
fn soak(ops: u64, extra: &[(&str, &str)]) {
    let exe = compile("soak", false);
    // One file per run: the tests of this binary run in parallel.
    static RUN: aio_core::sync::atomic::AtomicUsize = aio_core::sync::atomic::AtomicUsize::new(0);
    let run = RUN.fetch_add(1, aio_core::sync::atomic::Ordering::Relaxed);
    let file = scratch("c-soak").join(format!("soak-{}-{run}.dat", std::process::id()));
    let trace = trace_file(&format!("c-soak-{run}"));
    let mut cmd = Command::new(&exe);
    cmd.arg(&file)
        .env("LD_PRELOAD", lib_path())
        .env("AIO_POSIX_TRACE", &trace)
        .env("AIO_SOAK_OPS", ops.to_string());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    // A minute of slack per 200k ops: generous for two shared cores, and
    // still a failure (not a stuck CI job) if anything hangs.
    let timeout = Duration::from_secs(60 + ops / 200_000 * 60);
    let o = run_with_timeout(cmd, timeout);
    let _ = std::fs::remove_file(&file);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    println!("{out}");
    assert_ok("soak.c", &o);
    // The ledger's own verdict, read back rather than trusted by exit code.
    assert_eq!(figure(&out, "ops"), Some(ops), "{out}");
    for k in ["lost", "duplicated", "corrupted"] {
        assert_eq!(figure(&out, k), Some(0), "{k}: {out}");
    }
    // The library served the calls: its trace counted them at exit.
    let (reads, firsts) = trace_counts(&trace, "aio_read");
    assert!(
        firsts >= 1 && reads > 0,
        "aio_read not served by libaio_posix.so"
    );
    for entry in [
        "aio_write",
        "aio_fsync",
        "aio_error",
        "aio_return",
        "aio_suspend",
        "aio_cancel",
        "lio_listio",
    ] {
        let (n, _) = trace_counts(&trace, entry);
        assert!(
            n > 0,
            "{entry} was not served by libaio_posix.so ({n} calls)"
        );
    }
    // Every op was returned exactly once, and the program checked that a
    // second aio_return fails: at least two calls per op.
    let (returns, _) = trace_counts(&trace, "aio_return");
    assert!(
        returns >= 2 * ops,
        "{returns} aio_return calls for {ops} ops"
    );
}

fn ops_from_env() -> u64 {
    std::env::var("AIO_SOAK_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000)
}

#[test]
fn c_soak_nothing_lost_duplicated_or_corrupted() {
    soak(ops_from_env(), &[]);
}

/// The soak with a contradicted cancel answer counted as a wrong result
/// (`AIO_SOAK_STRICT_CANCEL=1`), four seeds. Before d2c4178, `aio_cancel`
/// sometimes answered `AIO_NOTCANCELED` or `AIO_ALLDONE` for an op (an
/// fsync, more rarely a write) that then completed with `ECANCELED` (io_uring
/// answers `-EALREADY` for an op io-wq is running; the engine said "in
/// flight" at once): about one 200000-op run in two to sixteen. Since the
/// fix (the engine waits for such an op's CQE, up to its 1 s cancel
/// deadline, and the pool answers from the finished op's state) it passed
/// 15 of 15 runs (60 soaks). It stays out of the default run because an
/// io-wq op that outlasts the deadline (a slow fsync on a loaded CI disk)
/// can still produce the contradiction; run it with `--ignored`. The
/// default soak counts such answers apart ("cancel answers contradicted").
#[test]
#[ignore = "stress reproducer for a fixed cancel race; can still flake when an fsync outlasts the 1 s cancel deadline"]
fn c_soak_with_strict_cancel_answers() {
    for seed in ["1", "2", "3", "4"] {
        soak(
            ops_from_env(),
            &[("AIO_SOAK_STRICT_CANCEL", "1"), ("AIO_SOAK_SEED", seed)],
        );
    }
}

/// The soak's streams (`tests/c/streamsoak.c`): pipe and socket pairs
/// whose readers stall and resume, two `O_APPEND` writers on one file, a
/// file thread writing, fsyncing and reading an unrelated file, and
/// cancelled reads, all through `aio_*`. The ledger proves every accepted
/// write landed exactly once, in order per stream and per appender, with
/// its full count; the worst file-op completion latency while a reader was
/// stalled is printed (a figure, not a verdict). `AIO_STREAMSOAK_SECS`
/// (default 4) is passed through. `scripts/fallback.sh` runs it with
/// io_uring refused.
#[test]
fn c_soak_streams_every_accepted_write_lands_once_in_order() {
    let exe = compile("streamsoak", false);
    let dir = scratch("c-streamsoak");
    let trace = trace_file("c-streamsoak");
    let mut cmd = Command::new(&exe);
    cmd.arg(&dir)
        .env("LD_PRELOAD", lib_path())
        .env("AIO_POSIX_TRACE", &trace);
    let o = run_with_timeout(cmd, Duration::from_secs(180));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    println!("{out}");
    assert_ok("streamsoak.c", &o);
    assert!(figure(&out, "records").is_some_and(|n| n > 0), "{out}");
    for k in [
        "lost",
        "duplicated",
        "misordered",
        "corrupted",
        "short_writes",
        "bad_results",
    ] {
        assert_eq!(figure(&out, k), Some(0), "{k}: {out}");
    }
    let (_, firsts) = trace_counts(&trace, "aio_write");
    assert!(firsts >= 1, "aio_write not served by libaio_posix.so");
}

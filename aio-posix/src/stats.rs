//! `AIO_POSIX_STATS`: the service pools' counters, printed when the
//! process exits, so that a preloaded program (fio, stress-ng) shows what
//! the library did: per pool, the ops queued to it, completed by its
//! worker, completed inline on the submitter, stolen, the high-water marks,
//! the worker's sleeps and wake-ups (aio-pool's [`stats_table`], the table
//! aio-bench prints), and, if io_uring could not be set up, why (the
//! library prints nothing else about it).
//!
//! `AIO_POSIX_STATS=1` (or `stderr`) writes to standard error, any other
//! value is a file the table is appended to. Read when the instance is
//! built; the hook is an `atexit` handler, so `_exit` prints nothing, and a
//! fork child, which inherits the handler, prints its own instance's
//! counters (nothing if it never used AIO).

use std::io::Write as _;

use aio_pool::{PoolStats, stats_table};

static HOOK: aio_core::sync::Once = aio_core::sync::Once::new();

/// How the exit hook reads the counters of the live instance (given by the
/// instance, which this file does not name: no import cycle).
/// What the live instance reports: its pools' counters and its count of
/// reads finished in the submitting thread.
type Source = fn() -> Option<(Vec<PoolStats>, u64)>;

static SOURCE: aio_core::sync::OnceLock<Source> = aio_core::sync::OnceLock::new();

/// Where the table goes.
enum Sink {
    Stderr,
    File(std::path::PathBuf),
}

fn sink() -> Option<Sink> {
    let v = std::env::var_os("AIO_POSIX_STATS")?;
    Some(match v.to_str() {
        Some("") | Some("0") => return None,
        Some("1") | Some("stderr") => Sink::Stderr,
        _ => Sink::File(v.into()),
    })
}

/// Registers the exit hook if `AIO_POSIX_STATS` asks for it (the instance
/// is being built); `source` gives the live instance's counters and its
/// count of reads finished in the submitting thread.
pub(crate) fn arm(source: Source) {
    if sink().is_some() {
        let _ = SOURCE.set(source);
        HOOK.call_once(|| {
            // SAFETY: registers a plain extern "C" function.
            unsafe { libc::atexit(stats_at_exit) };
        });
    }
}

/// The report: a header line with the pid and the op totals (the reads
/// finished in the submitting thread, which never reached a pool,
/// included), then the pools' table. (The counters are read one by one:
/// not a consistent cut, see [`PoolStats`].)
pub(crate) fn report() -> Option<String> {
    let (pools, early) = (SOURCE.get()?)()?;
    let submitted: u64 = early + pools.iter().map(|p| p.submitted).sum::<u64>();
    let done: u64 = early + pools.iter().map(|p| p.completed + p.inline).sum::<u64>();
    // SAFETY: plain syscall.
    let pid = unsafe { libc::getpid() };
    // A worker counts a device thread's completions when it next looks
    // at its engine, so `completed` may trail by the last few ops.
    #[cfg(loom)]
    let uring = String::new();
    #[cfg(not(loom))]
    let uring = match blockdev::uring_unavailable() {
        Some(e) => format!(
            "aio_posix pid={pid}: io_uring unavailable ({e}): file I/O on blocking threads\n"
        ),
        None => String::new(),
    };
    Some(format!(
        "aio_posix pid={pid}: counters at exit: {submitted} ops submitted, {done} counted complete, {early} of them reads finished by the submitting thread before reaching a pool\n{uring}{}",
        stats_table(&pools)
    ))
}

extern "C" fn stats_at_exit() {
    // Never unwind out of an atexit handler: a failure prints nothing.
    let _ = std::panic::catch_unwind(|| {
        let (Some(sink), Some(text)) = (sink(), report()) else {
            return;
        };
        match sink {
            Sink::Stderr => {
                let _ = std::io::stderr().write_all(text.as_bytes());
            }
            Sink::File(p) => {
                if let Ok(mut f) = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                {
                    let _ = f.write_all(text.as_bytes());
                }
            }
        }
    });
}

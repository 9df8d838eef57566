//! Reading what the library's call trace (`AIO_POSIX_TRACE`) and a test
//! program's output report.

use std::path::{Path, PathBuf};

use crate::paths::scratch;

/// A fresh (removed) trace file path in the scratch directory.
pub fn trace_file(name: &str) -> PathBuf {
    let p = scratch("traces").join(format!("{name}-{}.trace", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

/// Sums the counter `entry` over every `exit` line of a trace, and counts
/// the processes that made a first call of it.
pub fn trace_counts(path: &Path, entry: &str) -> (u64, usize) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut total = 0;
    // Processes that called `entry`: a "first" line (written at once by
    // the entry points that are not async-signal-safe), or a non-zero
    // counter in the exit line (the only record of aio_error, aio_return
    // and aio_suspend, which must not touch the trace file).
    let mut served = std::collections::BTreeSet::new();
    for line in text.lines() {
        let pid = line.split_whitespace().next().unwrap_or("").to_string();
        if line.contains(&format!(" first {entry}")) {
            served.insert(pid.clone());
        }
        if line.contains(" exit ") {
            for w in line.split_whitespace() {
                if let Some(v) = w.strip_prefix(&format!("{entry}=")) {
                    let n = v.parse::<u64>().unwrap_or(0);
                    total += n;
                    if n > 0 {
                        served.insert(pid.clone());
                    }
                }
            }
        }
    }
    (total, served.len())
}

/// Parses `key N` (as in `ops 12, lost 0`) out of a program's output.
pub fn figure(out: &str, key: &str) -> Option<u64> {
    let i = out.find(&format!("{key} "))?;
    out[i + key.len() + 1..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

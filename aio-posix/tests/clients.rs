//! Real POSIX AIO programs, unmodified Debian binaries, run with
//! `libaio_posix.so` preloaded; `AIO_POSIX_TRACE` proves our library (not
//! glibc's) served them. fio and stress-ng are installed by `.ci/run`; if
//! one is missing the test fails with the install command.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

/// Asserts that processes of the traced program made their first call of
/// each entry in `entries` through our library.
fn assert_served(trace: &std::path::Path, entries: &[&str], min_procs: usize) {
    for e in entries {
        let (_, firsts) = trace_counts(trace, e);
        assert!(
            firsts >= min_procs,
            "{e}: {firsts} process(es) served by libaio_posix.so, expected {min_procs} (trace {}:\n{})",
            trace.display(),
            std::fs::read_to_string(trace).unwrap_or_default()
        );
    }
}

fn fio_write_verify(depth: u32) {
    require_tool("fio", "fio");
    let dir = scratch("fio");
    let file = dir.join(format!("verify-{depth}.dat"));
    let _ = std::fs::remove_file(&file);
    let trace = trace_file(&format!("fio-{depth}"));
    let mut cmd = Command::new("fio");
    cmd.args([
        &format!("--name=verify{depth}"),
        &format!("--filename={}", file.display()),
        "--size=32m",
        "--rw=randwrite",
        "--bs=4k",
        "--ioengine=posixaio",
        &format!("--iodepth={depth}"),
        "--verify=crc32c",
        "--do_verify=1",
        "--verify_fatal=1",
        "--output-format=terse",
        "--terse-version=3",
    ])
    // fio leaves its verify state files in the working directory.
    .current_dir(&dir)
    .env("LD_PRELOAD", lib_path())
    .env("AIO_POSIX_TRACE", &trace);
    let o = run_with_timeout(cmd, Duration::from_secs(300));
    assert_ok("fio", &o);
    let out = String::from_utf8_lossy(&o.stdout);
    let fields: Vec<&str> = out.lines().next().unwrap_or("").split(';').collect();
    // Terse v3: field 5 is the job's error, 7 the KiB read (the verify
    // pass), 48 the KiB written.
    assert_eq!(fields.get(4), Some(&"0"), "fio reported an error: {out}");
    assert_eq!(
        fields.get(5),
        Some(&"32768"),
        "verify read everything: {out}"
    );
    assert_eq!(fields.get(46), Some(&"32768"), "wrote everything: {out}");
    assert_served(
        &trace,
        &["aio_write", "aio_read", "aio_error", "aio_return"],
        1,
    );
    let _ = std::fs::remove_file(&file);
}

#[test]
fn fio_posixaio_write_verify_iodepth_1() {
    fio_write_verify(1);
}

#[test]
fn fio_posixaio_write_verify_iodepth_64() {
    fio_write_verify(64);
}

#[test]
fn stress_ng_aio() {
    require_tool("stress-ng", "stress-ng");
    let dir = scratch("stress-ng");
    let trace = trace_file("stress-ng");
    let mut cmd = Command::new("stress-ng");
    cmd.args([
        "--aio",
        "2",
        "--aio-requests",
        "16",
        "-t",
        "5s",
        "--metrics-brief",
    ])
    .arg("--temp-path")
    .arg(&dir)
    .current_dir(&dir)
    .env("LD_PRELOAD", lib_path())
    .env("AIO_POSIX_TRACE", &trace);
    let o = run_with_timeout(cmd, Duration::from_secs(120));
    assert_ok("stress-ng", &o);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(all.contains("successful run completed"), "{all}");
    // Both stressor processes were served by us (signal notification).
    assert_served(&trace, &["aio_write", "aio_read", "aio_error"], 2);
}

//! Helpers of the integration tests: find `libaio_posix.so`, compile C
//! programs against it, run programs with a timeout that fails the test.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The cdylib cargo built for this test run: `cargo test` builds the
/// dev-dependency `aio-posix-cabi` (a cdylib) into the `deps` directory
/// that holds the test binary itself.
pub fn lib_path() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let deps = exe.parent().expect("deps dir");
    let p = deps.join("libaio_posix.so");
    assert!(
        p.exists(),
        "{} missing: cargo builds the cdylib with the tests (dev-dependency aio-posix-cabi)",
        p.display()
    );
    p
}

/// A scratch directory for this test binary.
pub fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The C sources.
pub fn c_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c")
}

/// Compiles `tests/c/<name>.c` with the system compiler. `link`: link
/// with `-laio_posix` (and an rpath), else against glibc only (the program
/// is then run under `LD_PRELOAD`).
pub fn compile(name: &str, link: bool) -> PathBuf {
    let out = scratch("c-bin").join(if link {
        format!("{name}-linked")
    } else {
        name.to_string()
    });
    let lib = lib_path();
    let libdir = lib.parent().unwrap();
    let mut cmd = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()));
    cmd.arg("-std=gnu11")
        .arg("-Wall")
        .arg("-Wextra")
        .arg("-Werror")
        .arg("-O1")
        .arg("-g")
        .arg("-pthread")
        .arg("-I")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("include"))
        .arg("-o")
        .arg(&out)
        .arg(c_dir().join(format!("{name}.c")));
    if link {
        cmd.arg("-L")
            .arg(libdir)
            .arg(format!("-Wl,-rpath,{}", libdir.display()))
            .arg("-laio_posix");
    }
    let o = cmd.output().expect("running cc");
    assert!(
        o.status.success(),
        "cc {name}.c failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// Runs `cmd`, failing the test if it does not finish within `timeout`.
pub fn run_with_timeout(mut cmd: Command, timeout: Duration) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let deadline = Instant::now() + timeout;
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let o = child.wait_with_output().expect("output");
            panic!(
                "{cmd:?} did not finish within {timeout:?}\nstdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Asserts that a run succeeded, printing its output if not.
pub fn assert_ok(what: &str, o: &Output) {
    assert!(
        o.status.success(),
        "{what} failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A fresh trace file path.
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

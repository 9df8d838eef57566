//! Running programs and waiting: every wait has a timeout that fails the
//! test, so no test can hang.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `cmd`, failing the test (with the program's output) if it does not
/// finish within `timeout`. The pipes are drained on threads, so a chatty
/// child cannot block on a full pipe while we wait for it.
pub fn run_with_timeout(mut cmd: Command, timeout: Duration) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let mut out = child.stdout.take().expect("stdout pipe");
    let mut err = child.stderr.take().expect("stderr pipe");
    let ho = aio_core::sync::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out, &mut v);
        v
    });
    let he = aio_core::sync::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut err, &mut v);
        v
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let (o, e) = (ho.join().unwrap(), he.join().unwrap());
            panic!(
                "{cmd:?} did not finish within {timeout:?}\nstdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&o),
                String::from_utf8_lossy(&e)
            );
        }
        aio_core::sync::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: ho.join().unwrap(),
        stderr: he.join().unwrap(),
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

/// Polls `cond` (every millisecond) until it holds or `timeout` passes;
/// fails the test on time-out, naming `what`.
pub fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        aio_core::sync::thread::sleep(Duration::from_millis(1));
    }
}

/// Runs `f` on another thread and fails the test if it has not returned
/// within `timeout` (for calls that block by design, such as synchronous
/// mode on a remote device). Not in loom builds (the shim's loom
/// `JoinHandle` has no `is_finished`; no model uses this).
#[cfg(not(loom))]
pub fn within_deadline<R: Send + 'static>(
    timeout: Duration,
    f: impl FnOnce() -> R + Send + 'static,
) -> R {
    // A harness thread, not part of any protocol a loom model checks, and
    // it needs `is_finished`, which loom's threads lack (this crate is also
    // compiled into the `--cfg loom` builds of the crates that use it).
    #[allow(clippy::disallowed_methods)]
    let h = std::thread::spawn(f);
    let deadline = Instant::now() + timeout;
    while !h.is_finished() {
        assert!(
            Instant::now() < deadline,
            "a blocking call did not return in {timeout:?}"
        );
        #[allow(clippy::disallowed_methods)]
        std::thread::sleep(Duration::from_millis(2));
    }
    h.join().expect("the blocking call panicked")
}

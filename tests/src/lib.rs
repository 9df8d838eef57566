//! # aio-tests: integration tests across the layers
//!
//! The tests live in `tests/tests/*.rs`, named by area. This library holds
//! only helpers they share.
//!
//! **Layering.** Sits on top of everything; nothing depends on it.

use std::time::{Duration, Instant};

/// Polls `cond` until it holds or `timeout` passes; panics (failing the
/// test) on time-out, so no test can hang.
pub fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

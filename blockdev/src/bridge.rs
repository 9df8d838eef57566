//! [`Bridge`]: forwards an aio-core [`Doorbell`] ring to another wake-up
//! mechanism (the [`UringEngine`](crate::UringEngine)'s eventfd).
//!
//! aio-core's [`EngineTicket`](aio_core::EngineTicket) wakes its engine by
//! ringing a `Doorbell` (a mutex and a condvar). A thread asleep in
//! `io_uring_enter` does not hear a condvar, so a uring engine that has
//! issued tickets keeps one bridge thread asleep on its doorbell; each ring
//! makes the bridge call `notify` (write the eventfd, whose read is armed
//! in the ring). See `README.md`, "The doorbell bridge".
//!
//! Stopping: `Drop` sets `stop` and then rings. The bridge re-checks `stop`
//! after every wake-up, and a ring is never lost (the doorbell counts rings
//! that happen while nobody sleeps), so it always exits.

use aio_core::Doorbell;
use aio_core::sync::Arc;
use aio_core::sync::atomic::{AtomicBool, Ordering};
use aio_core::sync::thread::{self, JoinHandle};

/// A thread that calls `notify` every time a doorbell rings.
pub(crate) struct Bridge {
    bell: Arc<Doorbell>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Bridge {
    /// Starts the bridge thread.
    pub(crate) fn spawn(
        bell: Arc<Doorbell>,
        notify: impl Fn() + Send + 'static,
    ) -> std::io::Result<Bridge> {
        let stop = Arc::new(AtomicBool::new(false));
        let (b, s) = (Arc::clone(&bell), Arc::clone(&stop));
        let handle = thread::spawn_named("blockdev-bridge".into(), move || run(&b, &s, notify))?;
        Ok(Bridge {
            bell,
            stop,
            handle: Some(handle),
        })
    }
}

/// The bridge thread's loop.
pub(crate) fn run(bell: &Doorbell, stop: &AtomicBool, notify: impl Fn()) {
    loop {
        bell.sleep(None);
        // Acquire pairs with the Release store in `stop`: a bridge woken by
        // the stopping ring sees the flag.
        if stop.load(Ordering::Acquire) {
            break;
        }
        notify();
    }
}

/// Tells the bridge to stop: the flag, then a ring.
pub(crate) fn stop(bell: &Doorbell, flag: &AtomicBool) {
    flag.store(true, Ordering::Release);
    // The ring comes after the flag, so the bridge's next wake-up (this
    // ring, or an earlier one it has not consumed yet) sees the flag.
    if !aio_core::sync::mutant("bridge-stop-no-ring") {
        bell.ring();
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        stop(&self.bell, &self.stop);
        crate::device::join_unless_self(self.handle.take());
    }
}

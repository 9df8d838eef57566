//! The doorbell: how a thread that completes an op outside the servicing
//! thread (a device's own thread) keeps the in-flight count right and wakes
//! the servicing thread; see the [`engine`](crate::engine) module docs.

use std::fmt;
use std::time::Instant;

use crate::error::Result;
use crate::op::InFlight;
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::{Arc, Condvar, Mutex};

/// Wakes an engine's [`Engine::wait`](super::Engine::wait) from any thread.
pub trait EngineWaker: Send + Sync {
    /// Wakes the engine's current or next `wait`.
    fn wake(&self);
}

/// The count of ops completed elsewhere, and how to wake the engine's
/// thread when one is. Shared by an engine and its tickets.
///
/// A signal is counted under the mutex and notifies the condvar (for an
/// engine that sleeps in [`Doorbell::sleep`]); a doorbell made with
/// [`Doorbell::with_waker`] also calls that waker after unlocking, for an
/// engine that sleeps where a condvar cannot reach it (io_uring's
/// `io_uring_enter`, woken by an eventfd).
pub struct Doorbell {
    /// Tickets issued and not yet returned.
    outstanding: AtomicUsize,
    /// Signals since the last `sleep` consumed them. (lock: this mutex; a
    /// leaf lock, see the op module's lock order)
    signals: Mutex<u64>,
    cv: Condvar,
    /// Called after every signal, with no lock held. Must be sticky: a wake
    /// that comes before the engine sleeps must end its next sleep.
    waker: Option<Box<dyn EngineWaker>>,
}

impl fmt::Debug for Doorbell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Doorbell")
            .field("outstanding", &self.outstanding())
            .field("waker", &self.waker.is_some())
            .finish()
    }
}

impl Doorbell {
    fn make(waker: Option<Box<dyn EngineWaker>>) -> Arc<Doorbell> {
        Arc::new(Doorbell {
            outstanding: AtomicUsize::new(0),
            signals: Mutex::ranked(crate::lock_order::DOORBELL_SIGNALS, 0),
            cv: Condvar::new(),
            waker,
        })
    }

    /// A doorbell with nothing outstanding.
    pub fn new() -> Arc<Doorbell> {
        Doorbell::make(None)
    }

    /// A doorbell that also calls `waker` on every signal, after the count is
    /// updated and the lock released. `waker` must be sticky, as
    /// [`EngineWaker::wake`] requires.
    pub fn with_waker(waker: Box<dyn EngineWaker>) -> Arc<Doorbell> {
        Doorbell::make(Some(waker))
    }

    /// Tickets issued and not yet returned.
    pub fn outstanding(&self) -> usize {
        self.outstanding.load(Ordering::Acquire)
    }

    /// Issues a ticket.
    pub fn ticket(this: &Arc<Doorbell>) -> EngineTicket {
        this.outstanding.fetch_add(1, Ordering::Relaxed);
        EngineTicket {
            bell: Some(Arc::clone(this)),
        }
    }

    /// Signals the doorbell: the sleeper (if any) wakes, and the next
    /// `sleep` returns at once; then the waker, if any, is called.
    pub fn signal(&self) {
        {
            let mut g = self.signals.lock();
            *g += 1;
            if !crate::sync::mutant(crate::sync::Mutant::DoorbellNoNotify) {
                self.cv.notify_one();
            }
        }
        if let Some(w) = &self.waker
            && !crate::sync::mutant(crate::sync::Mutant::DoorbellSkipWaker)
        {
            w.wake();
        }
    }

    /// Sleeps until signalled (a signal since the last `sleep` counts) or
    /// until `deadline`. Returns whether it was signalled.
    pub fn sleep(&self, deadline: Option<Instant>) -> bool {
        let mut g = self.signals.lock();
        loop {
            if *g > 0 {
                *g = 0;
                return true;
            }
            match deadline {
                None => g = self.cv.wait(g),
                Some(d) => {
                    let (g2, timed_out) = self.cv.wait_until(g, d);
                    g = g2;
                    if timed_out {
                        let signalled = *g > 0;
                        *g = 0;
                        return signalled;
                    }
                }
            }
        }
    }
}

/// The [`EngineWaker`] of a [`Doorbell`].
#[derive(Debug, Clone)]
pub struct DoorbellWaker(pub Arc<Doorbell>);

impl EngineWaker for DoorbellWaker {
    fn wake(&self) {
        self.0.signal();
    }
}

/// One op that a device will complete on a thread of its own. Consume it
/// with [`EngineTicket::complete`] (or drop it) right after completing the
/// op: the engine's in-flight count goes down and its thread wakes.
#[must_use = "a ticket must be returned when its op completes"]
pub struct EngineTicket {
    bell: Option<Arc<Doorbell>>,
}

impl fmt::Debug for EngineTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EngineTicket")
    }
}

impl EngineTicket {
    /// Completes `op` with `r`, then returns the ticket.
    pub fn complete(self, op: InFlight, r: Result<usize>) {
        op.complete(r);
        drop(self);
    }
}

impl Drop for EngineTicket {
    fn drop(&mut self) {
        if let Some(bell) = self.bell.take() {
            // Release: the op's completion happens before the engine's
            // thread sees the count go down (its Acquire load).
            bell.outstanding.fetch_sub(1, Ordering::Release);
            bell.signal();
        }
    }
}

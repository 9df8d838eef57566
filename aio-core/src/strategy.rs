//! The asynchronous side of a target: NetBSD's strategy routine, and the
//! per-thread engine that lets one servicing thread keep many ops in flight.
//!
//! A [`Target`](crate::Target) that can start I/O without waiting for it
//! also implements [`Strategy`] and returns itself from
//! [`Target::strategy`](crate::Target::strategy). A servicing thread (a pool
//! worker) owns one [`Engine`] and hands it to every `submit`: for a
//! `blockdev::FileDevice` the engine is the thread's io_uring, so a fixed
//! number of threads and io_urings serve any number of devices; for devices that
//! complete on threads of their own (NBD's reader, a delay wheel) the engine
//! only counts the op and is woken when it completes.
//!
//! # Contract (what `submit` may and may not do)
//!
//! * `submit` never waits for the I/O. It completes the op exactly once, by
//!   [`InFlight::complete`](crate::InFlight::complete): inside `submit`
//!   (RAM disk), from [`Engine::poll`] (io_uring), or from a thread the
//!   device owns. Dropping the token completes with `EIO`.
//! * An op completed anywhere but inside `submit` or `Engine::poll` must
//!   carry an [`EngineTicket`] taken from the engine at submit time and
//!   consume it right after completing the op, so the engine's in-flight
//!   count stays right and a worker asleep in [`Engine::wait`] wakes up.
//! * Callbacks run on whichever thread completes the op, with no lock of the
//!   device held. A callback must not block and must not submit to the same
//!   engine (it may be running inside `Engine::poll`).

use std::any::Any;
use std::fmt;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::op::{CancelOutcome, InFlight, OpKey};
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::{Arc, Condvar, Mutex};

/// The strategy routine: start an op without waiting for it.
pub trait Strategy: Send + Sync {
    /// Starts `op`. See the module docs for the contract.
    fn submit(&self, op: InFlight, engine: &mut dyn Engine);

    /// Tries to cancel the in-flight op whose [`OpKey`] is `op` and that
    /// was submitted through `engine`. `Cancelled` means the op has been or
    /// will be completed with `ECANCELED`; the default says it cannot be
    /// cancelled. A device finds the op by [`InFlight::key`], never by its
    /// user-settable id: two ops may share an id, and a wrapper's shadow op
    /// copies the id of the op it forwards.
    fn cancel(&self, op: OpKey, engine: &mut dyn Engine) -> CancelOutcome {
        let _ = (op, engine);
        CancelOutcome::InFlight
    }

    /// Tries to complete `op` right now on this thread without blocking
    /// (a RAM disk; a page-cache hit with `RWF_NOWAIT`). Gives the op back
    /// if that would block. The default never tries.
    fn try_nowait(&self, op: InFlight) -> std::result::Result<(), InFlight> {
        Err(op)
    }
}

/// What one servicing thread owns to keep many ops in flight.
pub trait Engine: Send {
    /// Pushes batched submissions to the kernel (if any) and completes up
    /// to `budget` finished ops without blocking; returns how many.
    fn poll(&mut self, budget: usize) -> Result<usize>;

    /// Ops submitted through this engine and not yet completed.
    fn in_flight(&self) -> usize;

    /// Sleeps until a completion is ready, [`EngineWaker::wake`] is called,
    /// or `timeout` passes. May return early (spuriously).
    fn wait(&mut self, timeout: Option<Duration>) -> Result<()>;

    /// A handle any thread can use to wake [`Engine::wait`]. (Boxed, not
    /// an `Arc<dyn _>`: loom's `Arc` cannot be unsized.)
    fn waker(&self) -> Box<dyn EngineWaker>;

    /// Counts one op that will be completed by a device-owned thread; see
    /// [`EngineTicket`].
    fn ticket(&mut self) -> EngineTicket;

    /// Downcast hook, so a device can find its own engine type (the
    /// io_uring of `blockdev::FileDevice`).
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

/// Wakes an engine's [`Engine::wait`] from any thread.
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
            signals: Mutex::new(0),
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

/// The engine of a thread that has no kernel queue (no io_uring): it only counts ops
/// completed by device threads and sleeps on a [`Doorbell`]. Devices that
/// complete inside `submit` (RAM disk, synchronous targets) need nothing
/// more.
#[derive(Debug)]
pub struct BasicEngine {
    bell: Arc<Doorbell>,
}

impl Default for BasicEngine {
    fn default() -> Self {
        Self::new()
    }
}

impl BasicEngine {
    /// A new engine.
    pub fn new() -> BasicEngine {
        BasicEngine {
            bell: Doorbell::new(),
        }
    }

    /// The engine's doorbell.
    pub fn doorbell(&self) -> &Arc<Doorbell> {
        &self.bell
    }
}

impl Engine for BasicEngine {
    fn poll(&mut self, _budget: usize) -> Result<usize> {
        Ok(0)
    }

    fn in_flight(&self) -> usize {
        self.bell.outstanding()
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Result<()> {
        self.bell.sleep(timeout.map(|t| Instant::now() + t));
        Ok(())
    }

    fn waker(&self) -> Box<dyn EngineWaker> {
        Box::new(DoorbellWaker(Arc::clone(&self.bell)))
    }

    fn ticket(&mut self) -> EngineTicket {
        Doorbell::ticket(&self.bell)
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

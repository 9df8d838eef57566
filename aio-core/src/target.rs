//! The target trait: the least an op needs from whatever services it.
//!
//! A [`Target`] reads and writes at an offset and flushes, synchronously, on
//! the caller's thread. It may answer [`Attempt::Busy`] instead of doing the
//! work ("the resource is not available now"); the caller then sleeps on its
//! op's `available` condvar until the target's [`Availability`] is released.
//! That is all aio-core needs to run an op in synchronous mode; `blockdev`
//! implements this trait for its devices and adds the asynchronous
//! strategy-style interface on top.
//!
//! # The availability protocol
//!
//! ```text
//!   sync caller                               releaser (whoever frees the resource)
//!   t = avail.ticket()      (epoch, Acquire)
//!   target.attempt() -> Busy
//!   avail.wait(op, t):
//!     lock(avail.waiters)                     avail.release():
//!     if epoch != t: unlock, retry   <-------     epoch += 1               (AcqRel RMW)
//!     push op; unlock                           lock(avail.waiters)
//!     lock(op.mtx)                              for each op drained: lock(op.mtx);
//!     while !op.available_flag: wait              available_flag = true; notify; unlock
//!                                               unlock(avail.waiters)
//! ```
//!
//! The generation is read under the waiter-list lock, and the releaser bumps
//! it before taking that lock, so either the caller sees the new generation
//! (and retries instead of sleeping), or it registered before the releaser
//! emptied the list (and is woken). The flag lives under the op's own mutex,
//! so a notification that arrives before the caller sleeps is not lost. Lock
//! order: `avail.waiters` before `op.mtx`; the waiter never holds both.
//! Model: `loom_available` in `src/tests`, mutant `available-no-gen-check`.

use crate::error::Result;
use crate::op::OpShared;
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::{Arc, Mutex};

/// The outcome of asking a target to do something now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Attempt<T> {
    /// The work was done (successfully or not).
    Ready(T),
    /// The resource is busy; nothing was done. Wait on the target's
    /// [`Availability`] and try again.
    Busy,
}

/// Which flush an [`OpKind::Fsync`](crate::OpKind::Fsync) or
/// [`OpKind::Fdatasync`](crate::OpKind::Fdatasync) asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushKind {
    /// Data and metadata (`fsync(2)`).
    Full,
    /// Data and the metadata needed to read it back (`fdatasync(2)`).
    Data,
}

/// Whatever an op is aimed at: a device, a file, a test double.
///
/// Every method runs on the caller's thread and may block for the duration
/// of the I/O itself, but must not block waiting for a *resource* (a free
/// slot, a lock held across I/O): it answers [`Attempt::Busy`] instead, and
/// releases its [`Availability`] once the resource frees up.
pub trait Target: Send + Sync {
    /// Reads into `buf` from `offset`. Returns the number of bytes read,
    /// which is short at the end of the target and 0 past it.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Attempt<Result<usize>>;

    /// Writes `buf` at `offset`. Returns the number of bytes written.
    fn write_at(&self, buf: &[u8], offset: u64) -> Attempt<Result<usize>>;

    /// Makes earlier writes durable.
    fn flush(&self, kind: FlushKind) -> Attempt<Result<()>>;

    /// Where callers wait after [`Attempt::Busy`]. A target that can never be
    /// busy returns `None` (the default); if it answers `Busy` anyway the op
    /// fails with `EAGAIN` rather than sleeping forever.
    fn availability(&self) -> Option<&Availability> {
        None
    }

    /// The target's strategy routine, if it can start I/O without waiting
    /// for it (see [`Strategy`](crate::Strategy)). A servicer runs a target
    /// without one synchronously on its own thread.
    fn strategy(&self) -> Option<&dyn crate::strategy::Strategy> {
        None
    }
}

/// Turns a concrete target into the `Arc<dyn Target>` that ops carry.
// The shim's `Arc` cannot be unsized (loom's cannot), so the trait object is
// made as a std `Arc` and converted by the shim.
#[allow(clippy::disallowed_types)]
pub fn into_dyn<T: Target + 'static>(t: T) -> Arc<dyn Target> {
    crate::sync::arc_from_std(std::sync::Arc::new(t) as std::sync::Arc<dyn Target>)
}

/// A target's "resource is available again" event, which ops sleep on after
/// [`Attempt::Busy`]. See the module docs for the protocol.
#[derive(Debug)]
pub struct Availability {
    /// Bumped by every [`Availability::release`]; read with the list locked.
    epoch: AtomicU64,
    /// Ops sleeping on their `available` condvar. (lock: this mutex)
    waiters: Mutex<Vec<Arc<OpShared>>>,
}

impl Default for Availability {
    fn default() -> Self {
        Self::new()
    }
}

impl Availability {
    /// An availability event with no waiters.
    pub fn new() -> Self {
        Availability {
            epoch: AtomicU64::new(0),
            waiters: Mutex::new(Vec::new()),
        }
    }

    /// Reads the generation. Take a ticket *before* the attempt that may
    /// answer `Busy`, and pass it to the wait.
    #[inline]
    pub fn ticket(&self) -> u64 {
        // Acquire: pairs with the AcqRel bump in `release`, so anything the
        // releaser freed before bumping is visible to our next attempt.
        self.epoch.load(Ordering::Acquire)
    }

    /// Signals that the resource may be available: wakes every op that is
    /// waiting and makes every caller holding an older ticket retry.
    pub fn release(&self) {
        // The bump comes before we take the list lock; see the module docs.
        self.epoch.fetch_add(1, Ordering::AcqRel);
        let mut w = self.waiters.lock();
        // Drained under the list lock (lock order: list, then op.mtx) so the
        // vector keeps its capacity and the slow path allocates nothing.
        for op in w.drain(..) {
            op.signal_available();
        }
    }

    /// Number of ops currently asleep on this event.
    pub fn waiters(&self) -> usize {
        self.waiters.lock().len()
    }

    /// Registers `op` and sleeps on its `available` condvar until released.
    /// Returns at once if a release happened since `ticket`.
    pub(crate) fn wait(&self, op: &Arc<OpShared>, ticket: u64) {
        op.arm_available();
        {
            let mut w = self.waiters.lock();
            let stale = if crate::sync::mutant("available-no-gen-check") {
                false
            } else {
                // Relaxed is enough: the list lock orders us against the
                // releaser's lock, which it takes after its bump.
                self.epoch.load(Ordering::Relaxed) != ticket
            };
            if stale {
                return;
            }
            w.push(Arc::clone(op));
        }
        op.sleep_available();
    }
}

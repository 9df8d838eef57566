//! The asynchronous side of a target: NetBSD's strategy routine, and the
//! per-thread engine that lets one servicing thread keep many ops in flight.
//!
//! A [`Target`](crate::Target) that can start I/O without waiting for it
//! also implements [`Strategy`] and returns itself from
//! [`Target::strategy`](crate::Target::strategy). A servicing thread (a pool
//! worker) owns one engine set, [`Engines`], and hands it to every `submit`:
//! a `blockdev::FileDevice` finds the thread's io_uring in it, so a fixed
//! number of threads and io_urings serve any number of devices; a device
//! with a completion queue of its own keeps it in the set as one more
//! source ([`Engines::get_or_insert_with`]); for devices that complete on
//! threads of their own (NBD's reader, a delay wheel) the set only counts
//! the op ([`Engines::ticket`]) and is woken when it completes. How the
//! sources share the thread's one sleep: the [`engine`](crate::engine)
//! module docs.
//!
//! # Contract (what `submit` may and may not do)
//!
//! * `submit` never waits for the I/O. It completes the op exactly once, by
//!   [`InFlight::complete`](crate::InFlight::complete): inside `submit`
//!   (RAM disk), from a source's [`Engine::poll`] (io_uring), or from a
//!   thread the device owns. Dropping the token completes with `EIO`.
//! * An op completed anywhere but inside `submit` or `Engine::poll` must
//!   carry an [`EngineTicket`] taken from the set at submit time
//!   ([`Engines::ticket`]) and consume it right after completing the op, so
//!   the set's in-flight count stays right and a worker asleep in
//!   [`Engines::wait`] wakes up.
//! * Callbacks run on whichever thread completes the op, with no lock of the
//!   device held. A callback must not block and must not submit to the same
//!   set (it may be running inside `Engine::poll`).

use crate::engine::Engines;
#[cfg(doc)]
use crate::engine::{Engine, EngineTicket};
use crate::op::{CancelOutcome, InFlight, OpKey};

/// The strategy routine: start an op without waiting for it.
pub trait Strategy: Send + Sync {
    /// Starts `op`. See the module docs for the contract.
    fn submit(&self, op: InFlight, engines: &mut Engines);

    /// Tries to cancel the in-flight op whose [`OpKey`] is `op` and that
    /// was submitted through `engines`. `Cancelled` means the op has been or
    /// will be completed with `ECANCELED`; the default says it cannot be
    /// cancelled. A device finds the op by [`InFlight::key`], never by its
    /// user-settable id: two ops may share an id, and a wrapper's shadow op
    /// copies the id of the op it forwards.
    fn cancel(&self, op: OpKey, engines: &mut Engines) -> CancelOutcome {
        let _ = (op, engines);
        CancelOutcome::InFlight
    }

    /// Tries to complete `op` right now on this thread without blocking
    /// (a RAM disk; a page-cache hit with `RWF_NOWAIT`). Gives the op back
    /// if that would block. The default never tries.
    fn try_nowait(&self, op: InFlight) -> std::result::Result<(), InFlight> {
        Err(op)
    }
}

//! The shared record, the proposal's `struct aio_ops`: its fields, who may
//! touch each (the legend in [the op module's docs](super#field-legend)),
//! and the accessors the protocol files build on. The transitions of its
//! state word are in `state.rs`, delivery in `deliver.rs`, the busy wait in
//! `available.rs`, running the op against its target in `execute.rs`.

use std::fmt;

use super::buf::IoBuf;
use super::kind::{OpKey, OpKind, OpState};
use super::notify::Notify;
use super::state::StateWord;
use crate::error::{Error, Result};
use crate::sync::{Condvar, Mutex, UnsafeCell};

/// The record's handle on its target, bound in `execute.rs` to
/// `Arc<dyn Target>`.
///
/// The record and the servicer's token ([`InFlight`](crate::InFlight)) only
/// store this handle and hand it on. The op files that use it as a
/// [`Target`](crate::Target) are `execute.rs`, which says what it is, and
/// `owner.rs`, which no file here imports. So this file does not name the
/// target trait, whose [`strategy`](crate::Target::strategy) names a
/// [`Strategy`](crate::Strategy), whose `submit` takes an `InFlight`, which
/// holds this record. The type is fixed at compile time as before (no
/// erasure, no allocation, the same size); only the file that spells it
/// moved (see [the file map](super#files-and-imports)).
pub(super) trait TargetBinding {
    /// What a record holds to reach its target.
    type Handle;
}

/// The one implementor of [`TargetBinding`] (in `execute.rs`).
pub(super) enum Binding {}

/// The record's target handle: `Arc<dyn Target>`.
pub(super) type TargetHandle = <Binding as TargetBinding>::Handle;

/// The descriptor: what to do. Field mark `o` (see [the legend](super#field-legend)).
pub(super) struct Desc {
    pub(super) kind: OpKind,
    pub(super) offset: u64,
    pub(super) len: usize,
    pub(super) buf: IoBuf,
    pub(super) target: TargetHandle,
    pub(super) notify: Notify,
    pub(super) private: usize,
    pub(super) id: u64,
}

/// The fields under `OpShared::mtx`.
#[derive(Debug, Default)]
pub(super) struct Signals {
    /// The generation whose delivery the completer announced to registered
    /// waiters (`WAITERS`); 0: none yet. A stamp, never reset: a waiter
    /// returns only on the stamp of its own generation.
    pub(super) delivered: u64,
    /// Set by an `Availability` release while the op sleeps on `available`.
    pub(super) available: bool,
}

/// The shared op record, the proposal's `struct aio_ops`. Only the files of
/// `op/` see it; everyone else holds one of the
/// handles [`Op`](crate::Op), [`Pending`](crate::Pending),
/// [`Queued`](crate::Queued) or [`InFlight`](crate::InFlight).
pub(crate) struct OpShared {
    pub(super) state: StateWord,
    /// Which record this is: unique in the process, fixed at creation, and
    /// settable by nobody (the record half of an [`OpKey`]).
    pub(super) serial: u64,
    pub(super) desc: UnsafeCell<Desc>,
    pub(super) result: UnsafeCell<i64>,
    pub(super) mtx: Mutex<Signals>,
    pub(super) delivered: Condvar,
    pub(super) available: Condvar,
}

// SAFETY: the raw buffer pointer and the cells are only accessed under the
// state protocol described in the op module's docs (`README.md`): `desc` by the unique owner
// handle while the op is not submitted and read-only otherwise, `result` by
// the unique in-flight token and then read after an Acquire of the terminal
// state. The target handle (`Arc<dyn Target>`, `execute.rs`) is
// `Send + Sync` by the trait's bound.
unsafe impl Send for OpShared {}
// SAFETY: as for `Send`; every shared access is ordered by the state word or
// the mutex.
unsafe impl Sync for OpShared {}

impl fmt::Debug for OpShared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpShared")
            .field("state", &self.observe())
            .finish_non_exhaustive()
    }
}

pub(super) fn next_id() -> u64 {
    // Not part of any protocol: a source of unique record serials and
    // default ids, so loom need not see it and it is the one atomic that
    // bypasses the shim.
    #[allow(clippy::disallowed_types)]
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl OpShared {
    /// Reads the descriptor.
    ///
    /// # Safety
    /// The caller must be entitled to read `desc`: the owner, the holder of
    /// the in-flight token, or a completer before delivery.
    #[inline]
    pub(super) unsafe fn desc<R>(&self, f: impl FnOnce(&Desc) -> R) -> R {
        // SAFETY: the caller upholds that no `with_mut` runs concurrently.
        self.desc.with(|p| f(unsafe { &*p }))
    }

    /// Changes the descriptor.
    ///
    /// # Safety
    /// The caller must be the unique owner of a non-submitted op.
    #[inline]
    pub(super) unsafe fn desc_mut<R>(&self, f: impl FnOnce(&mut Desc) -> R) -> R {
        // SAFETY: the caller upholds exclusivity.
        self.desc.with_mut(|p| f(unsafe { &mut *p }))
    }

    pub(super) fn read_result(&self) -> Result<usize> {
        // SAFETY: called only after the terminal state was observed with
        // Acquire (or by the thread that wrote it), so the write happened
        // before and no other write can follow until the next submission,
        // which only the owner can make.
        Error::check_res(self.result.with(|p| unsafe { *p }))
    }

    /// The key of the current generation. Stable for the holder of a
    /// `Pending`, `Queued` (which keeps its own generation instead) or `InFlight`:
    /// only the owner's `Op` starts a new generation.
    pub(super) fn key(&self) -> OpKey {
        OpKey {
            record: self.serial,
            generation: self.state.load().generation(),
        }
    }

    pub(super) fn observe(&self) -> OpState {
        self.state.load().state()
    }
}

//! The `aio_ops` record and its life cycle.
//!
//! Read `op/README.md` (beside this file) first: it is the authoritative
//! description of the protocol, with the races written out and a proof
//! sketch. This header is the summary a reviewer needs at hand.
//!
//! # States
//!
//! ```text
//!            enqueue (owner)            start (servicer, CAS)
//!   IDLE ----------------------> QUEUED ---------------------> IN FLIGHT
//!    ^  \                          |                            |     |
//!    |   \ run_sync (owner,        | cancel (anyone, CAS:       |     | complete(Err(ECANCELED))
//!    |    \ caller's thread)       |  wins only against start)  |     | (the holder of the
//!    |     v                       v                            |     |  in-flight token)
//!    |   DONE <-------------------------------------------------+     v
//!    |     |           complete(result) (the in-flight token)     CANCELLED
//!    +-----+------------------------------------------------------------+
//!       the owner takes the op back (Pending::wait) and may enqueue it again
//! ```
//!
//! Exactly one party holds the right to complete a submitted op: whoever won
//! the CAS out of QUEUED (a servicer via [`Queued::start`], or a canceller).
//! That right is the [`InFlight`] token; [`InFlight::complete`] consumes it,
//! and dropping it unused completes the op with `EIO`, so an op is completed
//! exactly once and never lost.
//!
//! # Field legend and lock order (after NetBSD's `buf.h`)
//!
//! ```text
//!   o   written by the owner (Op) while IDLE/DONE/CANCELLED, read-only while submitted
//!   t   written by the holder of the in-flight token, read after the terminal
//!       state is observed with Acquire
//!   a   atomic (the state word)
//!   m   under OpShared::mtx
//!
//!   serial         -   the record's identity (OpKey), fixed at creation
//!   state          a   phase | WAITERS | generation; written only through
//!                      StateWord's named transitions (op/state.rs)
//!   desc           o   kind, offset, length, buffer, target, notification, private, id
//!   result         t   byte count or -errno
//!   mtx            -   protects `signals`
//!   signals        m   delivered stamp (a generation), available flag
//!   delivered      m   condvar: the op was delivered (result + notification)
//!   available      m   condvar: the target's resource was released
//!
//!   Lock order: Availability::waiters  ->  OpShared::mtx  ->  CompletionRing::mtx
//!   (the ring lock is only ever taken alone; no lock is held across a callback).
//! ```
//!
//! # Memory ordering
//!
//! The completer writes `result`, runs the notification, and only then moves
//! the state to DONE with an `AcqRel` RMW; a waiter that observes DONE with
//! `Acquire` therefore sees the result. The same RMW reports whether a waiter
//! set `WAITERS` before it; only then does the completer touch the mutex.
//!
//! # WARNING
//!
//! Once an op is delivered (its state is DONE or CANCELLED and, if a waiter
//! registered, its `delivered` stamp names this generation), its owner may
//! reuse or free it *at once*. The completer therefore reads everything it needs (callback,
//! ring, private data) *before* the delivering RMW, and after that RMW touches
//! nothing but the op's mutex, and only when a waiter told it to (and that
//! waiter cannot return before the completer has unlocked). Code that
//! completes ops (devices, pools) must follow the same rule for its own
//! structures: never touch an op after handing it back.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::ring::{CompletionRing, CqEntry};
use crate::sync::{Arc, Condvar, Mutex, UnsafeCell};
use crate::target::{Attempt, FlushKind, Target};

// The state word and its named transitions: the only code that writes it.
mod state;
use state::{CancelTry, StateWord};

/// What an op does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OpKind {
    /// Read `length` bytes at `offset` into the buffer.
    Read,
    /// Write `length` bytes of the buffer at `offset`.
    Write,
    /// Flush data and metadata (`fsync`); buffer and length are ignored.
    Fsync,
    /// Flush data (`fdatasync`); buffer and length are ignored.
    Fdatasync,
}

impl OpKind {
    /// Whether the op moves data (read or write) rather than flushing.
    pub fn is_transfer(self) -> bool {
        matches!(self, OpKind::Read | OpKind::Write)
    }
}

/// The observable life-cycle state of an op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpState {
    /// Not submitted; the owner may change it.
    Idle,
    /// Handed to a servicer, not started; can still be cancelled.
    Queued,
    /// Being serviced; only its servicer can finish it.
    InFlight,
    /// Finished and delivered; the result is readable.
    Done,
    /// Finished with `ECANCELED` and delivered.
    Cancelled,
}

/// The identity of one execution of one op: which record, and which of its
/// generations (see `op/README.md`, "States").
///
/// The protocol owns it: the record half is a serial fixed when the record
/// is made, the generation is the state word's, and neither can be set by a
/// user or a wrapper. Cancellation and every servicer's bookkeeping key on
/// it; the op's [`id`](Op::id) is the user's data (a wrapper's shadow op
/// may copy it, two ops may share it) and identifies nothing. Get it from
/// [`Pending::key`], [`Queued::key`] or [`InFlight::key`]: the three
/// handles of one submission give the same key, and a later submission of
/// the same record gives another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OpKey {
    record: u64,
    generation: u64,
}

impl OpKey {
    /// The record's serial (unique in the process).
    pub fn record(self) -> u64 {
        self.record
    }

    /// The submission's generation on that record.
    pub fn generation(self) -> u64 {
        self.generation
    }
}

/// A completion callback: the proposal's `int (*callback)(struct aio_ops *)`.
///
/// It runs on whichever thread completed the op, with no lock held, after
/// the result is stored and before the op counts as delivered. It must not
/// block for long, must not wait for its own op, and must not touch the
/// op's buffer except through the [`Completion`] it is given. A panic is
/// caught: the op is then delivered with `EIO`.
pub type Callback = fn(&Completion<'_>);

/// How a completion is announced, besides waking waiters.
enum Notify {
    /// Nobody is called; the owner polls or waits (`delivered`).
    Wait,
    /// A function is called with the completion.
    Callback(Callback),
    /// An entry is pushed to a completion ring.
    Ring(Arc<CompletionRing>),
}

/// Where the data lives.
enum BufStore {
    /// No buffer (flushes, or a fresh op).
    None,
    /// Owned by the op; handed back by [`Op::into_buf`].
    Owned(Vec<u8>),
    /// Borrowed from a C caller, valid as promised to [`Op::from_raw_parts`].
    Raw { ptr: NonNull<u8>, cap: usize },
}

impl BufStore {
    #[inline]
    fn ptr_cap(&mut self) -> (*mut u8, usize) {
        match self {
            BufStore::None => (NonNull::dangling().as_ptr(), 0),
            BufStore::Owned(v) => (v.as_mut_ptr(), v.len()),
            BufStore::Raw { ptr, cap } => (ptr.as_ptr(), *cap),
        }
    }
}

/// The descriptor: what to do. Field mark `o` (see the module legend).
struct Desc {
    kind: OpKind,
    offset: u64,
    len: usize,
    buf: BufStore,
    target: Arc<dyn Target>,
    notify: Notify,
    private: usize,
    id: u64,
}

/// The fields under `OpShared::mtx`.
#[derive(Debug, Default)]
struct Signals {
    /// The generation whose delivery the completer announced to registered
    /// waiters (`WAITERS`); 0: none yet. A stamp, never reset: a waiter
    /// returns only on the stamp of its own generation.
    delivered: u64,
    /// Set by an `Availability` release while the op sleeps on `available`.
    available: bool,
}

/// The shared op record, the proposal's `struct aio_ops`. Only this module
/// and the availability protocol see it; everyone else holds one of the
/// handles [`Op`], [`Pending`], [`Queued`] or [`InFlight`].
pub struct OpShared {
    state: StateWord,
    /// Which record this is: unique in the process, fixed at creation, and
    /// settable by nobody (the record half of an [`OpKey`]).
    serial: u64,
    desc: UnsafeCell<Desc>,
    result: UnsafeCell<i64>,
    mtx: Mutex<Signals>,
    delivered: Condvar,
    available: Condvar,
}

// SAFETY: the raw buffer pointer and the cells are only accessed under the
// state protocol described in the module docs: `desc` by the unique owner
// handle while the op is not submitted and read-only otherwise, `result` by
// the unique in-flight token and then read after an Acquire of the terminal
// state. The target is `Send + Sync` by its trait bound.
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

// The record stays within four cache lines; the handles are one pointer.
#[cfg(not(loom))]
mod size_checks {
    use super::*;
    static_assertions::const_assert!(std::mem::size_of::<OpShared>() <= 256);
    static_assertions::assert_eq_size!(Op, usize);
    static_assertions::assert_eq_size!(Pending, usize);
}

fn next_id() -> u64 {
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
    unsafe fn desc<R>(&self, f: impl FnOnce(&Desc) -> R) -> R {
        // SAFETY: the caller upholds that no `with_mut` runs concurrently.
        self.desc.with(|p| f(unsafe { &*p }))
    }

    /// Changes the descriptor.
    ///
    /// # Safety
    /// The caller must be the unique owner of a non-submitted op.
    #[inline]
    unsafe fn desc_mut<R>(&self, f: impl FnOnce(&mut Desc) -> R) -> R {
        // SAFETY: the caller upholds exclusivity.
        self.desc.with_mut(|p| f(unsafe { &mut *p }))
    }

    fn read_result(&self) -> Result<usize> {
        // SAFETY: called only after the terminal state was observed with
        // Acquire (or by the thread that wrote it), so the write happened
        // before and no other write can follow until the next submission,
        // which only the owner can make.
        Error::check_res(self.result.with(|p| unsafe { *p }))
    }

    /// Runs the op against its target on the calling thread.
    ///
    /// # Safety
    /// The caller holds the right to the buffer: the owner in synchronous
    /// mode, or the in-flight token.
    #[inline]
    unsafe fn execute(&self) -> Attempt<Result<usize>> {
        // SAFETY: the caller's right to the op covers the descriptor and the
        // buffer; `ptr_cap` points at `cap >= len` valid bytes (checked by
        // `Op::prepare`, promised by `from_raw_parts`).
        self.desc.with_mut(|p| unsafe {
            let d = &mut *p;
            let (ptr, _) = d.buf.ptr_cap();
            match d.kind {
                OpKind::Read => d
                    .target
                    .read_at(std::slice::from_raw_parts_mut(ptr, d.len), d.offset),
                OpKind::Write => d
                    .target
                    .write_at(std::slice::from_raw_parts(ptr, d.len), d.offset),
                OpKind::Fsync => match d.target.flush(FlushKind::Full) {
                    Attempt::Ready(r) => Attempt::Ready(r.map(|()| 0)),
                    Attempt::Busy => Attempt::Busy,
                },
                OpKind::Fdatasync => match d.target.flush(FlushKind::Data) {
                    Attempt::Ready(r) => Attempt::Ready(r.map(|()| 0)),
                    Attempt::Busy => Attempt::Busy,
                },
            }
        })
    }

    // ---- the availability side (called by `Availability`) ----

    pub(crate) fn arm_available(&self) {
        self.mtx.lock().available = false;
    }

    pub(crate) fn signal_available(&self) {
        let mut g = self.mtx.lock();
        g.available = true;
        self.available.notify_one();
    }

    pub(crate) fn sleep_available(&self) {
        let mut g = self.mtx.lock();
        while !g.available {
            g = self.available.wait(g);
        }
    }

    // ---- delivery ----

    /// Completes the op: stores the result, notifies, delivers. The caller
    /// held the in-flight right, which this consumes.
    fn complete(&self, r: Result<usize>) {
        let mut res = Error::to_res(r);
        // SAFETY: we hold the in-flight right: nobody else writes `result`
        // and nobody reads it before the delivering RMW below.
        self.result.with_mut(|p| unsafe { *p = res });

        let run_notify = |this: &OpShared, res: &mut i64| {
            // SAFETY: the descriptor is read-only while submitted and the
            // owner cannot touch it before delivery.
            let notify = unsafe {
                this.desc(|d| match &d.notify {
                    Notify::Wait => None,
                    Notify::Callback(cb) => Some(Ok(*cb)),
                    Notify::Ring(ring) => Some(Err((Arc::clone(ring), d.id, d.private))),
                })
            };
            match notify {
                None => {}
                Some(Ok(cb)) => {
                    let c = Completion {
                        op: this,
                        result: Error::check_res(*res),
                    };
                    if catch_unwind(AssertUnwindSafe(|| cb(&c))).is_err() {
                        crate::stats::count_callback_panic();
                        *res = Error::to_res(Err(Error::EIO));
                        // SAFETY: still before delivery; we are the only writer.
                        this.result.with_mut(|p| unsafe { *p = *res });
                    }
                }
                Some(Err((ring, id, private))) => {
                    // With the credit the submission took: never sleeps.
                    ring.publish(CqEntry {
                        id,
                        user_data: private as u64,
                        res: *res,
                    });
                }
            }
        };

        let late = crate::sync::mutant("callback-after-delivery");
        if !late {
            run_notify(self, &mut res);
        }

        // The delivering RMW (C3; its orderings are argued in `state.rs`).
        let prev = self.state.deliver(res == -i64::from(libc::ECANCELED));

        if late {
            run_notify(self, &mut res);
        }
        if prev.has_waiters() && !crate::sync::mutant("delivered-no-notify") {
            // A waiter registered before delivery and is waiting for the
            // stamp of this generation: it cannot return (and free the op)
            // until we unlock.
            let mut g = self.mtx.lock();
            g.delivered = prev.generation();
            self.delivered.notify_all();
        }
        // WARNING: from here on the op may already be reused or freed.
    }

    /// Waits until the op is delivered, or `deadline` passes. Returns
    /// whether it was delivered.
    fn wait_delivered(&self, deadline: Option<Instant>) -> bool {
        // Fast path: delivered and nobody asked the completer to notify, so
        // the completer is done with the op.
        let s = self.state.load();
        if s.is_terminal() && !s.has_waiters() {
            return true;
        }
        // The execution we wait for. It cannot change while we wait: only
        // the owner's `Op` can start a new one, and it does not exist while
        // a `Pending` does.
        let generation = s.generation();
        let stamped = |g: &Signals| {
            if crate::sync::mutant("delivered-unstamped") {
                // The old boolean flag: any earlier delivery counts.
                g.delivered != 0
            } else {
                g.delivered == generation
            }
        };
        let mut g = self.mtx.lock();
        loop {
            if stamped(&g) {
                return true;
            }
            let s = self.state.load();
            debug_assert_eq!(s.generation(), generation, "resubmitted while waited for");
            if s.is_terminal() {
                if !s.has_waiters() {
                    // The completer's RMW came before any registration: it
                    // will not take the lock.
                    return true;
                }
                // Somebody registered first: the completer will set the
                // stamp under the lock; wait for it.
            } else if !s.has_waiters() {
                // Register (W3), on a non-terminal state only.
                if !self.state.register_waiter(s) {
                    continue;
                }
            }
            match deadline {
                None => g = self.delivered.wait(g),
                Some(d) => {
                    let (g2, timed_out) = self.delivered.wait_until(g, d);
                    g = g2;
                    if timed_out && !stamped(&g) {
                        let s = self.state.load();
                        return s.is_terminal() && !s.has_waiters();
                    }
                }
            }
        }
    }

    /// The key of the current generation. Stable for the holder of a
    /// `Pending`, `Queued` (which uses its own epoch instead) or `InFlight`:
    /// only the owner's `Op` starts a new generation.
    fn key(&self) -> OpKey {
        OpKey {
            record: self.serial,
            generation: self.state.load().generation(),
        }
    }

    fn observe(&self) -> OpState {
        self.state.load().state()
    }
}

/// The view of a finished op that a [`Callback`] receives.
pub struct Completion<'a> {
    op: &'a OpShared,
    result: Result<usize>,
}

impl Completion<'_> {
    /// The op's result: bytes transferred (0 for a flush) or the error.
    pub fn result(&self) -> Result<usize> {
        self.result
    }

    /// The op's id.
    pub fn id(&self) -> u64 {
        // SAFETY: before delivery the descriptor is read-only and alive.
        unsafe { self.op.desc(|d| d.id) }
    }

    /// The op's private data (the proposal's `void *private`).
    pub fn private(&self) -> usize {
        // SAFETY: as in `id`.
        unsafe { self.op.desc(|d| d.private) }
    }

    /// The op's kind.
    pub fn kind(&self) -> OpKind {
        // SAFETY: as in `id`.
        unsafe { self.op.desc(|d| d.kind) }
    }
}

impl fmt::Debug for Completion<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Completion")
            .field("id", &self.id())
            .field("result", &self.result)
            .finish()
    }
}

/// The owner's handle on an op that is not submitted (idle or finished).
///
/// There is exactly one `Op` per record and it exists only while no
/// servicer holds the op, so its methods may change the descriptor and
/// touch the buffer freely. Submitting it ([`Op::enqueue`]) turns it into a
/// [`Pending`] for the owner and a [`Queued`] for the servicer; the owner
/// gets the `Op` back from [`Pending::wait`].
///
/// The buffer cannot be reached, replaced or freed while the op is
/// submitted, because the `Op` that owns it no longer exists:
///
/// ```compile_fail,E0382
/// use aio_core::{Op, OpKind, MemTarget, into_dyn};
/// let mut op = Op::new(into_dyn(MemTarget::new(4096)), vec![0u8; 512]);
/// op.prepare(OpKind::Read, 0, 512).unwrap();
/// let (pending, queued) = op.enqueue();
/// op.buf_mut()[0] = 1; // error: `op` was moved into the submission
/// # drop((pending, queued));
/// ```
///
/// ```compile_fail,E0505
/// use aio_core::{Op, OpKind, MemTarget, into_dyn};
/// let mut op = Op::new(into_dyn(MemTarget::new(4096)), vec![0u8; 512]);
/// op.prepare(OpKind::Read, 0, 512).unwrap();
/// let buf: &mut [u8] = op.buf_mut();
/// let (pending, queued) = op.enqueue(); // error: `op` is still borrowed by `buf`
/// buf[0] = 1;
/// # drop((pending, queued));
/// ```
///
/// ```compile_fail,E0382
/// use aio_core::{Op, OpKind, MemTarget, into_dyn};
/// let mut op = Op::new(into_dyn(MemTarget::new(4096)), vec![0u8; 512]);
/// op.prepare(OpKind::Read, 0, 512).unwrap();
/// let (pending, queued) = op.enqueue();
/// drop(op.into_buf()); // error: the buffer went with the op; it cannot be freed
/// # drop((pending, queued));
/// ```
pub struct Op {
    shared: Arc<OpShared>,
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Op")
            .field("id", &self.id())
            .field("kind", &self.kind())
            .field("offset", &self.offset())
            .field("len", &self.len())
            .field("state", &self.state())
            .finish()
    }
}

impl Op {
    /// The size in bytes of the shared op record (the proposal's
    /// `struct aio_ops`).
    pub const RECORD_SIZE: usize = std::mem::size_of::<OpShared>();

    fn with_buf(target: Arc<dyn Target>, buf: BufStore) -> Op {
        Op {
            shared: Arc::new(OpShared {
                state: StateWord::new(),
                serial: next_id(),
                desc: UnsafeCell::new(Desc {
                    kind: OpKind::Read,
                    offset: 0,
                    len: 0,
                    buf,
                    target,
                    notify: Notify::Wait,
                    private: 0,
                    id: next_id(),
                }),
                result: UnsafeCell::new(0),
                mtx: Mutex::new(Signals::default()),
                delivered: Condvar::new(),
                available: Condvar::new(),
            }),
        }
    }

    /// A new idle op on `target` that owns `buf`. It reads 0 bytes at
    /// offset 0 until [`Op::prepare`] says otherwise; it notifies nobody
    /// (synchronous mode) until given a callback or a ring.
    pub fn new(target: Arc<dyn Target>, buf: Vec<u8>) -> Op {
        Op::with_buf(target, BufStore::Owned(buf))
    }

    /// A new idle op whose buffer is `len` bytes at `ptr`, owned by the
    /// caller (the C layer's `aio_buf`).
    ///
    /// # Safety
    ///
    /// From this call until the op is dropped or given another buffer,
    /// whenever the op is submitted or run, `ptr` must be valid for reads
    /// and writes of `len` bytes, and nothing else may access those bytes
    /// between submission and delivery. After delivery (see the module
    /// WARNING) the caller may free them.
    pub unsafe fn from_raw_parts(target: Arc<dyn Target>, ptr: *mut u8, len: usize) -> Op {
        let buf = match NonNull::new(ptr) {
            Some(ptr) if len > 0 => BufStore::Raw { ptr, cap: len },
            _ => BufStore::None,
        };
        Op::with_buf(target, buf)
    }

    /// Points the op at a caller-owned buffer, dropping an owned one.
    ///
    /// # Safety
    ///
    /// As for [`Op::from_raw_parts`].
    pub unsafe fn set_raw_buf(&mut self, ptr: *mut u8, len: usize) {
        let buf = match NonNull::new(ptr) {
            Some(ptr) if len > 0 => BufStore::Raw { ptr, cap: len },
            _ => BufStore::None,
        };
        // SAFETY: `Op` is the unique owner of a non-submitted op.
        unsafe { self.shared.desc_mut(|d| d.buf = buf) }
    }

    /// Gives the op an owned buffer; returns the previous owned one.
    pub fn set_buf(&mut self, buf: Vec<u8>) -> Option<Vec<u8>> {
        // SAFETY: `Op` is the unique owner of a non-submitted op.
        let old = unsafe {
            self.shared
                .desc_mut(|d| std::mem::replace(&mut d.buf, BufStore::Owned(buf)))
        };
        match old {
            BufStore::Owned(v) => Some(v),
            _ => None,
        }
    }

    /// Sets what the op does. Errors, and the op is unchanged:
    /// * `EINVAL`: `len` is longer than the buffer, or larger than
    ///   `isize::MAX`, or `offset` is larger than `i64::MAX`;
    /// * `EOVERFLOW`: `offset + len` does not fit in an `off_t` (`i64`).
    ///
    /// Flushes ignore `offset` and `len` (both are stored as 0).
    #[inline]
    pub fn prepare(&mut self, kind: OpKind, offset: u64, len: usize) -> Result<()> {
        let (offset, len) = if kind.is_transfer() {
            (offset, len)
        } else {
            (0, 0)
        };
        if offset > i64::MAX as u64 || len > isize::MAX as usize {
            return Err(Error::EINVAL);
        }
        if offset
            .checked_add(len as u64)
            .is_none_or(|end| end > i64::MAX as u64)
        {
            return Err(Error::EOVERFLOW);
        }
        // SAFETY: `Op` is the unique owner of a non-submitted op.
        unsafe {
            self.shared.desc_mut(|d| {
                if len > d.buf.ptr_cap().1 {
                    return Err(Error::EINVAL);
                }
                d.kind = kind;
                d.offset = offset;
                d.len = len;
                Ok(())
            })
        }
    }

    /// Sets the target.
    pub fn set_target(&mut self, target: Arc<dyn Target>) {
        // SAFETY: `Op` is the unique owner of a non-submitted op.
        unsafe { self.shared.desc_mut(|d| d.target = target) }
    }

    /// The target.
    pub fn target(&self) -> Arc<dyn Target> {
        // SAFETY: the owner may read its descriptor.
        unsafe { self.shared.desc(|d| Arc::clone(&d.target)) }
    }

    /// Completions call `cb` (asynchronous mode with a callback).
    pub fn set_callback(&mut self, cb: Callback) {
        // SAFETY: `Op` is the unique owner of a non-submitted op.
        unsafe { self.shared.desc_mut(|d| d.notify = Notify::Callback(cb)) }
    }

    /// Completions are pushed to `ring`, with the op's private data as the
    /// entry's `user_data`.
    pub fn set_ring(&mut self, ring: Arc<CompletionRing>) {
        // SAFETY: `Op` is the unique owner of a non-submitted op.
        unsafe { self.shared.desc_mut(|d| d.notify = Notify::Ring(ring)) }
    }

    /// Removes the callback or ring: the op is in synchronous mode again.
    pub fn clear_notify(&mut self) {
        // SAFETY: `Op` is the unique owner of a non-submitted op.
        unsafe { self.shared.desc_mut(|d| d.notify = Notify::Wait) }
    }

    /// Whether completions call nobody: synchronous mode, in the
    /// proposal's terms (the callback is NULL).
    pub fn is_synchronous(&self) -> bool {
        // SAFETY: the owner may read its descriptor.
        unsafe { self.shared.desc(|d| matches!(d.notify, Notify::Wait)) }
    }

    /// Sets the private data handed to the callback or ring.
    pub fn set_private(&mut self, private: usize) {
        // SAFETY: `Op` is the unique owner of a non-submitted op.
        unsafe { self.shared.desc_mut(|d| d.private = private) }
    }

    /// The private data.
    pub fn private(&self) -> usize {
        // SAFETY: the owner may read its descriptor.
        unsafe { self.shared.desc(|d| d.private) }
    }

    /// Sets the id (unique by default). The id is the user's data, carried
    /// to callbacks and ring entries; the protocol never keys on it (see
    /// [`OpKey`]).
    pub fn set_id(&mut self, id: u64) {
        // SAFETY: `Op` is the unique owner of a non-submitted op.
        unsafe { self.shared.desc_mut(|d| d.id = id) }
    }

    /// The id.
    pub fn id(&self) -> u64 {
        // SAFETY: the owner may read its descriptor.
        unsafe { self.shared.desc(|d| d.id) }
    }

    /// The kind.
    pub fn kind(&self) -> OpKind {
        // SAFETY: the owner may read its descriptor.
        unsafe { self.shared.desc(|d| d.kind) }
    }

    /// The offset.
    pub fn offset(&self) -> u64 {
        // SAFETY: the owner may read its descriptor.
        unsafe { self.shared.desc(|d| d.offset) }
    }

    /// The length of the transfer.
    pub fn len(&self) -> usize {
        // SAFETY: the owner may read its descriptor.
        unsafe { self.shared.desc(|d| d.len) }
    }

    /// Whether the transfer length is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The whole buffer.
    pub fn buf(&self) -> &[u8] {
        // SAFETY: the owner may touch the buffer while the op is not
        // submitted; `&self` keeps it from being submitted while borrowed.
        unsafe {
            self.shared.desc.with_mut(|p| {
                let (ptr, cap) = (*p).buf.ptr_cap();
                std::slice::from_raw_parts(ptr, cap)
            })
        }
    }

    /// The whole buffer, mutably.
    pub fn buf_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `buf`, with `&mut self` for exclusivity.
        unsafe {
            self.shared.desc.with_mut(|p| {
                let (ptr, cap) = (*p).buf.ptr_cap();
                std::slice::from_raw_parts_mut(ptr, cap)
            })
        }
    }

    /// Takes the owned buffer back (`None` for a raw or absent one).
    pub fn into_buf(self) -> Option<Vec<u8>> {
        // SAFETY: `Op` is the unique owner of a non-submitted op.
        let old = unsafe {
            self.shared
                .desc_mut(|d| std::mem::replace(&mut d.buf, BufStore::None))
        };
        match old {
            BufStore::Owned(v) => Some(v),
            _ => None,
        }
    }

    /// Idle, Done or Cancelled (an `Op` is never submitted).
    pub fn state(&self) -> OpState {
        self.shared.observe()
    }

    /// The result of the last completion, if the op has completed.
    pub fn result(&self) -> Option<Result<usize>> {
        if self.shared.state.load().is_terminal() {
            Some(self.shared.read_result())
        } else {
            None
        }
    }

    /// Synchronous mode: runs the op on the calling thread against its
    /// target and returns the result. If the target is busy, sleeps on the
    /// op's `available` condvar until the target's resource is released.
    /// No queue, no other thread, no allocation.
    ///
    /// The op's callback or ring, if any, is not called: the caller is the
    /// servicer and receives the result directly.
    #[inline]
    pub fn run_sync(&mut self) -> Result<usize> {
        // SAFETY: `&mut Op` makes us the only thread touching this record.
        let r = match unsafe { self.shared.execute() } {
            Attempt::Ready(r) => r,
            Attempt::Busy => self.run_sync_busy(),
        };
        let sh = &*self.shared;
        // SAFETY: exclusive, as above.
        sh.result.with_mut(|p| unsafe { *p = Error::to_res(r) });
        // finish-sync: a new generation of its own, so nothing a waiter of
        // an earlier asynchronous run left behind can apply to a later one.
        sh.state.finish_sync(r == Err(Error::ECANCELED));
        r
    }

    #[cold]
    fn run_sync_busy(&mut self) -> Result<usize> {
        let target = self.target();
        let Some(avail) = target.availability() else {
            return Err(Error::EAGAIN);
        };
        loop {
            // The ticket is taken before the attempt, so a release between
            // the attempt and the wait is never missed.
            let ticket = avail.ticket();
            // SAFETY: `&mut Op`: exclusive.
            match unsafe { self.shared.execute() } {
                Attempt::Ready(r) => return r,
                Attempt::Busy => avail.wait(&self.shared, ticket),
            }
        }
    }

    /// Submits the op: it becomes QUEUED. The owner keeps the [`Pending`];
    /// the [`Queued`] goes to whoever will service it (a pool queue, a
    /// device). A [`Queued`] dropped without being started cancels the op.
    ///
    /// An op that completes to a ring first takes one of the ring's credits
    /// (the slot its completion entry will use), sleeping while the ring has
    /// none, that is until its reaper consumes an entry: the back-pressure
    /// of a full ring falls on the submitter, never on the completer (see
    /// [`ring`](crate::ring)). A thread that must not sleep (a callback, the
    /// ring's own reaper) submits ring ops with [`Op::try_enqueue`].
    pub fn enqueue(self) -> (Pending, Queued) {
        if !crate::sync::mutant("credit-not-reserved") {
            self.with_ring(CompletionRing::take_credit);
        }
        self.enqueue_credited()
    }

    /// As [`Op::enqueue`], but never sleeps: an op that completes to a ring
    /// with no free credit is given back (the caller may reap, or retry
    /// later; `EAGAIN` in POSIX terms).
    pub fn try_enqueue(self) -> std::result::Result<(Pending, Queued), Op> {
        if self.with_ring(CompletionRing::try_take_credit) == Some(false) {
            return Err(self);
        }
        Ok(self.enqueue_credited())
    }

    /// Applies `f` to the ring this op completes to, if any.
    fn with_ring<R>(&self, f: impl FnOnce(&CompletionRing) -> R) -> Option<R> {
        // SAFETY: the owner may read its descriptor, and nobody else can
        // touch it before the op is enqueued.
        unsafe {
            self.shared.desc(|d| match &d.notify {
                Notify::Ring(r) => Some(f(r)),
                _ => None,
            })
        }
    }

    /// The enqueue transition, once a ring op holds its credit.
    fn enqueue_credited(self) -> (Pending, Queued) {
        let sh = &self.shared;
        // SAFETY: still the unique owner; reading the descriptor is allowed.
        let info = unsafe {
            sh.desc(|d| QueuedInfo {
                kind: d.kind,
                offset: d.offset,
                len: d.len,
                id: d.id,
                private: d.private,
                target_key: Arc::as_ptr(&d.target) as *const () as usize,
            })
        };
        // enqueue: a new generation, published with Release (`state.rs`).
        // Nothing of the last execution needs resetting: `WAITERS` went with
        // the old word and the `delivered` stamp names the old generation.
        let epoch = sh.state.enqueue();
        let queued = Queued {
            shared: Arc::clone(&self.shared),
            epoch,
            info,
        };
        (
            Pending {
                shared: self.shared,
            },
            queued,
        )
    }
}

/// The owner's handle on a submitted op.
///
/// Waiting consumes it and gives the [`Op`] back; `&Pending` can be shared
/// with other threads that only need to know when the op is done. Dropping
/// it detaches the op: it still completes, its notification still runs, and
/// its memory and buffer are freed when the servicer lets go.
#[must_use = "dropping a Pending detaches the op; wait for it to get the Op back"]
pub struct Pending {
    shared: Arc<OpShared>,
}

impl fmt::Debug for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pending")
            .field("state", &self.state())
            .finish()
    }
}

/// What [`Pending::cancel`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The op was still queued: it was completed with `ECANCELED` and
    /// delivered before `cancel` returned.
    Cancelled,
    /// The op is in flight; only its servicer can cancel it now (POSIX's
    /// `AIO_NOTCANCELED`).
    InFlight,
    /// The op had already completed (POSIX's `AIO_ALLDONE`).
    AlreadyDone,
}

impl Pending {
    /// This submission's identity (see [`OpKey`]).
    pub fn key(&self) -> OpKey {
        self.shared.key()
    }

    /// The current state.
    pub fn state(&self) -> OpState {
        self.shared.observe()
    }

    /// Whether the op is delivered (`aio_error` would no longer answer
    /// `EINPROGRESS`).
    pub fn is_complete(&self) -> bool {
        self.shared.state.load().is_terminal()
    }

    /// Sleeps on `delivered` until the op is delivered or `timeout` passes.
    /// Returns whether it was delivered.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.shared.wait_delivered(Some(Instant::now() + timeout))
    }

    /// Sleeps on `delivered` until the op is delivered.
    pub fn wait_ref(&self) {
        self.shared.wait_delivered(None);
    }

    /// Sleeps until the op is delivered; returns the op (idle again, for
    /// reuse) and its result.
    pub fn wait(self) -> (Op, Result<usize>) {
        self.shared.wait_delivered(None);
        let r = self.shared.read_result();
        (
            Op {
                shared: self.shared,
            },
            r,
        )
    }

    /// Returns the op and its result if it is delivered, else gives the
    /// `Pending` back. Never sleeps for long: only when a waiter is racing
    /// the completer's final notify.
    pub fn try_complete(self) -> std::result::Result<(Op, Result<usize>), Pending> {
        if self.is_complete() {
            Ok(self.wait())
        } else {
            Err(self)
        }
    }

    /// Cancels the op if it has not started. See [`CancelOutcome`].
    pub fn cancel(&self) -> CancelOutcome {
        cancel_shared(&self.shared, None)
    }
}

fn cancel_shared(sh: &OpShared, epoch: Option<u64>) -> CancelOutcome {
    match sh.state.cancel(epoch) {
        CancelTry::Won => {
            sh.complete(Err(Error::ECANCELED));
            CancelOutcome::Cancelled
        }
        CancelTry::InFlight => CancelOutcome::InFlight,
        CancelTry::AlreadyDone => CancelOutcome::AlreadyDone,
    }
}

/// What a servicer may know of a queued op without starting it (copied at
/// submission, so reading it never races the owner).
#[derive(Debug, Clone, Copy)]
struct QueuedInfo {
    kind: OpKind,
    offset: u64,
    len: usize,
    id: u64,
    private: usize,
    target_key: usize,
}

/// A servicer's claim on a queued op: the thing a pool keeps in its queue.
///
/// It should be either started ([`Queued::start`]) or cancelled
/// ([`Queued::cancel`]); starting fails if the owner cancelled the op in
/// the meantime, and then the token is simply dropped. Dropping a token
/// whose op is still queued cancels the op (delivered with `ECANCELED`), so
/// a lost token never leaves an owner waiting.
pub struct Queued {
    shared: Arc<OpShared>,
    epoch: u64,
    info: QueuedInfo,
}

impl fmt::Debug for Queued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queued")
            .field("id", &self.info.id)
            .field("kind", &self.info.kind)
            .finish()
    }
}

impl Queued {
    /// The op's kind.
    pub fn kind(&self) -> OpKind {
        self.info.kind
    }
    /// The op's offset.
    pub fn offset(&self) -> u64 {
        self.info.offset
    }
    /// The op's transfer length.
    pub fn len(&self) -> usize {
        self.info.len
    }
    /// Whether the transfer length is 0.
    pub fn is_empty(&self) -> bool {
        self.info.len == 0
    }
    /// The op's id: the user's data, not an identity (see [`OpKey`]).
    pub fn id(&self) -> u64 {
        self.info.id
    }
    /// This submission's identity (see [`OpKey`]).
    pub fn key(&self) -> OpKey {
        OpKey {
            record: self.shared.serial,
            generation: self.epoch,
        }
    }
    /// The op's private data.
    pub fn private(&self) -> usize {
        self.info.private
    }
    /// A key identifying the op's target (its address), for per-target
    /// ordering and hashing.
    pub fn target_key(&self) -> usize {
        self.info.target_key
    }

    /// A watch on this submission: tells a servicer, without any hook in
    /// the device, when the op has been delivered (see [`OpWatch`]). Take
    /// it before [`start`](Queued::start), which consumes the token.
    pub fn watch(&self) -> OpWatch {
        OpWatch {
            shared: Arc::clone(&self.shared),
            generation: self.epoch,
        }
    }

    /// Whether the op was cancelled (or otherwise left QUEUED).
    pub fn is_live(&self) -> bool {
        let s = self.shared.state.load();
        s.generation() == self.epoch && s.is_queued()
    }

    /// Moves the op to IN FLIGHT and hands over the right to complete it;
    /// `None` if it was cancelled first.
    pub fn start(self) -> Option<InFlight> {
        if !self.shared.state.start(self.epoch) {
            return None;
        }
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so the `Arc` is moved out of it
        // exactly once (and `Queued::drop`, which would find the op no
        // longer queued anyway, is skipped).
        let shared = unsafe { std::ptr::read(&this.shared) };
        Some(InFlight {
            shared,
            done: false,
        })
    }

    /// Cancels the op if it is still queued: it is completed with
    /// `ECANCELED` and delivered. Returns what happened.
    pub fn cancel(self) -> CancelOutcome {
        cancel_shared(&self.shared, Some(self.epoch))
    }
}

impl Drop for Queued {
    /// A servicer that lets go of a queued op without starting it (a bug,
    /// or a queue torn down in a hurry) cancels it, so its owner is never
    /// left waiting: the op is delivered with `ECANCELED`. A token whose
    /// op was started, cancelled or resubmitted since is inert.
    fn drop(&mut self) {
        if self.is_live()
            && cancel_shared(&self.shared, Some(self.epoch)) == CancelOutcome::Cancelled
        {
            crate::stats::count_dropped_queued();
        }
    }
}

/// A servicer's watch on one submission of an op: whether it has been
/// delivered yet, per op, without waiting and without a hook in the device
/// that completes it.
///
/// Made by [`Queued::watch`] or [`InFlight::watch`] before the token goes
/// to a device. [`is_complete`](OpWatch::is_complete) becomes true when
/// that submission is delivered (its state word turns DONE or CANCELLED in
/// the watched generation, or a later generation has begun, which only the
/// owner can start after taking the op back) and stays true. aio-pool's
/// fsync barrier and FIFO order check one watch per op they depend on
/// (`aio-pool/src/order.rs`, "How completion is known").
///
/// # Memory ordering
///
/// `is_complete` reads the state word with Acquire, pairing with the
/// completer's delivering RMW (Release): a `true` answer makes everything
/// the completer did before delivering (the I/O, the result, the
/// notification) happen before what the watcher does next.
///
/// A watch wakes nobody: the watcher must look again when it has reason to
/// (a device that completes off the servicing thread rings the engine
/// *after* delivering, through its [`EngineTicket`](crate::EngineTicket)).
/// It never reads the descriptor or the buffer, so holding one after the
/// delivery is harmless (see the module's WARNING): it only keeps the
/// record's memory, not the owner's use of it.
pub struct OpWatch {
    shared: Arc<OpShared>,
    generation: u64,
}

impl fmt::Debug for OpWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpWatch")
            .field("key", &self.key())
            .field("complete", &self.is_complete())
            .finish()
    }
}

impl OpWatch {
    /// Whether the watched submission has been delivered (see the type's
    /// docs). Never blocks.
    pub fn is_complete(&self) -> bool {
        self.shared.state.delivered_since(self.generation)
    }

    /// The watched submission's identity (see [`OpKey`]).
    pub fn key(&self) -> OpKey {
        OpKey {
            record: self.shared.serial,
            generation: self.generation,
        }
    }
}

/// The right, and the duty, to complete an op exactly once.
///
/// Whoever holds it may read the descriptor and use the buffer; nobody else
/// can. [`InFlight::complete`] consumes it. Dropping it unused (a panic in a
/// device handler, say) completes the op with `EIO`, so no op is lost.
pub struct InFlight {
    shared: Arc<OpShared>,
    done: bool,
}

impl fmt::Debug for InFlight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InFlight")
            .field("id", &self.id())
            .field("kind", &self.kind())
            .finish()
    }
}

impl InFlight {
    #[inline]
    fn d<R>(&self, f: impl FnOnce(&Desc) -> R) -> R {
        // SAFETY: the token holder may read the descriptor.
        unsafe { self.shared.desc(f) }
    }
    /// The op's kind.
    pub fn kind(&self) -> OpKind {
        self.d(|d| d.kind)
    }
    /// The op's offset.
    pub fn offset(&self) -> u64 {
        self.d(|d| d.offset)
    }
    /// The op's transfer length.
    pub fn len(&self) -> usize {
        self.d(|d| d.len)
    }
    /// Whether the transfer length is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The op's id: the user's data, not an identity (see [`OpKey`]).
    pub fn id(&self) -> u64 {
        self.d(|d| d.id)
    }
    /// This submission's identity (see [`OpKey`]).
    pub fn key(&self) -> OpKey {
        self.shared.key()
    }
    /// The op's private data.
    pub fn private(&self) -> usize {
        self.d(|d| d.private)
    }
    /// The op's target.
    pub fn target(&self) -> Arc<dyn Target> {
        self.d(|d| Arc::clone(&d.target))
    }
    /// A key identifying the op's target, as [`Queued::target_key`].
    pub fn target_key(&self) -> usize {
        self.d(|d| Arc::as_ptr(&d.target) as *const () as usize)
    }

    /// A watch on this submission, as [`Queued::watch`]. Take it before
    /// handing the token to a device.
    pub fn watch(&self) -> OpWatch {
        OpWatch {
            shared: Arc::clone(&self.shared),
            generation: self.shared.key().generation,
        }
    }

    /// The transfer's bytes (`len` of them), to write from.
    pub fn buf(&self) -> &[u8] {
        // SAFETY: the token gives exclusive use of the buffer until
        // completion; `len <= cap` was checked by `prepare`.
        unsafe {
            self.shared.desc.with_mut(|p| {
                let d = &mut *p;
                let (ptr, _) = d.buf.ptr_cap();
                std::slice::from_raw_parts(ptr, d.len)
            })
        }
    }

    /// The transfer's bytes (`len` of them), to read into.
    pub fn buf_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `buf`.
        unsafe {
            self.shared.desc.with_mut(|p| {
                let d = &mut *p;
                let (ptr, _) = d.buf.ptr_cap();
                std::slice::from_raw_parts_mut(ptr, d.len)
            })
        }
    }

    /// Runs the op against its target on this thread (the servicer's).
    pub fn execute(&mut self) -> Attempt<Result<usize>> {
        // SAFETY: the token gives the right to the buffer.
        unsafe { self.shared.execute() }
    }

    /// Completes the op with `r`: stores the result, runs the callback or
    /// pushes to the ring (no lock held), then delivers (wakes waiters).
    /// `Err(ECANCELED)` makes the op CANCELLED.
    pub fn complete(mut self, r: Result<usize>) {
        self.done = true;
        self.shared.complete(r);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if !self.done {
            self.done = true;
            crate::stats::count_dropped_inflight();
            self.shared.complete(Err(Error::EIO));
        }
    }
}

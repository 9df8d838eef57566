//! The owner's handles: [`Op`] (not submitted: the descriptor and the buffer
//! are its to change) and [`Pending`] (submitted: wait, poll or cancel).
//! Submission ([`Op::enqueue`]) is here; what it hands the servicer is in
//! `queued.rs` (and, once started, `inflight.rs`).

use std::fmt;
use std::time::{Duration, Instant};

use super::buf::{IoBuf, Segments, SegmentsMut};
use super::cancel::{CancelOutcome, cancel_shared};
use super::kind::{OpKey, OpKind, OpState};
use super::notify::{Callback, Notify};
use super::queued::{Queued, QueuedInfo};
use super::record::{Desc, OpShared, Signals, next_id};
use super::state::StateWord;
use crate::error::{Error, Result};
use crate::ring::CompletionRing;
use crate::sync::{Arc, Condvar, Mutex, UnsafeCell};
use crate::target::{Attempt, Target};

// The record stays within four cache lines; the handles are one pointer.
// (What this checks is all that is checked: the record's size is not fixed,
// `Op::RECORD_SIZE` reports it.)
#[cfg(not(loom))]
mod size_checks {
    use super::{Op, OpShared, Pending};
    static_assertions::const_assert!(std::mem::size_of::<OpShared>() <= 256);
    static_assertions::assert_eq_size!(Op, usize);
    static_assertions::assert_eq_size!(Pending, usize);
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
    pub(super) shared: Arc<OpShared>,
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

    /// A new idle op on `target` with the buffer `buf` (owned, raw or
    /// segmented; see [`IoBuf`]). Otherwise as [`Op::new`].
    pub fn with_io_buf(target: Arc<dyn Target>, buf: IoBuf) -> Op {
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
                mtx: Mutex::ranked(crate::lock_order::OP_SHARED, Signals::default()),
                delivered: Condvar::new(),
                available: Condvar::new(),
            }),
        }
    }

    /// A new idle op on `target` that owns `buf`. It reads 0 bytes at
    /// offset 0 until [`Op::prepare`] says otherwise; it notifies nobody
    /// (synchronous mode) until given a callback or a ring.
    pub fn new(target: Arc<dyn Target>, buf: Vec<u8>) -> Op {
        Op::with_io_buf(target, IoBuf::owned(buf))
    }

    /// A new idle op whose buffer is `len` bytes at `ptr`, owned by the
    /// caller (the C layer's `aio_buf`).
    ///
    /// # Safety
    ///
    /// From this call until the op is dropped or given another buffer,
    /// whenever the op is submitted or run, `ptr` must be valid for reads
    /// and writes of `len` bytes, and nothing else may access those bytes
    /// between submission and delivery. After delivery (see
    /// [the early-free rule](crate::op#the-early-free-rayons-latch-warning))
    /// the caller may free them.
    pub unsafe fn from_raw_parts(target: Arc<dyn Target>, ptr: *mut u8, len: usize) -> Op {
        // SAFETY: the caller makes `IoBuf::from_raw_parts`'s promise, which
        // is this function's.
        Op::with_io_buf(target, unsafe { IoBuf::from_raw_parts(ptr, len) })
    }

    /// Points the op at a caller-owned buffer, dropping an owned one.
    ///
    /// # Safety
    ///
    /// As for [`Op::from_raw_parts`].
    pub unsafe fn set_raw_buf(&mut self, ptr: *mut u8, len: usize) {
        // SAFETY: the caller makes `IoBuf::from_raw_parts`'s promise, which
        // is this function's.
        let buf = unsafe { IoBuf::from_raw_parts(ptr, len) };
        drop(self.set_io_buf(buf));
    }

    /// Gives the op an owned buffer; returns the previous owned one.
    pub fn set_buf(&mut self, buf: Vec<u8>) -> Option<Vec<u8>> {
        self.set_io_buf(IoBuf::owned(buf)).into_vec()
    }

    /// Gives the op the buffer `buf` (any shape, see [`IoBuf`]); returns
    /// the previous one, whose keep-alive (if any) goes when it is dropped.
    /// The transfer is reset to 0 bytes if the new buffer is shorter than
    /// the prepared length, or segmented with another length.
    pub fn set_io_buf(&mut self, buf: IoBuf) -> IoBuf {
        // SAFETY: `Op` is the unique owner of a non-submitted op.
        unsafe {
            self.shared.desc_mut(|d| {
                let fits = if buf.is_segmented() {
                    d.len == buf.len()
                } else {
                    d.len <= buf.len()
                };
                if !fits {
                    d.len = 0;
                }
                std::mem::replace(&mut d.buf, buf)
            })
        }
    }

    /// Sets what the op does. Errors, and the op is unchanged:
    /// * `EINVAL`: `len` is longer than the buffer, or larger than
    ///   `isize::MAX`, or `offset` is larger than `i64::MAX`;
    /// * `EOVERFLOW`: `offset + len` does not fit in an `off_t` (`i64`).
    ///
    /// Flushes ignore `offset` and `len` (both are stored as 0).
    #[inline(always)]
    pub fn prepare(&mut self, kind: OpKind, offset: u64, len: usize) -> Result<()> {
        let transfer = kind.is_transfer();
        let (offset, len) = if transfer { (offset, len) } else { (0, 0) };
        // Both below i64::MAX: their sum fits in a u64, and one compare of
        // it settles EOVERFLOW (each alone past it is EINVAL).
        if offset > i64::MAX as u64 || len > isize::MAX as usize {
            return Err(Error::EINVAL);
        }
        if offset + len as u64 > i64::MAX as u64 {
            return Err(Error::EOVERFLOW);
        }
        // SAFETY: `Op` is the unique owner of a non-submitted op.
        unsafe {
            self.shared.desc_mut(|d| {
                let have = d.buf.len();
                // A segmented transfer is the whole list (as `readv(2)`).
                if len > have || (transfer && len != have && d.buf.is_segmented()) {
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

    /// The target's identity (its address), as
    /// [`Queued::target_key`](crate::Queued::target_key) gives it: equal
    /// for two ops exactly when they share a target.
    pub fn target_key(&self) -> usize {
        // SAFETY: the owner may read its descriptor.
        unsafe {
            self.shared
                .desc(|d| Arc::as_ptr(&d.target) as *const () as usize)
        }
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

    /// The whole buffer, contiguous.
    ///
    /// # Panics
    ///
    /// On a buffer of more than one segment (see [`IoBuf`]; use
    /// [`Op::segments`]).
    pub fn buf(&self) -> &[u8] {
        // SAFETY: the owner may touch the buffer while the op is not
        // submitted; `&self` keeps it from being submitted while borrowed.
        unsafe {
            self.shared.desc.with_mut(|p| {
                let (ptr, cap) = (*p).buf.contiguous();
                std::slice::from_raw_parts(ptr, cap)
            })
        }
    }

    /// The whole buffer, contiguous and mutable. Panics as [`Op::buf`].
    pub fn buf_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `buf`, with `&mut self` for exclusivity.
        unsafe {
            self.shared.desc.with_mut(|p| {
                let (ptr, cap) = (*p).buf.contiguous();
                std::slice::from_raw_parts_mut(ptr, cap)
            })
        }
    }

    /// The whole buffer as segments (one for a contiguous buffer).
    pub fn segments(&self) -> Segments<'_> {
        // SAFETY: as in `buf`; the segments cover the whole buffer.
        unsafe {
            self.shared.desc.with_mut(|p| {
                let b = &mut (*p).buf;
                let len = b.len();
                b.segments(len).into_segments()
            })
        }
    }

    /// The whole buffer as segments, to fill.
    pub fn segments_mut(&mut self) -> SegmentsMut<'_> {
        // SAFETY: as in `buf_mut`; the segments cover the whole buffer.
        unsafe {
            self.shared.desc.with_mut(|p| {
                let b = &mut (*p).buf;
                let len = b.len();
                b.segments(len)
            })
        }
    }

    /// The buffer's shape and length, without touching its bytes.
    pub fn io_buf(&self) -> &IoBuf {
        // SAFETY: the owner may read its descriptor; `&self` keeps the
        // buffer from being replaced while borrowed.
        unsafe { self.shared.desc.with(|p| &(*p).buf) }
    }

    /// Takes the owned buffer back (`None` for a raw, segmented or absent
    /// one, which is dropped with its keep-alive).
    pub fn into_buf(mut self) -> Option<Vec<u8>> {
        self.set_io_buf(IoBuf::none()).into_vec()
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
    #[inline(always)]
    pub fn run_sync(&mut self) -> Result<usize> {
        // SAFETY: `&mut Op` makes us the only thread touching this record.
        let r = match unsafe { self.shared.execute() } {
            Attempt::Ready(r) => r,
            Attempt::Busy => self.run_sync_busy(),
        };
        let sh = &*self.shared;
        let res = Error::to_res(r);
        // SAFETY: exclusive, as above.
        sh.result.with_mut(|p| unsafe { *p = res });
        // finish-sync: a new generation of its own, so nothing a waiter of
        // an earlier asynchronous run left behind can apply to a later one.
        sh.state
            .finish_sync(res == -i64::from(Error::ECANCELED.errno()));
        // The answer is decoded from `res`, as `Op::result` decodes it, and
        // not `r` returned: `r` came back from the target through memory
        // in 4-byte pieces, and a 16-byte reload of it misses store
        // forwarding (measured: about 4 ns of the 22 ns a 512-byte
        // MemTarget read takes; `sync_vs_direct`).
        Error::check_res(res)
    }

    #[cold]
    fn run_sync_busy(&mut self) -> Result<usize> {
        let target = self.target();
        let Some(avail) = target.availability() else {
            return Err(Error::EAGAIN);
        };
        loop {
            // A1: the release count is read before the attempt (A2), so a
            // release between the attempt and the wait is never missed.
            let seen = avail.releases();
            // SAFETY: `&mut Op`: exclusive.
            match unsafe { self.shared.execute() } {
                Attempt::Ready(r) => return r,
                Attempt::Busy => avail.wait(&self.shared, seen),
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
        if !crate::sync::mutant(crate::sync::Mutant::CreditNotReserved) {
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
        let generation = sh.state.enqueue();
        let queued = Queued {
            shared: Arc::clone(&self.shared),
            generation,
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
    pub(super) shared: Arc<OpShared>,
}

impl fmt::Debug for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pending")
            .field("state", &self.state())
            .finish()
    }
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
    pub fn try_wait(self) -> std::result::Result<(Op, Result<usize>), Pending> {
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

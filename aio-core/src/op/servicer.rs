//! The servicer's handles: [`Queued`] (a claim on a queued op, started or
//! cancelled), [`InFlight`] (the right, and the duty, to complete it once)
//! and [`OpWatch`] (whether one submission is delivered yet).

use std::fmt;

use super::buf::{Segments, SegmentsMut};
use super::cancel::{CancelOutcome, cancel_shared};
use super::kind::{OpKey, OpKind};
use super::record::{Desc, OpShared};
use crate::error::{Error, Result};
use crate::sync::Arc;
use crate::target::{Attempt, Target};

/// What a servicer may know of a queued op without starting it (copied at
/// submission, so reading it never races the owner).
#[derive(Debug, Clone, Copy)]
pub(super) struct QueuedInfo {
    pub(super) kind: OpKind,
    pub(super) offset: u64,
    pub(super) len: usize,
    pub(super) id: u64,
    pub(super) private: usize,
    pub(super) target_key: usize,
}

/// A servicer's claim on a queued op: the thing a pool keeps in its queue.
///
/// It should be either started ([`Queued::start`]) or cancelled
/// ([`Queued::cancel`]); starting fails if the owner cancelled the op in
/// the meantime, and then the token is simply dropped. Dropping a token
/// whose op is still queued cancels the op (delivered with `ECANCELED`), so
/// a lost token never leaves an owner waiting.
pub struct Queued {
    pub(super) shared: Arc<OpShared>,
    /// The submission this token names (the state word's generation).
    pub(super) generation: u64,
    pub(super) info: QueuedInfo,
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
            generation: self.generation,
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
            generation: self.generation,
        }
    }

    /// Whether this submission is still QUEUED: `false` once it was
    /// started, cancelled, or the op resubmitted since.
    pub fn is_live(&self) -> bool {
        let s = self.shared.state.load();
        s.generation() == self.generation && s.is_queued()
    }

    /// Moves the op to IN FLIGHT and hands over the right to complete it;
    /// `None` if it was cancelled first.
    pub fn start(self) -> Option<InFlight> {
        if !self.shared.state.start(self.generation) {
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
        cancel_shared(&self.shared, Some(self.generation))
    }
}

impl Drop for Queued {
    /// A servicer that lets go of a queued op without starting it (a bug,
    /// or a queue torn down in a hurry) cancels it, so its owner is never
    /// left waiting: the op is delivered with `ECANCELED`. A token whose
    /// op was started, cancelled or resubmitted since is inert.
    fn drop(&mut self) {
        if self.is_live()
            && cancel_shared(&self.shared, Some(self.generation)) == CancelOutcome::Cancelled
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
/// delivery is harmless (see [the early-free rule](crate::op#the-early-free-rayons-latch-warning)): it only keeps the
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
    ///
    /// # Panics
    ///
    /// On a buffer of more than one segment (see
    /// [`IoBuf`](crate::IoBuf#how-a-device-serves-a-segmented-buffer); use
    /// [`InFlight::segments`]).
    pub fn buf(&self) -> &[u8] {
        // SAFETY: the token gives exclusive use of the buffer until
        // completion; `len <= cap` was checked by `prepare`.
        unsafe {
            self.shared.desc.with_mut(|p| {
                let d = &mut *p;
                let (ptr, _) = d.buf.contiguous();
                std::slice::from_raw_parts(ptr, d.len)
            })
        }
    }

    /// The transfer's bytes (`len` of them), to read into. Panics as
    /// [`InFlight::buf`].
    pub fn buf_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `buf`.
        unsafe {
            self.shared.desc.with_mut(|p| {
                let d = &mut *p;
                let (ptr, _) = d.buf.contiguous();
                std::slice::from_raw_parts_mut(ptr, d.len)
            })
        }
    }

    /// The transfer's segments (`len` bytes in all; one segment for a
    /// contiguous buffer), to write from: one request, scatter/gather (see
    /// [`IoBuf`](crate::IoBuf#how-a-device-serves-a-segmented-buffer)).
    pub fn segments(&self) -> Segments<'_> {
        // SAFETY: the token gives exclusive use of the buffer until
        // completion; `prepare` checked `len` against the buffer.
        unsafe {
            self.shared.desc.with_mut(|p| {
                let d = &mut *p;
                d.buf.segments(d.len).into_segments()
            })
        }
    }

    /// The transfer's segments, to read into. See [`InFlight::segments`].
    pub fn segments_mut(&mut self) -> SegmentsMut<'_> {
        // SAFETY: as in `segments`, with `&mut self` for exclusivity.
        unsafe {
            self.shared.desc.with_mut(|p| {
                let d = &mut *p;
                d.buf.segments(d.len)
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

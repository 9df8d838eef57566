//! The servicer's token on a started op: [`InFlight`] (the right, and the
//! duty, to complete it once), which is what a [`Strategy`](crate::Strategy)
//! receives, and [`OpWatch`] (whether one submission is delivered yet).
//!
//! This file does not name [`Target`](crate::Target): the token's
//! target-facing methods ([`InFlight::target`], [`InFlight::execute`]) are
//! in `execute.rs`, so the chain `Target → Strategy → InFlight` does not
//! lead back to the target (see [the file map](super#files-and-imports)).

use std::fmt;

use super::buf::{Segments, SegmentsMut};
use super::kind::{OpKey, OpKind};
use super::record::{Desc, OpShared};
use crate::error::{Error, Result};
use crate::sync::Arc;

/// A servicer's watch on one submission of an op: whether it has been
/// delivered yet, per op, without waiting and without a hook in the device
/// that completes it.
///
/// Made by [`Queued::watch`](crate::Queued::watch) or [`InFlight::watch`] before the token goes
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
    pub(super) shared: Arc<OpShared>,
    pub(super) generation: u64,
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
    pub(super) shared: Arc<OpShared>,
    pub(super) done: bool,
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
    pub(super) fn d<R>(&self, f: impl FnOnce(&Desc) -> R) -> R {
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

    /// A watch on this submission, as [`Queued::watch`](crate::Queued::watch). Take it before
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

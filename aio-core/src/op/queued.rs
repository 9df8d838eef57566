//! The servicer's claim on a queued op: [`Queued`], started
//! ([`Queued::start`], which makes the [`InFlight`] token) or cancelled.

use std::fmt;

use super::cancel::{CancelOutcome, cancel_shared};
use super::inflight::{InFlight, OpWatch};
use super::kind::{OpKey, OpKind};
use super::record::OpShared;
use crate::sync::Arc;

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

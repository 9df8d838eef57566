//! How a completion is announced besides waking waiters: nobody, a
//! [`Callback`] (given a [`Completion`]), or a completion ring.

use std::fmt;
use std::marker::PhantomData;

use super::kind::OpKind;
use crate::error::Result;
use crate::ring::CompletionRing;
use crate::sync::Arc;

/// A completion callback: the proposal's `int (*callback)(struct aio_ops *)`.
///
/// It runs on whichever thread completed the op, with no lock held, after
/// the result is stored and before the op counts as delivered. It must not
/// block for long, must not wait for its own op, and must not touch the
/// op's buffer except through the [`Completion`] it is given. A panic is
/// caught: the op is then delivered with `EIO`.
pub type Callback = fn(&Completion<'_>);

/// How a completion is announced, besides waking waiters.
pub(super) enum Notify {
    /// Nobody is called; the owner polls or waits (`delivered`).
    Wait,
    /// A function is called with the completion.
    Callback(Callback),
    /// An entry is pushed to a completion ring.
    Ring(Arc<CompletionRing>),
}

/// The view of a finished op that a [`Callback`] receives: what the
/// completer read from the descriptor before calling it.
pub struct Completion<'a> {
    pub(super) id: u64,
    pub(super) private: usize,
    pub(super) kind: OpKind,
    pub(super) result: Result<usize>,
    /// A completion is a view for the duration of the call only.
    pub(super) _call: PhantomData<&'a ()>,
}

impl Completion<'_> {
    /// The op's result: bytes transferred (0 for a flush) or the error.
    pub fn result(&self) -> Result<usize> {
        self.result
    }

    /// The op's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The op's private data (the proposal's `void *private`).
    pub fn private(&self) -> usize {
        self.private
    }

    /// The op's kind.
    pub fn kind(&self) -> OpKind {
        self.kind
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

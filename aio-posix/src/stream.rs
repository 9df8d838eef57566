//! The FIFO queues of streams and `O_APPEND` writes ([`StreamQ`]): at most
//! one op of a queue is submitted at a time; the completion of the active
//! op releases the next ([`Completer::release`](crate::complete::Completer::release),
//! K7). See `README.md`, "Streams".

use aio_core::Op;
use aio_core::sync::Mutex;

/// The FIFO queue of one stream (pipe, FIFO, socket, pty) in one
/// direction, or of `O_APPEND` writes to one file: at most one of its ops
/// is submitted at a time; the others wait here, in order, with their
/// `Op`. The completion of the active op releases the next (see
/// `README.md`, "Streams").
#[derive(Debug)]
pub(crate) struct StreamQ {
    q: Mutex<StreamState>,
}

impl Default for StreamQ {
    fn default() -> Self {
        StreamQ {
            q: Mutex::ranked(crate::lock_order::STREAM_Q, StreamState::default()),
        }
    }
}

#[derive(Debug, Default)]
struct StreamState {
    active: bool,
    waiting: std::collections::VecDeque<(u32, Op)>,
}

impl StreamQ {
    /// Admits slot `idx`'s op: `Some(op)` if it may run now (it becomes
    /// the active op), `None` if it was queued behind the active one.
    /// Called with the slot's lock held (lock order: slot, then queue).
    pub(crate) fn admit(&self, idx: u32, op: Op) -> Option<Op> {
        let mut q = self.q.lock();
        if q.active {
            if aio_core::sync::mutant(aio_core::sync::Mutant::StreamAdmitSplit) {
                // Mutant: decide, unlock, relock, queue; the active op
                // may finish in between, find the queue empty and go idle.
                drop(q);
                q = self.q.lock();
            }
            q.waiting.push_back((idx, op));
            None
        } else {
            q.active = true;
            Some(op)
        }
    }

    /// Whether an op of this queue is active (submitted, or waiting
    /// behind one): a file's writes and flushes join the queue while it
    /// is, whatever `O_APPEND` says now, so that a flush cannot pass the
    /// appends still queued after the program cleared the flag.
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn busy(&self) -> bool {
        self.q.lock().active
    }

    /// Removes slot `idx`'s queued op (cancellation).
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn remove(&self, idx: u32) -> Option<Op> {
        let mut q = self.q.lock();
        let pos = q.waiting.iter().position(|(i, _)| *i == idx)?;
        q.waiting.remove(pos).map(|(_, op)| op)
    }

    /// The active op is done: the next one becomes active (returned), or
    /// the queue goes idle.
    pub(crate) fn next(&self) -> Option<(u32, Op)> {
        let mut q = self.q.lock();
        let n = q.waiting.pop_front();
        if n.is_none() {
            q.active = false;
        }
        n
    }
}

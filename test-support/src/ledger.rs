//! The completion ledger of the soaks: how many times each op id
//! completed, and when (a global sequence), written by the ops' callback.

use aio_core::Completion;
use aio_core::Op;
use aio_core::sync::atomic::{AtomicU64, Ordering};

/// Per op id (`0..ids`): how many times it completed and its place in the
/// order of completions; and how many completions there were in all.
pub struct Ledger {
    count: Vec<AtomicU64>,
    seq: Vec<AtomicU64>,
    done: AtomicU64,
}

impl Ledger {
    /// A ledger for op ids `0..ids`; no id has completed.
    pub fn new(ids: usize) -> Ledger {
        Ledger {
            count: (0..ids).map(|_| AtomicU64::new(0)).collect(),
            seq: (0..ids).map(|_| AtomicU64::new(u64::MAX)).collect(),
            done: AtomicU64::new(0),
        }
    }

    /// How many op ids the ledger holds.
    pub fn len(&self) -> usize {
        self.count.len()
    }

    /// True if the ledger holds no op id.
    pub fn is_empty(&self) -> bool {
        self.count.is_empty()
    }

    /// Sets `op`'s callback to [`Ledger::on_complete`] with this ledger as
    /// its private word. The ledger must outlive the op (shut the pools
    /// down before dropping it).
    pub fn attach(&self, op: &mut Op) {
        op.set_callback(Ledger::on_complete);
        op.set_private(self as *const Ledger as usize);
    }

    /// Records one completion of `id`.
    pub fn record(&self, id: u64) {
        let s = self.done.fetch_add(1, Ordering::Relaxed);
        self.seq[id as usize].store(s, Ordering::Relaxed);
        self.count[id as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// How many times `id` completed.
    pub fn count(&self, id: u64) -> u64 {
        self.count[id as usize].load(Ordering::Relaxed)
    }

    /// The place of `id`'s (last) completion in the order of completions;
    /// `u64::MAX` if it has not completed.
    pub fn seq(&self, id: u64) -> u64 {
        self.seq[id as usize].load(Ordering::Relaxed)
    }

    /// Completions recorded so far, over every id.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// The op callback [`Ledger::attach`] installs: records the op's id in
    /// the ledger its private word points at.
    pub fn on_complete(c: &Completion<'_>) {
        // SAFETY: `attach` set private to the address of a `Ledger`, which
        // its caller keeps alive until every op has completed.
        let l = unsafe { &*(c.private() as *const Ledger) };
        l.record(c.id());
    }
}

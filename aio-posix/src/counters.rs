//! Per-thread counter blocks: the registry behind the C entry points' call
//! counts (`trace.rs` keeps each thread's block in a thread-local and
//! counts in it; `aio_posix_calls` adds up every block).
//!
//! # Protocol
//!
//! * A [`Block`] is owned by one thread at a time (`owned` true). Only
//!   the owner writes its counts, each with a load and a store
//!   ([`Block::bump`]): no locked instruction on the counting path.
//! * Blocks are never freed. [`Registry::take`] first looks for a block
//!   whose owner gave it back (`owned` CAS false → true, Acquire), else
//!   makes one and pushes it on the list (CAS on the head, Release,
//!   after its `next` is set: the list only grows, so no ABA).
//! * [`Block::release`] (the owner's thread ends) stores `owned` false
//!   with Release, after the owner's last count. The next owner's
//!   Acquire CAS then sees every count the previous owner made, so its
//!   own load-and-store continues from them: a block changes hands with
//!   its counts, and [`Registry::total`] stays exact.
//! * [`Registry::total`] reads every block (Relaxed: a reader racing a
//!   count sees it or not, as with any counter read while it changes).
//!
//! Model: `loom_counter_block_handover` (two threads, one taking the
//! other's block); mutant `count-release-relaxed` (the release is
//! Relaxed, so the new owner may count from a stale value).

use aio_core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};

/// Counters per block (the entry points `trace.rs` counts).
pub(crate) const N: usize = 13;

/// One thread's counts. See the module docs.
pub(crate) struct Block {
    calls: [AtomicU64; N],
    owned: AtomicBool,
    /// The next block of its registry (set before the block is published,
    /// never changed after).
    next: *const Block,
}

// SAFETY: `next` is written only before the block is published (the
// Release CAS in `Registry::take`) and only read after it; everything
// else is atomics.
unsafe impl Send for Block {}
// SAFETY: as for Send.
unsafe impl Sync for Block {}

impl Block {
    /// Counts one call of counter `i`. Only the owner calls it.
    #[inline]
    pub(crate) fn bump(&self, i: usize) {
        let c = &self.calls[i];
        c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    /// Gives the block back (its owner's thread ends); the next
    /// [`Registry::take`] may have it, counts and all.
    pub(crate) fn release(&self) {
        let order = if aio_core::sync::mutant(aio_core::sync::Mutant::CountReleaseRelaxed) {
            Ordering::Relaxed
        } else {
            Ordering::Release
        };
        self.owned.store(false, order);
    }
}

/// Every block ever made, newest first.
pub(crate) struct Registry {
    head: AtomicPtr<Block>,
}

impl Registry {
    /// An empty registry (a `static` in `trace.rs`).
    #[cfg(not(loom))]
    pub(crate) const fn new() -> Registry {
        Registry {
            head: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// An empty registry (loom's atomics have no `const` constructor).
    #[cfg(loom)]
    pub(crate) fn new() -> Registry {
        Registry {
            head: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// A block for the calling thread: one given back, else a new one.
    /// May allocate: never from a signal handler.
    pub(crate) fn take(&self) -> &'static Block {
        for b in self.blocks() {
            if b.owned
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return b;
            }
        }
        let fresh = Box::leak(Box::new(Block {
            calls: std::array::from_fn(|_| AtomicU64::new(0)),
            owned: AtomicBool::new(true),
            next: std::ptr::null(),
        }));
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            fresh.next = head;
            match self
                .head
                .compare_exchange(head, fresh, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return fresh,
                Err(now) => head = now,
            }
        }
    }

    /// The sum of counter `i` over every block.
    pub(crate) fn total(&self, i: usize) -> u64 {
        self.blocks()
            .map(|b| b.calls[i].load(Ordering::Relaxed))
            .sum()
    }

    /// Sets every counter of every block to 0 (a fork child, where only
    /// the calling thread runs).
    pub(crate) fn reset(&self) {
        for b in self.blocks() {
            for c in b.calls.iter() {
                c.store(0, Ordering::Relaxed);
            }
        }
    }

    fn blocks(&self) -> impl Iterator<Item = &'static Block> {
        let first = self.head.load(Ordering::Acquire) as *const Block;
        // SAFETY: blocks are never freed, and a published block's `next`
        // never changes (Acquire above pairs with the push's Release).
        std::iter::successors(unsafe { first.as_ref() }, |b| unsafe { b.next.as_ref() })
    }
}

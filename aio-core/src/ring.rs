//! The completion ring: a bounded, lock-free, multi-producer,
//! single-consumer queue of completion entries (the syslet completion ring,
//! io_uring's CQ).
//!
//! Producers (whoever completes an op) claim a slot by CAS on `tail`, write
//! the entry, and publish it by storing the slot's sequence number with
//! Release. The one consumer ([`Reaper`]) reads entries in order while their
//! sequence numbers say they are published, then frees the slots in one
//! batch by storing the new `head`. Nothing is ever dropped or overwritten:
//! a producer that finds the ring full sleeps on `available` until the
//! consumer frees slots; a consumer that finds it empty may sleep on `ready`.
//!
//! # Words
//!
//! ```text
//!   head = consumed << 1 | PRODUCER_WAITING     (written by the consumer; producers set the bit)
//!   tail = claimed  << 1 | CONSUMER_WAITING     (CAS by producers; the consumer sets the bit)
//!   slot[i].seq = position + 1 once published    (Release by the producer, Acquire by the consumer)
//! ```
//!
//! # Sleeping without losing a wake-up
//!
//! Each side's "I am going to sleep" is an RMW on the *other* side's word,
//! done under `mtx`, and each side's "did anyone go to sleep?" is the RMW it
//! does anyway on that same word. RMWs on one location are totally ordered,
//! so one of the two always sees the other (no store-buffer race, and no
//! need for SeqCst fences, which loom does not model fully):
//!
//! * full ring: the producer takes `mtx`, sets PRODUCER_WAITING with
//!   `fetch_or` on `head` (which returns the latest head), re-checks
//!   fullness against it, and only then waits. The consumer frees slots with
//!   `swap` on `head`, which returns the bit; if set, it takes `mtx` and
//!   notifies `available`.
//! * empty ring: the consumer takes `mtx`, sets CONSUMER_WAITING with
//!   `fetch_or` on `tail`; if nothing was claimed it waits on `ready`. A
//!   producer's claiming CAS returns the bit; if set, it takes `mtx` after
//!   publishing and notifies `ready`. If something was claimed but is not
//!   yet published, the consumer yields instead of sleeping (the producer is
//!   between two plain instructions and does not block).
//!
//! Lock order: `mtx` is a leaf lock; nothing else is held with it.
//! Models: `loom_ring` (publish vs reap, full ring, empty ring), mutants
//! `ring-publish-relaxed` and `ring-no-recheck`.

use std::fmt;
use std::time::Instant;

use crossbeam_utils::CachePadded;

use crate::error::{Error, Result};
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::{Arc, Condvar, Mutex, UnsafeCell};

/// One completion, as published to a ring (io_uring's `cqe`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CqEntry {
    /// The op's id.
    pub id: u64,
    /// The op's private data.
    pub user_data: u64,
    /// Bytes transferred, or `-errno`.
    pub res: i64,
}

impl CqEntry {
    /// The result as a `Result`.
    pub fn result(&self) -> Result<usize> {
        Error::check_res(self.res)
    }
}

const BIT: u64 = 1;

struct Slot {
    seq: AtomicU64,
    entry: UnsafeCell<CqEntry>,
}

/// A bounded completion ring. Create one with [`CompletionRing::new`],
/// which also returns its only [`Reaper`].
pub struct CompletionRing {
    head: CachePadded<AtomicU64>,
    tail: CachePadded<AtomicU64>,
    slots: Box<[Slot]>,
    mask: u64,
    mtx: Mutex<()>,
    /// Producers wait here for free slots.
    available: Condvar,
    /// The consumer waits here for entries.
    ready: Condvar,
}

// SAFETY: a slot's `entry` is written only by the producer that claimed its
// position (unique by the tail CAS) and read only by the consumer after the
// Acquire load of `seq` that pairs with the producer's Release store.
unsafe impl Sync for CompletionRing {}
// SAFETY: as for `Sync`; `CqEntry` is plain data.
unsafe impl Send for CompletionRing {}

impl fmt::Debug for CompletionRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompletionRing")
            .field("capacity", &self.capacity())
            .finish()
    }
}

impl CompletionRing {
    /// A ring of `capacity` entries (a power of two, at least 1) and its
    /// consumer. `EINVAL` otherwise.
    pub fn new(capacity: usize) -> Result<(Arc<CompletionRing>, Reaper)> {
        if capacity == 0 || !capacity.is_power_of_two() || capacity > (1 << 30) {
            return Err(Error::EINVAL);
        }
        let slots = (0..capacity)
            .map(|i| Slot {
                seq: AtomicU64::new(i as u64),
                entry: UnsafeCell::new(CqEntry::default()),
            })
            .collect();
        let ring = Arc::new(CompletionRing {
            head: CachePadded::new(AtomicU64::new(0)),
            tail: CachePadded::new(AtomicU64::new(0)),
            slots,
            mask: capacity as u64 - 1,
            mtx: Mutex::new(()),
            available: Condvar::new(),
            ready: Condvar::new(),
        });
        let reaper = Reaper {
            ring: Arc::clone(&ring),
            head: 0,
        };
        Ok((ring, reaper))
    }

    /// The number of slots.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Publishes `e`; if the ring is full, sleeps on `available` until the
    /// consumer frees a slot. Never drops, never overwrites. Must not be
    /// called from the consumer's own thread while the ring may be full.
    pub fn push(&self, e: CqEntry) {
        while let Err(e2) = self.try_push(e) {
            debug_assert_eq!(e2, e);
            self.wait_not_full();
        }
    }

    /// Publishes `e` unless the ring is full (then gives it back).
    pub fn try_push(&self, e: CqEntry) -> std::result::Result<(), CqEntry> {
        let cap = self.slots.len() as u64;
        let mut t = self.tail.load(Ordering::Relaxed);
        loop {
            // Acquire: pairs with the consumer's AcqRel swap of `head`, so
            // the consumer's read of a slot we may now reuse is finished.
            let h = self.head.load(Ordering::Acquire) >> 1;
            let pos = t >> 1;
            if pos.wrapping_sub(h) >= cap {
                return Err(e);
            }
            // The claiming CAS. Relaxed on success would do for the claim
            // itself (the slot is protected by `seq`), but AcqRel makes the
            // CONSUMER_WAITING bit we read here ordered against the
            // consumer's fetch_or (both RMWs on `tail`).
            match self
                .tail
                .compare_exchange_weak(t, t + 2, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    let slot = &self.slots[(pos & self.mask) as usize];
                    // SAFETY: the CAS made `pos` ours alone, and the consumer
                    // has released the slot (head > pos - cap, Acquire above).
                    slot.entry.with_mut(|p| unsafe { *p = e });
                    // Release: publishes the entry to the consumer's Acquire
                    // load of `seq` (the barrier discipline of the lockless
                    // list: link the element only after it is complete).
                    let ord = if crate::sync::mutant("ring-publish-relaxed") {
                        Ordering::Relaxed
                    } else {
                        Ordering::Release
                    };
                    slot.seq.store(pos + 1, ord);
                    if t & BIT != 0 {
                        // The consumer said it would sleep: wake it. Taking
                        // the lock orders us after its wait began.
                        let _g = self.mtx.lock();
                        self.ready.notify_one();
                    }
                    return Ok(());
                }
                Err(now) => t = now,
            }
        }
    }

    /// Sleeps until the ring is (probably) not full.
    #[cold]
    fn wait_not_full(&self) {
        let cap = self.slots.len() as u64;
        // What a producer knew when it found the ring full (used only by
        // the mutant, which trusts it instead of re-checking).
        let stale = self.head.load(Ordering::Acquire) >> 1;
        let mut g = self.mtx.lock();
        loop {
            // Register, and learn the latest head, in one RMW on `head`.
            let fresh = self.head.fetch_or(BIT, Ordering::AcqRel) >> 1;
            let h = if crate::sync::mutant("ring-no-recheck") {
                stale
            } else {
                fresh
            };
            let t = self.tail.load(Ordering::Acquire) >> 1;
            if t.wrapping_sub(h) < cap {
                return;
            }
            g = self.available.wait(g);
        }
    }
}

/// The ring's one consumer. Not `Clone`: there is exactly one per ring.
pub struct Reaper {
    ring: Arc<CompletionRing>,
    /// Our copy of the consumed count (the only writer of `head`).
    head: u64,
}

impl fmt::Debug for Reaper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reaper").field("head", &self.head).finish()
    }
}

impl Reaper {
    /// The ring this reaper consumes.
    pub fn ring(&self) -> &Arc<CompletionRing> {
        &self.ring
    }

    /// Takes up to `budget` published entries, in order, handing each to
    /// `f`; returns how many. Never blocks.
    pub fn reap(&mut self, budget: usize, mut f: impl FnMut(CqEntry)) -> usize {
        let ring = &*self.ring;
        let mut n = 0;
        while n < budget {
            let slot = &ring.slots[(self.head & ring.mask) as usize];
            // Acquire: pairs with the producer's Release of `seq`.
            if slot.seq.load(Ordering::Acquire) != self.head + 1 {
                break;
            }
            // SAFETY: published (seq == head + 1) and not yet released back
            // to producers (head not yet advanced past it).
            let e = slot.entry.with(|p| unsafe { *p });
            // Mark the slot free for the position one lap ahead.
            slot.seq
                .store(self.head + ring.slots.len() as u64, Ordering::Relaxed);
            self.head += 1;
            n += 1;
            f(e);
        }
        if n > 0 {
            // Release: our reads of the slots happen before a producer's
            // reuse (its Acquire load of `head`). The swap also returns and
            // clears PRODUCER_WAITING.
            let prev = ring.head.swap(self.head << 1, Ordering::AcqRel);
            if prev & BIT != 0 {
                let _g = ring.mtx.lock();
                ring.available.notify_all();
            }
        }
        n
    }

    /// Whether an entry is published and waiting.
    pub fn has_ready(&self) -> bool {
        let slot = &self.ring.slots[(self.head & self.ring.mask) as usize];
        slot.seq.load(Ordering::Acquire) == self.head + 1
    }

    /// Sleeps on `ready` until an entry is published or `deadline` passes;
    /// returns whether one is.
    pub fn wait(&mut self, deadline: Option<Instant>) -> bool {
        let ring = &*self.ring;
        loop {
            if self.has_ready() {
                return true;
            }
            let mut g = ring.mtx.lock();
            let t = ring.tail.fetch_or(BIT, Ordering::AcqRel) >> 1;
            if t != self.head {
                // Claimed but maybe not yet published: the producer is
                // between its CAS and its store and never blocks there.
                drop(g);
                if !self.has_ready() {
                    crate::sync::thread::yield_now();
                }
                continue;
            }
            let timed_out = match deadline {
                None => {
                    g = ring.ready.wait(g);
                    false
                }
                Some(d) => {
                    let (g2, to) = ring.ready.wait_until(g, d);
                    g = g2;
                    to
                }
            };
            drop(g);
            ring.tail.fetch_and(!BIT, Ordering::Relaxed);
            if timed_out {
                return self.has_ready();
            }
        }
    }

    /// Waits for at least one entry, then reaps up to `budget`.
    pub fn reap_wait(
        &mut self,
        budget: usize,
        deadline: Option<Instant>,
        f: impl FnMut(CqEntry),
    ) -> usize {
        if !self.wait(deadline) {
            return 0;
        }
        self.reap(budget, f)
    }
}

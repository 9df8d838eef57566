//! The completion ring: a bounded, lock-free, multi-producer,
//! single-consumer queue of completion entries (the syslet completion ring,
//! io_uring's CQ).
//!
//! Producers (whoever completes an op) claim a slot by CAS on `tail`, write
//! the entry, and publish it by storing the slot's sequence number with
//! Release. The one consumer ([`Reaper`]) reads entries in order while their
//! sequence numbers say they are published, then frees the slots in one
//! batch by storing the new `head`. Nothing is ever dropped or overwritten,
//! and **a completer never sleeps**: every entry is paid for by a *credit*
//! taken before it exists. An op that completes to a ring takes its credit
//! when it is submitted ([`Op::enqueue`](crate::Op::enqueue), which sleeps
//! on `available` while the ring has none, or
//! [`Op::try_enqueue`](crate::Op::try_enqueue), which refuses); the credit
//! comes back when the reaper consumes the entry. As with io_uring's CQ,
//! sized for the ops that can be in flight, the back-pressure is at
//! submission, not in the completer (a pool worker, the NBD reader, in a
//! kernel an interrupt or softint, any of which stalls everyone it serves
//! if it sleeps). A consumer that finds the ring empty may sleep on
//! `ready`.
//!
//! # Words
//!
//! ```text
//!   head    = consumed                            (stored by the consumer only)
//!   tail    = claimed << 1 | CONSUMER_WAITING     (CAS by producers; the consumer sets the bit)
//!   credits = taken   << 1 | SUBMITTER_WAITING    (RMW by submitters and the consumer)
//!   slot[i].seq = position + 1 once published     (Release by the producer, Acquire by the consumer)
//! ```
//!
//! `taken` counts credits held by submitted ops (or by [`CompletionRing::push`]
//! callers) plus entries published and not yet reaped; it never exceeds the
//! capacity. The consumer returns credits only after it has stored the
//! `head` that frees their slots.
//!
//! # Why a producer with a credit always finds a free slot
//!
//! Let a producer claim position `p`. Its read of `tail` (Acquire, by load
//! or failed CAS) reads a value written by the claim of `p - 1` or later, so
//! it synchronizes with every earlier claimer (all claims are AcqRel RMWs
//! on `tail`, which continue each other's release sequences). Those `p`
//! claimers and this one hold `p + 1` distinct credits, so one of them, say
//! grant number `g >= p`, happens before this producer's load of `head`.
//! A credit is granted only while `taken < cap`, i.e. grant `g` read at
//! least `g - cap + 1` credits returned; returns follow (sb, then the
//! AcqRel RMWs on `credits` carry it) the consumer's Release store of a
//! `head` at least that large. So this producer's Acquire load of `head`
//! reads at least `p - cap + 1`, and `p - head < cap`: the slot is free (and
//! the consumer's read of its previous lap happened before). The producer
//! therefore never waits; a full ring seen with a credit is a bug, asserted
//! in debug builds (mutant `credit-not-reserved`: loom reports it).
//!
//! # Sleeping without losing a wake-up
//!
//! Each side's "I am going to sleep" is an RMW on the word the *other* side
//! RMWs anyway, done under `mtx`, and each side's "did anyone go to sleep?"
//! is the result of that RMW. RMWs on one location are totally ordered, so
//! one of the two always sees the other (no store-buffer race, and no need
//! for SeqCst fences, which loom does not model fully):
//!
//! * no credit: the submitter takes `mtx`, sets SUBMITTER_WAITING with
//!   `fetch_or` on `credits` (which returns the latest count), re-checks
//!   against it, and only then waits on `available`. The consumer returns
//!   credits with one RMW on `credits` that also clears the bit and returns
//!   it; if it was set, it takes `mtx` and notifies `available`.
//! * empty ring: the consumer takes `mtx`, sets CONSUMER_WAITING with
//!   `fetch_or` on `tail`; if nothing was claimed it waits on `ready`. A
//!   producer's claiming CAS returns the bit; if set, it takes `mtx` after
//!   publishing and notifies `ready` (a leaf lock held for one notify: the
//!   consumer holds it only to sleep). If something was claimed but is not
//!   yet published, the consumer yields instead of sleeping (the producer
//!   is between two plain instructions and does not block).
//!
//! Lock order: `mtx` is a leaf lock; nothing else is held with it.
//! Models: `loom_ring` (publish vs reap, a submitter out of credits, an op
//! submitter vs its completer and the reaper), mutants
//! `ring-publish-relaxed`, `ring-no-recheck` and `credit-not-reserved`.

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
    credits: CachePadded<AtomicU64>,
    slots: Box<[Slot]>,
    mask: u64,
    mtx: Mutex<()>,
    /// Submitters wait here for credits.
    available: Condvar,
    /// The consumer waits here for entries.
    ready: Condvar,
}

// SAFETY: a slot's `entry` is written only by the producer that claimed its
// position (unique by the tail CAS, and free by the credit argument in the
// module docs) and read only by the consumer after the Acquire load of `seq`
// that pairs with the producer's Release store.
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
            credits: CachePadded::new(AtomicU64::new(0)),
            slots,
            mask: capacity as u64 - 1,
            mtx: Mutex::ranked(crate::lock_order::COMPLETION_RING, ()),
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

    /// Publishes `e` for a producer that is not a completer: takes a
    /// credit first, sleeping on `available` while the ring has none (until
    /// the consumer reaps), then publishes without waiting. Never drops,
    /// never overwrites. Must not be called from the consumer's own thread
    /// while the ring may be full. Ops never come here: their credit was
    /// taken when they were submitted.
    pub fn push(&self, e: CqEntry) {
        self.take_credit();
        self.publish(e);
    }

    /// Publishes `e` if a credit is free, else gives it back. Never sleeps.
    pub fn try_push(&self, e: CqEntry) -> std::result::Result<(), CqEntry> {
        if !self.try_take_credit() {
            return Err(e);
        }
        self.publish(e);
        Ok(())
    }

    /// Takes a credit if one is free (`taken < capacity`).
    pub(crate) fn try_take_credit(&self) -> bool {
        let cap = self.slots.len() as u64;
        // AcqRel: Acquire synchronizes with the consumer's return of credits
        // (and so with its store of `head` before it: see the module docs);
        // Release keeps the release sequence going for later grants.
        self.credits
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| {
                ((c >> 1) < cap).then_some(c + 2)
            })
            .is_ok()
    }

    /// Takes a credit, sleeping on `available` while none is free. The
    /// submission side of the back-pressure.
    pub(crate) fn take_credit(&self) {
        while !self.try_take_credit() {
            self.wait_for_credit();
        }
    }

    /// Sleeps until a credit is (probably) free.
    #[cold]
    fn wait_for_credit(&self) {
        let cap = self.slots.len() as u64;
        // What a submitter knew when it found no credit (used only by the
        // mutant, which trusts it instead of re-checking).
        let stale = self.credits.load(Ordering::Acquire) >> 1;
        let mut g = self.mtx.lock();
        loop {
            // Register, and learn the latest count, in one RMW on `credits`.
            let fresh = self.credits.fetch_or(BIT, Ordering::AcqRel) >> 1;
            let taken = if crate::sync::mutant(crate::sync::Mutant::RingNoRecheck) {
                stale
            } else {
                fresh
            };
            if taken < cap {
                return;
            }
            g = self.available.wait(g);
        }
    }

    /// Publishes `e` with a credit the caller holds (taken by `push`,
    /// `try_push`, or an op's submission). Never sleeps: the credit
    /// guarantees a free slot (module docs).
    pub(crate) fn publish(&self, e: CqEntry) {
        let cap = self.slots.len() as u64;
        // Acquire, here and on a failed CAS: the value read synchronizes
        // with every earlier claimer, the premise of the credit argument.
        let mut t = self.tail.load(Ordering::Acquire);
        loop {
            // Acquire: pairs with the consumer's Release store of `head`, so
            // its read of the slot we reuse is finished.
            let h = self.head.load(Ordering::Acquire);
            let pos = t >> 1;
            // `pos < h` means our `t` is stale (the consumer has reaped past
            // it, so `tail` moved on): the CAS below fails and reloads it.
            if pos.checked_sub(h).is_some_and(|d| d >= cap) {
                // Unreachable with a credit (module docs). Never sleep
                // here: yield and look again.
                debug_assert!(
                    false,
                    "a completer found the ring full although it held a credit"
                );
                crate::sync::thread::yield_now();
                t = self.tail.load(Ordering::Acquire);
                continue;
            }
            // The claiming CAS. AcqRel also orders the CONSUMER_WAITING bit
            // we read here against the consumer's fetch_or (both RMWs on
            // `tail`).
            match self
                .tail
                .compare_exchange_weak(t, t + 2, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    let slot = &self.slots[(pos & self.mask) as usize];
                    // SAFETY: the CAS made `pos` ours alone, and the consumer
                    // has released the slot (head > pos - cap, Acquire above).
                    slot.entry.with_mut(|p| unsafe { *p = e });
                    // Release: publishes the entry to the consumer's Acquire
                    // load of `seq` (the barrier discipline of the lockless
                    // list: link the element only after it is complete).
                    let ord = if crate::sync::mutant(crate::sync::Mutant::RingPublishRelaxed) {
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
                    return;
                }
                Err(now) => t = now,
            }
        }
    }

    /// Returns `n` credits (the consumer, after storing `head`), waking
    /// submitters that sleep for one.
    fn return_credits(&self, n: u64) {
        // One RMW subtracts and clears SUBMITTER_WAITING, and tells us
        // whether it was set. AcqRel: Release carries the `head` store
        // before it to the next grant (module docs).
        let prev = self
            .credits
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| {
                Some((c - (n << 1)) & !BIT)
            })
            .unwrap_or_else(|c| c);
        debug_assert!(prev >> 1 >= n, "more credits returned than taken");
        if prev & BIT != 0 {
            let _g = self.mtx.lock();
            self.available.notify_all();
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
            // reuse (its Acquire load of `head`). Only then are the credits
            // returned, so a credit never outruns the slot it pays for.
            ring.head.store(self.head, Ordering::Release);
            ring.return_credits(n as u64);
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

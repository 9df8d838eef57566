//! The op slab (see `README.md`, [The slab](crate::protocols#the-slab-slab));
//! the completion callback is [`complete`](crate::complete).
//!
//! Every POSIX op runs on an aio-core [`Op`] taken from a bounded slab, so
//! steady-state submission allocates nothing and the number of ops in
//! flight is bounded (`EAGAIN` past it). A slot is:
//!
//! ```text
//!   Lock order: see README.md, "Lock order". Slab::reap -> Slab::free; a
//!   slot's `st` is never taken with either held (reclaim uses try_lock).
//!   A callback takes a slot lock only in K7 (Completer::release), that of
//!   the next, parked op of its stream queue, never its own.
//!
//!   s   under Slot::st
//!   o   owned by whoever holds the slot: the submitter while it is off the
//!       free list and not submitted, then (read-only, then `group` taken)
//!       the op's completion callback; published by Op::enqueue's Release
//!
//!   Slot::st.op        s   the idle Op (None while submitted)
//!   Slot::st.pending   s   the submitted op's Pending (None when idle)
//!   Slot::st.{fd, aiocb, generation, target}
//!                      s   what aio_cancel needs to find and cancel it
//!   Slot::info         o   what the callback needs: the aiocb, the
//!                          notification copy, the lio group
//!   Slot::claim        atomic: generation << 32 | OPEN/DONE/TAKEN (who
//!                          took the result; README, "aio_waitcomplete")
//! ```
//!
//! Life of a slot: `alloc` (pop `free`) → the submitter fills `info` and
//! `st`, submits → the callback publishes it on the completion ring (K2),
//! completes the aiocb (K3) and settles the claim (K3b) → `reclaim` (next
//! time `free` runs dry) or `aio_waitcomplete` drains the ring into the
//! completed list, takes the `Pending` back with `try_wait`, which
//! succeeds only once aio-core has delivered the op, and pushes the index
//! on `free` (once the program reaps: only after the result was taken).
//! Nothing is kept per completed op beyond the slot itself.

#[cfg(not(loom))]
use aio_core::sync::atomic::AtomicI32;
use aio_core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use aio_core::sync::{Arc, Mutex, UnsafeCell};
use aio_core::{CompletionRing, CqEntry, Op, Pending, Reaper, Target};

use crate::abi::RawAiocb;
use crate::group::Group;
use crate::notify::{NEVER_SENT, Notification};
use crate::stream::StreamQ;

/// Retries of `alloc` while completed slots wait for delivery (loom: one,
/// to keep the model small; the model loops itself).
const ALLOC_RETRIES: usize = if cfg!(loom) { 1 } else { 1000 };

/// What the completion callback of a slot's op needs. (o)
#[derive(Debug)]
pub(crate) struct Info {
    /// The [`Completer`](crate::complete::Completer) that owns this slab
    /// (slab, events, dispatcher), type-erased so that the slab does not
    /// name its user (no import cycle between slab.rs and complete.rs).
    pub(crate) core: *const (),
    /// The slot's index.
    pub(crate) idx: u32,
    /// The caller's aiocb.
    pub(crate) aiocb: *mut RawAiocb,
    /// Copy of its sigevent, taken at submission.
    pub(crate) notify: Notification,
    /// The `lio_listio` group, if any.
    pub(crate) group: Option<Arc<Group>>,
    /// The FIFO queue of the op's stream and direction, if any: the next
    /// op of the queue is released when this one completes.
    pub(crate) stream: Option<Arc<StreamQ>>,
    /// The slot's generation for this op (its sent mark).
    pub(crate) generation: u32,
}

/// The lock-protected part of a slot. (s)
#[derive(Default)]
pub(crate) struct SlotState {
    /// The idle op, when not submitted.
    pub(crate) op: Option<Op>,
    /// The submitted op.
    pub(crate) pending: Option<Pending>,
    /// Bumped at every reclaim: an aiocb names its slot by (index, generation).
    pub(crate) generation: u32,
    /// The descriptor of the submitted op.
    pub(crate) fd: i32,
    /// The aiocb of the submitted op.
    pub(crate) aiocb: usize,
    /// The target the op was submitted on (for `PoolSet::cancel`).
    pub(crate) target: Option<Arc<dyn Target>>,
    /// Set while the op (and its `Op`) waits in this stream queue for the
    /// op ahead of it; it is then neither submitted nor idle.
    pub(crate) parked: Option<Arc<StreamQ>>,
    /// The slot's op is back in `op` (or was never made) although the slot
    /// is on the completed list: it was completed without the pools (a
    /// parked op cancelled, an accepted op failed at once), so reclaim
    /// need not wait for a delivery.
    pub(crate) home: bool,
}

/// A slot's claim word: `generation << 32 | state`. Who may take the
/// result of the slot's op for this generation (see `README.md`, "The
/// slab" and "aio_waitcomplete").
pub(crate) mod claim {
    /// Idle, or the op has not reached K3b: nobody has taken its result.
    pub(crate) const OPEN: u32 = 0;
    /// The op completed (K3b, after its aiocb's error code was stored) and
    /// its result is untaken: `aio_waitcomplete` may reap it.
    pub(crate) const DONE: u32 = 1;
    /// `aio_return` or `aio_waitcomplete` took the result.
    pub(crate) const TAKEN: u32 = 2;

    /// The word for `generation` in `state`.
    #[inline]
    pub(crate) const fn word(generation: u32, state: u32) -> u64 {
        (generation as u64) << 32 | state as u64
    }
}

/// One slab slot.
pub(crate) struct Slot {
    pub(crate) st: Mutex<SlotState>,
    pub(crate) info: UnsafeCell<Info>,
    /// The generation of the last op of this slot whose notification was
    /// sent (`notify::mark_sent`; `NEVER_SENT` at first): what a woken
    /// `aio_suspend` checks before it returns.
    pub(crate) sent: AtomicU32,
    /// The claim word ([`claim`]): the completer moves OPEN → DONE (K3b),
    /// `aio_return` OPEN|DONE → TAKEN, `aio_waitcomplete` DONE → TAKEN,
    /// reclaim stores the next generation's OPEN.
    pub(crate) claim: AtomicU64,
    /// Reads finished in the submitting thread on this slot, before any
    /// routing ([`Slab::count_inline`]): written under `st`'s lock (so a
    /// load and a store, no locked instruction), read at exit by the
    /// `AIO_POSIX_STATS` report.
    inline_reads: AtomicU64,
}

// SAFETY: `info` holds raw pointers to the caller's aiocb and to the Completer,
// and is accessed only by the slot's holder (see the module legend); the
// aiocb is the C caller's to keep valid until completion.
unsafe impl Send for Slot {}
// SAFETY: as for Send: `info` is never accessed by two threads at once.
unsafe impl Sync for Slot {}

/// "No slot" in the completed list.
const NIL: u32 = u32::MAX;

/// The completed list: slots whose op completed (their ring entries,
/// drained), in completion order, until reclaim recycles them. Linked
/// through `next`, so an entry leaves from anywhere in O(1) as the walk
/// passes it. (lock: `Slab::reap`)
struct Reap {
    /// The consumer of `Slab::ring`.
    reaper: Reaper,
    next: Box<[u32]>,
    /// Per slot, from its ring entry: the aiocb and the result (bytes, or
    /// `-errno`).
    aiocb: Box<[usize]>,
    res: Box<[i64]>,
    head: u32,
    tail: u32,
    len: usize,
    /// Set by the first `aio_waitcomplete` (or completion descriptor): from
    /// then on a completed op whose result nobody took keeps its slot.
    reaping: bool,
}

impl Reap {
    fn drain(&mut self) {
        let Reap {
            reaper,
            next,
            aiocb,
            res,
            head,
            tail,
            len,
            ..
        } = self;
        reaper.reap(usize::MAX, |e| {
            let idx = (e.user_data >> 32) as u32;
            let i = idx as usize;
            aiocb[i] = e.id as usize;
            res[i] = e.res;
            next[i] = NIL;
            if *tail == NIL {
                *head = idx;
            } else {
                next[*tail as usize] = idx;
            }
            *tail = idx;
            *len += 1;
        });
    }

    /// Whether an op on the list is completed with its result untaken.
    fn any_done(&self, slots: &[Slot]) -> bool {
        let mut idx = self.head;
        while idx != NIL {
            if slots[idx as usize].claim.load(Ordering::Acquire) as u32 == claim::DONE {
                return true;
            }
            idx = self.next[idx as usize];
        }
        false
    }

    /// Unlinks `idx`, whose predecessor is `prev`; returns its successor.
    fn unlink(&mut self, prev: u32, idx: u32) -> u32 {
        let nx = self.next[idx as usize];
        if prev == NIL {
            self.head = nx;
        } else {
            self.next[prev as usize] = nx;
        }
        if self.tail == idx {
            self.tail = prev;
        }
        self.len -= 1;
        nx
    }
}

/// What [`Slab::take`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Taken {
    /// The oldest completed op nobody took: its aiocb, result (bytes or
    /// `-errno`), slot and generation. Its claim word now says TAKEN.
    Op {
        aiocb: usize,
        res: i64,
        idx: u32,
        generation: u32,
    },
    /// None now; `outstanding` says whether some op may still complete
    /// (submitted and not yet completed, or completing).
    Nothing { outstanding: bool },
}

/// What [`Slab::claim_for_return`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReturnClaim {
    /// `aio_return` took the result: it may hand it out.
    Mine,
    /// `aio_waitcomplete` reaped it already (`EINVAL`).
    Reaped,
    /// The slot serves a later generation: look at the aiocb's tag again
    /// (a reaper marks it returned before the slot can be recycled).
    Moved,
}

/// The bounded set of op records.
pub(crate) struct Slab {
    pub(crate) slots: Box<[Slot]>,
    /// Indexes of idle slots. (lock: this mutex)
    free: Mutex<Vec<u32>>,
    /// Completions: the completer publishes each slot here at K2 (lock
    /// free), the reclaimer and `aio_waitcomplete` drain it into `reap`.
    ring: Arc<CompletionRing>,
    reap: Mutex<Reap>,
    /// The completion descriptor, if a program asked for one.
    pub(crate) cfd: CompletionFd,
}

impl Slab {
    /// A slab of `n` slots (their ops are made on first use).
    pub(crate) fn new(n: usize) -> Slab {
        let n = n.clamp(1, 1 << 20);
        let slots = (0..n)
            .map(|i| Slot {
                st: Mutex::ranked(crate::lock_order::SLOT, SlotState::default()),
                info: UnsafeCell::new(Info {
                    core: std::ptr::null(),
                    idx: i as u32,
                    aiocb: std::ptr::null_mut(),
                    notify: Notification::None,
                    group: None,
                    stream: None,
                    generation: 0,
                }),
                sent: AtomicU32::new(NEVER_SENT),
                claim: AtomicU64::new(claim::word(0, claim::OPEN)),
                inline_reads: AtomicU64::new(0),
            })
            .collect();
        // Every slot is on the ring at most once at a time (it is pushed
        // when its op completes and recycled only after it was drained),
        // so a ring of at least `n` entries never runs out of credits.
        let (ring, reaper) =
            CompletionRing::new(n.next_power_of_two()).expect("a power of two, at most 2^20");
        Slab {
            slots,
            free: Mutex::ranked(crate::lock_order::SLAB_FREE, (0..n as u32).rev().collect()),
            ring,
            reap: Mutex::ranked(
                crate::lock_order::SLAB_REAP,
                Reap {
                    reaper,
                    next: vec![NIL; n].into_boxed_slice(),
                    aiocb: vec![0; n].into_boxed_slice(),
                    res: vec![0; n].into_boxed_slice(),
                    head: NIL,
                    tail: NIL,
                    len: 0,
                    reaping: false,
                },
            ),
            cfd: CompletionFd::new(),
        }
    }

    /// Takes an idle slot: `None` when every slot holds an op that has not
    /// completed, or (once the program reaps) whose result nobody took
    /// (the caller fails with `EAGAIN`).
    pub(crate) fn alloc(&self) -> Option<u32> {
        for _ in 0..ALLOC_RETRIES {
            if let Some(i) = self.free.lock().pop() {
                return Some(i);
            }
            if !self.reclaim() {
                return None;
            }
            // Some slot's callback ran but aio-core has not delivered its
            // op yet (a few instructions away), or its submitter has not
            // stored the Pending yet: try again.
            aio_core::sync::thread::yield_now();
        }
        None
    }

    /// Counts a read finished in the submitting thread on slot `idx`,
    /// whose lock the caller holds (`_held` says so): one writer at a
    /// time, so a plain load and store keep the count exact.
    pub(crate) fn count_inline(&self, idx: u32, _held: &SlotState) {
        let c = &self.slots[idx as usize].inline_reads;
        c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    /// Reads finished in the submitting thread so far (statistics: read
    /// while they change).
    pub(crate) fn inline_reads(&self) -> u64 {
        self.slots
            .iter()
            .map(|s| s.inline_reads.load(Ordering::Relaxed))
            .sum()
    }

    /// Gives back a slot that was never submitted.
    pub(crate) fn free(&self, idx: u32) {
        self.free.lock().push(idx);
    }

    /// Recycles `idx` if its op is home (delivered by aio-core, or never
    /// submitted and completed by us): bumps the generation, opens the
    /// claim word for it, and returns true (the caller puts it on `free`).
    fn recycle(&self, idx: u32) -> bool {
        let slot = &self.slots[idx as usize];
        let Some(mut st) = slot.st.try_lock() else {
            return false; // aio_cancel, or our own completion, holds it
        };
        if !st.home {
            let Some(p) = st.pending.take() else {
                return false; // the submitter has not stored it yet
            };
            match p.try_wait() {
                Ok((op, _)) => st.op = Some(op),
                Err(p) => {
                    st.pending = Some(p);
                    return false;
                }
            }
        }
        st.home = false;
        st.generation = st.generation.wrapping_add(1);
        st.target = None;
        st.aiocb = 0;
        st.fd = -1;
        // Release: a reader of the new generation's OPEN (aio_return of
        // an old aiocb) knows the slot moved on.
        slot.claim
            .store(claim::word(st.generation, claim::OPEN), Ordering::Release);
        true
    }

    /// Moves every completed op whose slot may be reused to the free list:
    /// its op is home and, once the program reaps, its result was taken.
    /// Returns whether a slot is free now or may be soon (an entry whose
    /// op is not delivered yet); entries kept for their untaken results
    /// do not count, so a slab full of them fails `alloc` at once.
    pub(crate) fn reclaim(&self) -> bool {
        let mut r = self.reap.lock();
        r.drain();
        let mut free = self.free.lock();
        let (mut prev, mut idx) = (NIL, r.head);
        let mut soon = false;
        while idx != NIL {
            let keep_untaken = r.reaping && {
                let c = self.slots[idx as usize].claim.load(Ordering::Acquire);
                c as u32 != claim::TAKEN
            };
            if !keep_untaken && self.recycle(idx) {
                free.push(idx);
                idx = r.unlink(prev, idx);
            } else if !keep_untaken
                && aio_core::sync::mutant(aio_core::sync::Mutant::SlabDropUndelivered)
            {
                // Mutant: forget a slot whose op is not delivered yet; it
                // never comes back.
                idx = r.unlink(prev, idx);
            } else {
                // Not delivered yet (or locked): free in a moment. A kept
                // untaken result waits for the program instead.
                soon |= !keep_untaken;
                prev = idx;
                idx = r.next[idx as usize];
            }
        }
        soon || !free.is_empty()
    }

    /// Publishes slot `idx`'s completion (K2): the ring entry carries the
    /// aiocb and the result. Lock free, never sleeps.
    pub(crate) fn push_done(&self, idx: u32, generation: u32, aiocb: usize, res: i64) {
        let mut e = CqEntry {
            id: aiocb as u64,
            user_data: (idx as u64) << 32 | generation as u64,
            res,
        };
        // Never fails: a slot is on the ring at most once (`new`).
        while let Err(back) = self.ring.try_push(e) {
            debug_assert!(false, "the slab's completion ring ran out of credits");
            e = back;
            aio_core::sync::thread::yield_now();
        }
    }

    /// K3b: the op's aiocb says done; its result may now be reaped. Then
    /// the completion descriptor is made readable if a program asked for
    /// one. A CAS: `aio_return` may have taken it first (OPEN → TAKEN).
    pub(crate) fn settle(&self, idx: u32, generation: u32) {
        let _ = self.slots[idx as usize].claim.compare_exchange(
            claim::word(generation, claim::OPEN),
            claim::word(generation, claim::DONE),
            Ordering::AcqRel,
            Ordering::Relaxed,
        );
        self.cfd.on_completion();
    }

    /// `aio_return`'s claim on the result of slot `idx`'s op of
    /// `generation`, whose aiocb already says done.
    pub(crate) fn claim_for_return(&self, idx: u32, generation: u32) -> ReturnClaim {
        let Some(slot) = self.slots.get(idx as usize) else {
            return ReturnClaim::Mine; // a slot-less op (failed at submission)
        };
        // Acquire: pairs with reclaim's Release store of a later
        // generation, which follows (under the reap lock) a reaper's
        // store of the aiocb's tag.
        let mut c = slot.claim.load(Ordering::Acquire);
        loop {
            if (c >> 32) as u32 != generation {
                return ReturnClaim::Moved;
            }
            match c as u32 {
                claim::TAKEN => return ReturnClaim::Reaped,
                _ => match slot.claim.compare_exchange(
                    c,
                    claim::word(generation, claim::TAKEN),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return ReturnClaim::Mine,
                    Err(now) => c = now,
                },
            }
        }
    }

    /// Switches the slab to reaping (the program calls `aio_waitcomplete`
    /// or asked for a completion descriptor): results nobody took keep
    /// their slots from now on.
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn start_reaping(&self) {
        self.reap.lock().reaping = true;
    }

    /// Whether the slab keeps untaken results (reaping mode).
    #[cfg_attr(not(loom), allow(dead_code))]
    pub(crate) fn is_reaping(&self) -> bool {
        self.reap.lock().reaping
    }

    /// Makes the completion descriptor, just installed, readable if any
    /// slot is in use: an op that completed around the install may have
    /// missed it (its K3b and its look at the descriptor race with the
    /// install), and its slot stays in use until reaped or recycled, which
    /// needs the reap lock we hold. Spurious at worst: the next drain finds
    /// nothing and clears it.
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn arm_if_busy(&self) {
        let _r = self.reap.lock();
        if self.free.lock().len() < self.slots.len() {
            self.cfd.arm();
        }
    }

    /// `aio_waitcomplete`'s step: takes the oldest completed op whose
    /// result nobody took (recycling, on the way, the slots whose results
    /// were taken), or says whether any op may still complete. With a
    /// completion descriptor, a `Nothing` answer leaves it unreadable
    /// only after the check that nothing is pending (`CompletionFd`).
    ///
    /// The reaped op's aiocb is marked returned here, under the reap lock
    /// and before its slot can be recycled (`mark`, called only if the
    /// aiocb still names this op), so that an `aio_return` that finds the
    /// slot recycled ([`ReturnClaim::Moved`]) then finds the tag.
    pub(crate) fn take(&self, mark: impl Fn(usize, u32, u32)) -> Taken {
        let mut r = self.reap.lock();
        r.reaping = true;
        loop {
            r.drain();
            let mut free = self.free.lock();
            let (mut prev, mut idx) = (NIL, r.head);
            let mut settled = 0usize;
            while idx != NIL {
                let slot = &self.slots[idx as usize];
                let c = slot.claim.load(Ordering::Acquire);
                let generation = (c >> 32) as u32;
                if c as u32 == claim::DONE {
                    // Mutant: take it with a load and a store, so a racing
                    // aio_return takes it too.
                    let won = if aio_core::sync::mutant(aio_core::sync::Mutant::ReapTakeUnclaimed) {
                        slot.claim
                            .store(claim::word(generation, claim::TAKEN), Ordering::Release);
                        true
                    } else {
                        slot.claim
                            .compare_exchange(
                                c,
                                claim::word(generation, claim::TAKEN),
                                Ordering::AcqRel,
                                Ordering::Acquire,
                            )
                            .is_ok()
                    };
                    if won {
                        let i = idx as usize;
                        mark(r.aiocb[i], idx, generation);
                        let t = Taken::Op {
                            aiocb: r.aiocb[i],
                            res: r.res[i],
                            idx,
                            generation,
                        };
                        return t;
                    }
                    // aio_return took it meanwhile: it is settled.
                }
                let c = slot.claim.load(Ordering::Acquire);
                if c as u32 == claim::TAKEN {
                    if self.recycle(idx) {
                        free.push(idx);
                        idx = r.unlink(prev, idx);
                        continue;
                    }
                    settled += 1;
                }
                prev = idx;
                idx = r.next[idx as usize];
            }
            let in_use = self.slots.len() - free.len();
            drop(free);
            // Nothing untaken: clear the descriptor, then look again (a
            // completion that became takeable before the clear, K2 on the
            // ring or K3b on the list, is found here; one after it makes
            // the descriptor readable again).
            if self
                .cfd
                .clear_then(|| r.reaper.has_ready() || r.any_done(&self.slots))
            {
                continue;
            }
            return Taken::Nothing {
                outstanding: in_use > settled,
            };
        }
    }
}

/// The completion descriptor (`aio_posix_completion_fd`): an eventfd that
/// is readable whenever a completed op's result is untaken (and sometimes
/// when none is: a program then finds nothing to reap). The protocol, in
/// `README.md` ("The completion descriptor"): a completer, after K3b,
/// `if !pending.swap(true) { write(fd, 1) }`; `aio_waitcomplete`, when it
/// finds nothing untaken, drains the descriptor, then `pending.swap(false)`,
/// then looks at the ring again, re-arming it if something arrived. Under
/// loom the eventfd is a counter.
pub(crate) struct CompletionFd {
    /// The eventfd (-1: none asked for).
    #[cfg(not(loom))]
    fd: AtomicI32,
    #[cfg(loom)]
    on: AtomicBool,
    #[cfg(loom)]
    count: AtomicU64,
    pending: AtomicBool,
}

impl CompletionFd {
    fn new() -> CompletionFd {
        CompletionFd {
            #[cfg(not(loom))]
            fd: AtomicI32::new(-1),
            #[cfg(loom)]
            on: AtomicBool::new(false),
            #[cfg(loom)]
            count: AtomicU64::new(0),
            pending: AtomicBool::new(false),
        }
    }

    /// The descriptor, if one was made.
    #[cfg(not(loom))]
    pub(crate) fn fd(&self) -> Option<i32> {
        let fd = self.fd.load(Ordering::Acquire);
        (fd >= 0).then_some(fd)
    }

    /// Installs `fd` unless one is installed; returns the one in use.
    #[cfg(not(loom))]
    pub(crate) fn install(&self, fd: i32) -> i32 {
        match self
            .fd
            .compare_exchange(-1, fd, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => fd,
            Err(other) => other,
        }
    }

    /// Turns the (model) descriptor on.
    #[cfg(loom)]
    pub(crate) fn install_model(&self) {
        self.on.store(true, Ordering::Release);
    }

    /// Whether the (model) descriptor is readable.
    #[cfg(loom)]
    pub(crate) fn readable(&self) -> bool {
        self.count.load(Ordering::Acquire) > 0
    }

    #[inline]
    fn enabled(&self) -> bool {
        #[cfg(not(loom))]
        return self.fd.load(Ordering::Relaxed) >= 0;
        #[cfg(loom)]
        return self.on.load(Ordering::Acquire);
    }

    /// A completion became takeable (K3b).
    #[inline]
    fn on_completion(&self) {
        if self.enabled() {
            self.arm();
        }
    }

    /// Makes the descriptor readable unless it is already armed. AcqRel:
    /// the swaps of `pending` are totally ordered, so either this one sees
    /// the consumer's clear (and writes, after its drain) or the consumer's
    /// look at the ring after its clear sees what this completer published.
    fn arm(&self) {
        if !self.pending.swap(true, Ordering::AcqRel) {
            self.write();
        }
    }

    /// With nothing untaken: drains the descriptor and clears `pending`,
    /// then asks `more` (is anything published since?); if so re-arms and
    /// returns true (look again). Returns false with the descriptor clear.
    fn clear_then(&self, more: impl Fn() -> bool) -> bool {
        if !self.enabled() {
            return more();
        }
        if aio_core::sync::mutant(aio_core::sync::Mutant::CfdRecheckBeforeClear) {
            // Mutant: look first, clear after: a completion published in
            // between finds `pending` still set, does not write, and is
            // then stranded behind an unreadable descriptor.
            if more() {
                self.arm();
                return true;
            }
            self.drain();
            self.pending.swap(false, Ordering::AcqRel);
            return false;
        }
        self.drain();
        self.pending.swap(false, Ordering::AcqRel);
        if more() {
            self.arm();
            return true;
        }
        false
    }

    #[cfg(not(loom))]
    fn write(&self) {
        let fd = self.fd.load(Ordering::Acquire);
        let one: u64 = 1;
        // The system call itself, not glibc's `write`, a cancellation
        // point: a submitting thread completes its inline read here with
        // its cancellation state untouched (src/README.md, "Signals and
        // cancellation").
        // SAFETY: writes 8 bytes from a local to our eventfd (a full
        // counter only fails with EAGAIN: it is readable then anyway).
        unsafe { libc::syscall(libc::SYS_write, fd, (&raw const one).cast::<u8>(), 8usize) };
    }

    #[cfg(not(loom))]
    fn drain(&self) {
        let fd = self.fd.load(Ordering::Acquire);
        let mut v: u64 = 0;
        // (The system call itself, as in `write`.)
        // SAFETY: reads 8 bytes into a local from our non-blocking eventfd.
        unsafe { libc::syscall(libc::SYS_read, fd, (&raw mut v).cast::<u8>(), 8usize) };
    }

    #[cfg(loom)]
    fn write(&self) {
        self.count.fetch_add(1, Ordering::AcqRel);
    }

    #[cfg(loom)]
    fn drain(&self) {
        self.count.swap(0, Ordering::AcqRel);
    }
}

/// The process's reaping flag (`instance::reap`'s `REAPS`) against an
/// instance being built: the builder reads the flag in `Instance::new`,
/// before its slab is published, so a first `aio_waitcomplete` (or
/// completion descriptor) between that read and the publication would find
/// no instance to switch, and the builder would have read the flag unset.
/// Whichever of the two looks second switches it: [`set_reaping`] stores
/// the flag and then looks for the published slab, [`published`] looks at
/// the flag after publishing; a SeqCst fence between each one's store and
/// load makes the two loads unable to both miss (store buffering).
/// Model: `loom_reaps_flag_vs_instance_build`.
pub(crate) fn set_reaping<'a>(flag: &AtomicBool, live: impl FnOnce() -> Option<&'a Slab>) {
    flag.store(true, Ordering::Release);
    aio_core::sync::atomic::fence(Ordering::SeqCst);
    if let Some(slab) = live() {
        slab.start_reaping();
    }
}

/// The builder's half of [`set_reaping`]'s handshake: `slab`'s instance was
/// just published; if the process reaps by now, so does it.
pub(crate) fn published(flag: &AtomicBool, slab: &Slab) {
    if aio_core::sync::mutant(aio_core::sync::Mutant::ReapsNoRecheck) {
        // Mutant: trust the flag read before publication.
        return;
    }
    aio_core::sync::atomic::fence(Ordering::SeqCst);
    if flag.load(Ordering::Acquire) {
        slab.start_reaping();
    }
}

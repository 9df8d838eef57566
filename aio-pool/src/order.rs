//! Per-target ordering: the fsync barrier and FIFO per target
//! ([`SubmitFlags::TARGET_FIFO`](crate::SubmitFlags::TARGET_FIFO)).
//!
//! # What is guaranteed
//!
//! * An fsync/fdatasync on a target is dispatched only after every write to
//!   that target that was submitted (queued) before it has completed.
//! * Ops submitted with [`SubmitFlags::TARGET_FIFO`](crate::SubmitFlags) run one
//!   at a time per target, in submission order (io-wq's hashed work): the
//!   next starts only after the previous has completed.
//! * Everything else (plain positional reads and writes) is not tracked
//!   here and runs in parallel.
//!
//! # How completion is known
//!
//! This section is the authoritative description of how the pools learn
//! that an op they track has completed; the crate docs ("Known limits"),
//! `sleep/README.md` and RFC.md point here.
//!
//! Once a worker hands an op's [`InFlight`](aio_core::InFlight) token to a
//! device, the op is the device's. So before it does, the worker takes an
//! [`OpWatch`](aio_core::OpWatch) on each tracked or target-FIFO op and keeps
//! `(meta, watch)` in its *confirm list*; the watch answers "delivered?"
//! for exactly that submission (aio-core's `op/README.md`, "Watching a
//! submission"). The worker *confirms* an op (calls `finished` below,
//! which may release held fsyncs or the next FIFO op) at the first of:
//!
//! 1. **Dispatch**: its watch is complete right after `submit` returns
//!    (completed inside `submit`, or already on the device's thread).
//! 2. **Each loop iteration**: after polling the engine, the worker checks
//!    every watch of its confirm list and confirms the complete ones.
//! 3. **Drain**: the engine has nothing in flight, so every op it counts
//!    has completed: the whole confirm list is confirmed. This is for
//!    *detached* ops alone (blockdev's stream transfers), which the device
//!    completes on a thread of its own without an engine ticket: nothing
//!    wakes the worker when they complete, so a drain confirms them, as
//!    before per-op watches (`blockdev/src/ready/README.md` says what that means
//!    for a pool user).
//!
//! So an fsync or a FIFO op waits for exactly the ops it depends on, not
//! for the other ops in flight on the same worker.
//!
//! **No lost confirmation.** A watch wakes nobody, so the worker must look
//! again after every completion of a watched op. It does: an op completed
//! inside `submit` or `Engine::poll` is seen by (1) or (2) on the worker's
//! own thread; a device that completes on its own thread delivers the op
//! *and then* returns its engine ticket, which rings the engine
//! (aio-core's strategy contract). The worker sleeps only in
//! `Engine::wait` while anything is in flight, and the doorbell's ring is
//! sticky: a ring after the worker's last check makes the next wait return
//! at once, and the check that follows sees the delivery (the ring's mutex
//! orders it after the device's deliver; the watch itself reads with
//! Acquire). With nothing in flight the worker has already confirmed
//! everything (3) before it sleeps on `pending`. Model:
//! `tests/loom_watch.rs`.
//!
//! **Hold-back.** A worker with a non-empty confirm list stops taking new
//! work when that list is full (`confirm_cap`), or when a barrier or a
//! FIFO op waits (`parked > 0`) and it has handed `confirm_cap` ops to
//! devices since its engine last drained (`Worker::room`). It takes work
//! again once its confirm list is below the cap (its watches completed)
//! or empty, or its engine drains (which resets the count): a detached op
//! can be confirmed only by a drain, and this bounds how long a barrier
//! can wait for one under a steady stream of other work. The cost: an op
//! that never completes (while a barrier waits) stops its worker after
//! `confirm_cap` more submissions.
//!
//! # Epochs
//!
//! Each target has an epoch, bumped by every fsync. A tracked write records
//! the epoch it was submitted in. `old` counts unfinished writes of every
//! epoch before the current one, `cur` those of the current epoch; an
//! fsync merges `cur` into `old` and bumps the epoch, and is held while
//! `old > 0`. (Merging is conservative: an fsync may wait for a write
//! submitted after an *earlier* fsync but before itself, which is exactly
//! what it must wait for, and for nothing later.) Held fsyncs are released
//! together, in order, when `old` reaches 0.
//!
//! # Locking
//!
//! ```text
//!   Lock order:  an OrderTable shard  ->  Pool::q  (crate docs, "Locking")
//!   (in practice released work is collected under the shard lock and
//!    pushed to pools after unlocking, so the two are never nested)
//!
//!   m   under the shard's mutex
//!   a   atomic
//! ```

use std::collections::{HashMap, VecDeque};

use aio_core::OpKind;
use aio_core::sync::Mutex;
use aio_core::sync::atomic::{AtomicUsize, Ordering};
use crossbeam_utils::CachePadded;

use crate::pool::Work;

const SHARDS: usize = if cfg!(loom) { 1 } else { 16 };
/// Idle entries are kept (so steady-state traffic to a target allocates
/// nothing) until a shard holds more than this many targets.
const GC_AT: usize = 1024;

/// The ordering state of one target. (m)
#[derive(Default)]
struct TargetOrder {
    epoch: u64,
    /// Unfinished tracked writes of epochs before `epoch`.
    old: usize,
    /// Unfinished tracked writes of epoch `epoch`.
    cur: usize,
    /// Fsyncs waiting for `old` to reach 0, oldest first.
    held: VecDeque<Work>,
    /// A target-FIFO op of this target is running (or queued to run).
    fifo_active: bool,
    /// Target-FIFO ops waiting for the active one, oldest first.
    fifo: VecDeque<Work>,
}

impl TargetOrder {
    fn idle(&self) -> bool {
        self.old == 0
            && self.cur == 0
            && self.held.is_empty()
            && !self.fifo_active
            && self.fifo.is_empty()
    }
}

/// One shard of the table: target key -> its ordering state. (m)
type Shard = Mutex<HashMap<usize, TargetOrder>>;

/// The per-target ordering table, sharded by target key.
pub(crate) struct OrderTable {
    shards: Box<[CachePadded<Shard>]>,
    /// Ops parked in `held` or `fifo` (all shards), *plus* ops released
    /// from there and not yet queued: `finished` and `release_ready` hand
    /// released ops to their caller still counted, and the caller
    /// decrements after queuing them (`Shared::push_all`). So an op in
    /// transit between the table and a queue is never invisible: shutdown
    /// in cancel mode sweeps until this is 0 (crate docs, step 3). Workers
    /// also read it to decide whether to drain before taking more work. (a)
    pub(crate) parked: AtomicUsize,
}

impl Default for OrderTable {
    fn default() -> Self {
        OrderTable {
            shards: (0..SHARDS)
                .map(|_| {
                    CachePadded::new(Mutex::ranked(
                        crate::lock_order::ORDER_SHARD,
                        HashMap::new(),
                    ))
                })
                .collect(),
            parked: AtomicUsize::new(0),
        }
    }
}

/// What `admit` decided.
pub(crate) enum Admit {
    /// Run it now (queue it, or try it inline).
    Run(Work),
    /// Parked in the table; a later `finished` releases it.
    Parked,
}

impl OrderTable {
    fn shard(&self, key: usize) -> &Shard {
        // Target keys are addresses: drop the alignment bits.
        &self.shards[(key >> 4) % SHARDS]
    }

    /// Whether an op needs the table at all: target-FIFO ops, queued writes
    /// (an fsync may follow) and flushes.
    pub(crate) fn involved(kind: OpKind, fifo: bool) -> bool {
        fifo || !matches!(kind, OpKind::Read)
    }

    /// Registers a submitted op; may park it.
    pub(crate) fn admit(&self, mut w: Work) -> Admit {
        let mut map = self.shard(w.m.key).lock();
        let t = map.entry(w.m.key).or_default();
        if w.m.kind == OpKind::Write {
            w.m.tracked = true;
            w.m.epoch = t.epoch;
            t.cur += 1;
        }
        let barrier_check_split =
            aio_core::sync::mutant(aio_core::sync::Mutant::FsyncCheckUnlocked);
        if matches!(w.m.kind, OpKind::Fsync | OpKind::Fdatasync) {
            t.old += t.cur;
            t.cur = 0;
            t.epoch += 1;
            let must_wait = t.old > 0 || !t.held.is_empty();
            if must_wait && barrier_check_split {
                // Mutant: the check is made, the lock dropped and retaken
                // before parking; a write finishing in between finds no
                // held fsync to release, and the fsync is parked forever.
                drop(map);
                map = self.shard(w.m.key).lock();
                let t = map.entry(w.m.key).or_default();
                t.held.push_back(w);
                self.parked.fetch_add(1, Ordering::SeqCst);
                return Admit::Parked;
            }
            if must_wait {
                t.held.push_back(w);
                self.parked.fetch_add(1, Ordering::SeqCst);
                return Admit::Parked;
            }
        }
        if w.m.fifo {
            if t.fifo_active {
                t.fifo.push_back(w);
                self.parked.fetch_add(1, Ordering::SeqCst);
                return Admit::Parked;
            }
            t.fifo_active = true;
        }
        Admit::Run(w)
    }

    /// The pool is done with an op that `admit` let run (completed,
    /// cancelled, or never started): updates the counts and moves released
    /// ops to `out`, still counted in `parked` (queue them with
    /// `Shared::push_all`).
    pub(crate) fn finished(
        &self,
        key: usize,
        tracked: bool,
        epoch: u64,
        fifo: bool,
        out: &mut Vec<Work>,
    ) {
        if !tracked && !fifo {
            return;
        }
        let mut map = self.shard(key).lock();
        let Some(t) = map.get_mut(&key) else {
            debug_assert!(false, "finished op of an unknown target");
            return;
        };
        if tracked {
            if epoch < t.epoch {
                debug_assert!(t.old > 0);
                t.old -= 1;
                if t.old == 0 {
                    // Still counted in `parked` until queued (see the field).
                    out.extend(t.held.drain(..));
                }
            } else {
                debug_assert!(t.cur > 0);
                t.cur -= 1;
            }
        }
        if fifo {
            match t.fifo.pop_front() {
                Some(next) => out.push(next),
                None => t.fifo_active = false,
            }
        }
        if t.idle() && map.len() > GC_AT {
            map.remove(&key);
        }
    }

    /// Removes the parked ops that `pick` selects (cancellation, shutdown)
    /// into `out`, fully accounted for: their metadata comes back with
    /// `tracked` and `fifo` cleared, so `finished` must not (and,
    /// through `Shared::retire`, does not) see them again. A removed
    /// target-FIFO op leaves the running one (if any) active.
    pub(crate) fn remove_parked(&self, mut pick: impl FnMut(&Work) -> bool, out: &mut Vec<Work>) {
        for shard in self.shards.iter() {
            let mut map = shard.lock();
            for t in map.values_mut() {
                let before = out.len();
                let mut i = 0;
                while i < t.held.len() {
                    if pick(&t.held[i]) {
                        out.extend(t.held.remove(i));
                    } else {
                        i += 1;
                    }
                }
                let mut i = 0;
                while i < t.fifo.len() {
                    if pick(&t.fifo[i]) {
                        let mut w = t.fifo.remove(i).expect("index checked");
                        if w.m.tracked {
                            if w.m.epoch < t.epoch {
                                t.old -= 1;
                            } else {
                                t.cur -= 1;
                            }
                        }
                        // Accounted for here: the caller must not report
                        // it `finished` (it never became the active one).
                        w.m.tracked = false;
                        w.m.fifo = false;
                        out.push(w);
                    } else {
                        i += 1;
                    }
                }
                self.parked.fetch_sub(out.len() - before, Ordering::SeqCst);
                // Removing fifo writes may have cleared a barrier: the
                // caller follows up with `release_ready`.
            }
        }
    }

    /// Moves every held fsync whose barrier is clear to `out` (after
    /// `remove_parked` took writes away), still counted in `parked`.
    pub(crate) fn release_ready(&self, out: &mut Vec<Work>) {
        for shard in self.shards.iter() {
            let mut map = shard.lock();
            for t in map.values_mut() {
                if t.old == 0 && !t.held.is_empty() {
                    out.extend(t.held.drain(..));
                }
            }
        }
    }

    /// Ops parked now.
    pub(crate) fn parked(&self) -> usize {
        self.parked.load(Ordering::SeqCst)
    }
}

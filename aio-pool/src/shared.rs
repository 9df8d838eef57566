//! What the workers and the submitters share: the pools, the order table,
//! the limits, the admission counts and the submission gate; and the
//! operations both sides use on them (reserving and releasing room,
//! queueing, removal for cancellation). `set.rs` (the submitter's and the
//! owner's side) and `worker.rs` both use this file; it uses neither.
//!
//! # Locking
//!
//! ```text
//!   Shared::space          a leaf: only the sleep on space_cv, taken alone
//!   OrderTable shard -> Pool::q  (in practice never nested: released work
//!                                 is collected under the shard lock and
//!                                 pushed after unlocking)
//!   remove_and_cancel takes each Pool::q alone, in turn, and cancels the
//!   ops it removed after unlocking (aio-core's op locks are never taken
//!   under a pool or order lock).
//! ```
//!
//! # Field markings
//!
//! ```text
//!   c   constant after construction
//!   a   atomic; the ordering is given at each use
//!   s   under Shared::space
//! ```

use aio_core::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
use aio_core::sync::{Condvar, Mutex};
use crossbeam_utils::CachePadded;

use crate::config::Class;
use crate::order::OrderTable;
use crate::pool::{Meta, Pool, Work};

/// A busy pool's queue must be longer than this before a submitter wakes
/// an idle sibling to steal (measured with `examples/pool_scaling.rs`: 4
/// keeps the skewed-load shares near 50% without waking a sibling for
/// every burst).
const STEAL_HINT_BACKLOG: usize = 4;

/// The gate's "closed" bit; the rest counts submitters inside `submit`.
pub(crate) const CLOSED: usize = 1 << (usize::BITS - 1);

/// The numbers of the configuration that the running pools need. (c)
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) per_class: usize,
    pub(crate) max_in_flight: usize,
    pub(crate) batch: usize,
    pub(crate) cap_pool: usize,
    pub(crate) cap_total: usize,
    pub(crate) inline: bool,
    pub(crate) steal: bool,
    pub(crate) idle_rounds: u32,
}

/// Everything the workers and submitters share.
pub(crate) struct Shared {
    /// (c)
    pub(crate) lim: Limits,
    /// Pool `class * per_class + i`. (c; each pool has its own legend)
    pub(crate) pools: Box<[CachePadded<Pool>]>,
    /// Per-target ordering. (its own legend)
    pub(crate) order: OrderTable,
    /// Ops admitted and not yet taken off a queue, in all pools (parked
    /// ones included). (a, SeqCst: pairs with `space_waiters`)
    pub(crate) queued: AtomicUsize,
    /// CLOSED | number of threads inside `submit`. (a, SeqCst)
    pub(crate) gate: AtomicUsize,
    /// Threads sleeping on `space_cv` (WAIT submitters, a draining
    /// shutdown). (a, SeqCst)
    pub(crate) space_waiters: AtomicUsize,
    /// Protects nothing but the sleep on `space_cv`. (s)
    pub(crate) space: Mutex<()>,
    pub(crate) space_cv: Condvar,
    /// Per class: every pool of the class has its worker (see "Lazy
    /// start" in `sleep/README.md`). Set with Release under
    /// `Workers::start` (start.rs), after the workers were spawned; read with
    /// Acquire by submitters, lock-free. (a)
    pub(crate) started: [AtomicBool; 3],
}

impl Shared {
    pub(crate) fn class_range(&self, class: Class) -> std::ops::Range<usize> {
        let s = class.index() * self.lim.per_class;
        s..s + self.lim.per_class
    }

    /// Reserves room for one op of `class`, preferring pool `pref` (index
    /// within the class). Returns the pool's global index.
    pub(crate) fn try_reserve(&self, class: Class, pref: usize) -> Option<usize> {
        // SeqCst: a space waiter's check and this RMW must be totally
        // ordered with the dequeuer's decrement (see `wait_space`).
        if self.queued.fetch_add(1, Ordering::SeqCst) >= self.lim.cap_total {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        let r = self.class_range(class);
        for k in 0..self.lim.per_class {
            let idx = r.start + (pref + k) % self.lim.per_class;
            let p = &self.pools[idx];
            if p.reserved.fetch_add(1, Ordering::SeqCst) < self.lim.cap_pool {
                return Some(idx);
            }
            p.reserved.fetch_sub(1, Ordering::SeqCst);
        }
        self.queued.fetch_sub(1, Ordering::SeqCst);
        None
    }

    /// Charges one op of `class` to pool `pref` (index within the class)
    /// without looking at the caps: [`SubmitFlags::ADMITTED`](crate::SubmitFlags::ADMITTED). The counts
    /// go down in `dequeued` as for any other op.
    pub(crate) fn force_reserve(&self, class: Class, pref: usize) -> usize {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let idx = self.class_range(class).start + pref % self.lim.per_class;
        self.pools[idx].reserved.fetch_add(1, Ordering::SeqCst);
        idx
    }

    pub(crate) fn has_room(&self, class: Class) -> bool {
        self.queued.load(Ordering::SeqCst) < self.lim.cap_total
            && self
                .class_range(class)
                .any(|i| self.pools[i].reserved.load(Ordering::SeqCst) < self.lim.cap_pool)
    }

    /// An op charged to pool `home` left the queues (taken, stolen,
    /// removed, or completed inline). Wakes space waiters.
    pub(crate) fn dequeued(&self, home: usize) {
        self.pools[home].reserved.fetch_sub(1, Ordering::SeqCst);
        self.queued.fetch_sub(1, Ordering::SeqCst);
        // Store-buffering (Dekker) pair with `wait_space`: decrement; fence;
        // read waiters  vs  register; fence; read counts. The two SeqCst
        // fences are totally ordered, so either we see the waiter's
        // registration (and notify under the lock it sleeps with), or its
        // check sees our decrement. SeqCst *accesses* alone would also do
        // in C11, but the fences say it plainly (and loom models fences,
        // while it treats SeqCst accesses as AcqRel).
        fence(Ordering::SeqCst);
        if self.space_waiters.load(Ordering::SeqCst) > 0 {
            let _g = self.space.lock();
            self.space_cv.notify_all();
        }
    }

    /// Sleeps until `done()` holds, re-checking after every dequeue.
    pub(crate) fn wait_space(&self, mut done: impl FnMut() -> bool) {
        let mut g = self.space.lock();
        self.space_waiters.fetch_add(1, Ordering::SeqCst);
        // Pairs with the fence in `dequeued`.
        fence(Ordering::SeqCst);
        while !done() {
            g = self.space_cv.wait(g);
        }
        self.space_waiters.fetch_sub(1, Ordering::SeqCst);
        drop(g);
    }

    pub(crate) fn wake_space_waiters(&self) {
        let _g = self.space.lock();
        self.space_cv.notify_all();
    }

    /// Queues `w` on its home pool; if that pool's worker is busy, wakes an
    /// idle sibling so it can steal.
    pub(crate) fn push(&self, w: Work) {
        let home = w.m.home;
        let (woke, len) = self.pools[home].push(w);
        // Only a backlog is worth a sibling's wake-up; waking one for every
        // push makes two workers ping-pong over single ops.
        if !woke && len > STEAL_HINT_BACKLOG && self.lim.steal && self.lim.per_class > 1 {
            let p = &self.pools[home];
            let r = self.class_range(p.class);
            for k in 1..self.lim.per_class {
                let s = r.start + (p.index + k) % self.lim.per_class;
                if self.pools[s].wake_if_idle() {
                    break;
                }
            }
        }
    }

    /// Queues ops the order table released, and only then uncounts each
    /// from `OrderTable::parked` (SeqCst: a shutdown that reads 0 there
    /// also sees the push).
    pub(crate) fn push_all(&self, ws: &mut Vec<Work>) {
        for w in ws.drain(..) {
            self.push(w);
            self.order.parked.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// The pool is done with `m` without a worker having run it (cancelled
    /// or completed inline): the order table learns it.
    pub(crate) fn retire(&self, m: Meta) {
        if m.tracked || m.fifo {
            let mut out = Vec::new();
            self.order
                .finished(m.key, m.tracked, m.epoch, m.fifo, &mut out);
            self.push_all(&mut out);
        }
    }

    /// Removes every queued or parked op that `pick` selects and cancels
    /// it. Returns how many this call cancelled.
    pub(crate) fn remove_and_cancel(&self, pick: impl Fn(&Meta) -> bool) -> usize {
        let mut out = Vec::new();
        self.order.remove_parked(|w| pick(&w.m), &mut out);
        for p in self.pools.iter() {
            let mut g = p.q.lock();
            let mut i = 0;
            while i < g.queue.len() {
                if pick(&g.queue[i].m) {
                    out.extend(g.queue.remove(i));
                } else {
                    i += 1;
                }
            }
        }
        let mut n = 0;
        for w in out {
            let m = w.m;
            self.dequeued(m.home);
            if w.cancel() {
                n += 1;
                self.pools[m.home].stats.cancelled.inc();
            }
            self.retire(m);
        }
        let mut rel = Vec::new();
        self.order.release_ready(&mut rel);
        self.push_all(&mut rel);
        n
    }
}

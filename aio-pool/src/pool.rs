//! One service pool: the proposal's `struct aio_service_pool`, for one
//! (CPU, class) pair. Its queue, the sleep state of its one worker and
//! the two channels that wake that worker (`sleep::Wakeup`: the `pending`
//! condvar, and the engine waker that reaches it in `Engine::wait`);
//! pushing, stealing, the sibling-wake hint and cancel requests.
//!
//! The sleep/wake protocol is the `sleep` module's (`sleep/README.md`);
//! read it before changing anything marked (q) below.
//!
//! # Locking
//!
//! ```text
//!   Pool::q is taken alone (crate docs, "Locking"):
//!   * No thread ever holds two `Pool::q` locks: a stealer drops its own
//!     pool's lock before it locks a sibling's (`steal_into` try_locks;
//!     `steal_into_blocking`, the stealer's second round, waits), and the
//!     sibling-wake hint uses `try_lock`.
//!   * `Pool::q` is never held across a call into a device, a target, an
//!     engine or a callback; the engine waker (its slot's own leaf lock)
//!     is called after unlocking.
//! ```
//!
//! # Field markings (after NetBSD's `buf.h`)
//!
//! ```text
//!   c   constant after construction
//!   q   under Pool::q (the pool mutex)
//!   a   atomic, SeqCst: admission accounting (shared.rs, `try_reserve`
//!       and `dequeued`)
//!   s   statistics, Relaxed
//! ```

use std::collections::VecDeque;

use aio_core::sync::atomic::AtomicUsize;
use aio_core::sync::{Arc, Condvar, Mutex, MutexGuard};
use aio_core::{CancelOutcome, EngineWaker, Error, InFlight, OpKey, OpKind, Queued, Target};

use crate::config::Class;
use crate::sleep::{Sleep, Wake, Wakeup};
use crate::stats::Counters;

/// The pool's claim on an op: started or not.
pub(crate) enum Token {
    /// Not started: the owner may still cancel it through its `Pending`.
    Queued(Queued),
    /// Started by an inline attempt that would have blocked (punted): only
    /// the pool can cancel it now.
    Started(InFlight),
}

/// What the scheduler knows about a queued op without touching it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Meta {
    /// The submission's identity (never the user's id).
    pub(crate) op: OpKey,
    pub(crate) key: usize,
    pub(crate) kind: OpKind,
    /// FIFO with the other `TARGET_FIFO` ops of its target.
    pub(crate) fifo: bool,
    /// Counted in the order table as an unfinished write of epoch `epoch`.
    pub(crate) tracked: bool,
    pub(crate) epoch: u64,
    /// The pool (global index) whose admission count this op is charged to.
    pub(crate) home: usize,
}

/// One unit of work in a queue: the token and its [`Meta`].
pub(crate) struct Work {
    pub(crate) tok: Token,
    pub(crate) m: Meta,
}

impl Work {
    /// Completes the op with `ECANCELED` unless its owner already did.
    /// Returns whether this call cancelled it.
    pub(crate) fn cancel(self) -> bool {
        match self.tok {
            Token::Queued(q) => q.cancel() == CancelOutcome::Cancelled,
            Token::Started(f) => {
                f.complete(Err(Error::ECANCELED));
                true
            }
        }
    }
}

/// A request for the worker to pass a cancel to its device (only the
/// worker owns the engine the op was submitted through).
pub(crate) struct CancelReq {
    pub(crate) op: OpKey,
    pub(crate) target: Arc<dyn Target>,
    pub(crate) reply: Arc<CancelReply>,
}

/// Where workers answer a [`CancelReq`]: (answers, any `Cancelled`, any
/// `InFlight`: a device found the op under way and did not cancel it).
pub(crate) struct CancelReply {
    pub(crate) m: Mutex<(usize, bool, bool)>,
    pub(crate) cv: Condvar,
}

impl Default for CancelReply {
    fn default() -> Self {
        CancelReply {
            m: Mutex::ranked(crate::lock_order::CANCEL_REPLY, (0, false, false)),
            cv: Condvar::new(),
        }
    }
}

impl CancelReply {
    pub(crate) fn answer(&self, outcome: Option<CancelOutcome>) {
        let mut g = self.m.lock();
        g.0 += 1;
        g.1 |= outcome == Some(CancelOutcome::Cancelled);
        g.2 |= outcome == Some(CancelOutcome::InFlight);
        self.cv.notify_all();
    }
}

/// The fields under the pool mutex.
pub(crate) struct PoolQ {
    /// Ops waiting for the worker (or a stealer), oldest first. Its
    /// capacity is reserved up front, so pushing never allocates. (q)
    pub(crate) queue: VecDeque<Work>,
    /// The worker's sleep state. (q)
    pub(crate) sleep: Sleep,
    /// Shutdown: exit once the queue is empty and nothing is in flight. (q)
    pub(crate) exit: bool,
    /// Cancel requests for the device, answered by the worker. (q)
    pub(crate) cancels: Vec<CancelReq>,
}

/// The outcome of one steal attempt (crossbeam-deque's `Steal`, so "try
/// again" is never folded into "empty").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum Steal {
    /// The victim's queue was empty.
    Empty,
    /// This many ops were moved.
    Success(usize),
    /// The victim's lock was busy; nothing was looked at.
    Retry,
}

/// One (CPU, class) pool.
pub(crate) struct Pool {
    /// (c)
    pub(crate) class: Class,
    /// Index within its class. (c)
    pub(crate) index: usize,
    /// The CPU its worker is pinned to. (c)
    pub(crate) cpu: usize,
    /// The pool mutex.
    pub(crate) q: Mutex<PoolQ>,
    /// The worker's two wake-up channels: the `pending` condvar (waited
    /// on with `q` held) and the engine waker's slot (its own leaf lock).
    pub(crate) wakeup: Wakeup,
    /// Ops admitted to this pool and not yet taken off its queue (includes
    /// ops being pushed and ops parked in the order table). (a)
    pub(crate) reserved: AtomicUsize,
    /// (s)
    pub(crate) stats: Counters,
}

impl Pool {
    pub(crate) fn new(
        class: Class,
        index: usize,
        cpu: usize,
        cap: usize,
        waker: Option<Box<dyn EngineWaker>>,
    ) -> Pool {
        Pool {
            class,
            index,
            cpu,
            q: Mutex::ranked(
                crate::lock_order::POOL_Q,
                PoolQ {
                    queue: VecDeque::with_capacity(cap),
                    sleep: Sleep::Awake,
                    exit: false,
                    cancels: Vec::new(),
                },
            ),
            reserved: AtomicUsize::new(0),
            wakeup: Wakeup::new(waker),
            stats: Counters::default(),
        }
    }

    /// Decides, with the pool locked, whether the worker must be woken, and
    /// marks it awake if so ([`Sleep::wake`]). `force` also wakes a worker
    /// that cannot take new work (for cancel requests and shutdown).
    pub(crate) fn wake_locked(g: &mut MutexGuard<'_, PoolQ>, force: bool) -> Wake {
        g.sleep.wake(force)
    }

    /// Carries out a [`Wake`] decided under the lock (call it unlocked):
    /// [`Wakeup::wake`].
    pub(crate) fn wake(&self, w: Wake) {
        self.wakeup.wake(w);
    }

    /// Appends `w` to the queue and wakes the worker if it sleeps. Returns
    /// whether the worker was woken, and the queue's length after the push
    /// (a busy worker with a backlog is when a sibling should steal).
    pub(crate) fn push(&self, w: Work) -> (bool, usize) {
        let mut g = self.q.lock();
        // After shutdown step 4 nothing may be queued: the worker may be
        // gone (see the crate docs, "Shutdown").
        debug_assert!(!g.exit, "push to a pool after shutdown");
        g.queue.push_back(w);
        let len = g.queue.len();
        let wake = Pool::wake_locked(&mut g, false);
        drop(g);
        self.stats.queue_hwm.max(len as u64);
        self.wake(wake);
        (wake != Wake::Nothing, len)
    }

    /// Moves up to `n` ops from the front of the queue to `out`. The
    /// caller holds the pool lock (the guard is the evidence).
    pub(crate) fn take_locked(
        g: &mut MutexGuard<'_, PoolQ>,
        n: usize,
        out: &mut Vec<Work>,
    ) -> usize {
        let k = n.min(g.queue.len());
        out.extend(g.queue.drain(..k));
        k
    }

    /// Steals up to half of this pool's queue (at least one, at most `n`)
    /// into `out`, for an idle sibling. Never waits for this pool's lock:
    /// a contended lock is [`Steal::Retry`] (the owner or a submitter is in
    /// there; in its first round the stealer tries another sibling rather
    /// than queueing up behind them, and only its second round waits, with
    /// [`Pool::steal_into_blocking`]). The caller must hold no pool lock.
    pub(crate) fn steal_into(&self, n: usize, out: &mut Vec<Work>) -> Steal {
        let Some(g) = self.q.try_lock() else {
            return Steal::Retry;
        };
        self.steal_locked(g, n, out)
    }

    /// As [`Pool::steal_into`], but waits for the lock. Only for a thief
    /// that holds no pool lock (the lock order forbids holding two).
    pub(crate) fn steal_into_blocking(&self, n: usize, out: &mut Vec<Work>) -> Steal {
        self.steal_locked(self.q.lock(), n, out)
    }

    fn steal_locked(&self, mut g: MutexGuard<'_, PoolQ>, n: usize, out: &mut Vec<Work>) -> Steal {
        let len = g.queue.len();
        if len == 0 {
            return Steal::Empty;
        }
        let k = len.div_ceil(2).min(n);
        if aio_core::sync::mutant(aio_core::sync::Mutant::StealLenUnlocked) {
            // Mutant: the batch size is decided under one lock hold and
            // used under another; the owner may have taken the op between.
            drop(g);
            let mut g = self.q.lock();
            out.extend(g.queue.drain(..k));
            return Steal::Success(k);
        }
        Steal::Success(Pool::take_locked(&mut g, k, out))
    }

    /// The sibling-wake hint: if this pool's worker sleeps idle, wake it so
    /// it can steal. Never blocks (`try_lock`): missing a wake-up here
    /// costs balance, not liveness, because every queued op's own worker is
    /// woken by its push.
    pub(crate) fn wake_if_idle(&self) -> bool {
        let Some(mut g) = self.q.try_lock() else {
            return false;
        };
        if g.sleep != Sleep::Idle || g.exit {
            return false;
        }
        let w = Pool::wake_locked(&mut g, false);
        drop(g);
        self.wake(w);
        true
    }

    /// Asks the worker to cancel `id` through its device. Returns false if
    /// the worker has exited (the request was not queued).
    pub(crate) fn request_cancel(&self, req: CancelReq) -> bool {
        let mut g = self.q.lock();
        if g.exit {
            return false;
        }
        g.cancels.push(req);
        let w = Pool::wake_locked(&mut g, true);
        drop(g);
        self.wake(w);
        true
    }
}

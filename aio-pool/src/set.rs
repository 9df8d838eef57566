//! The set of all pools: admission, submission, cancellation, shutdown.
//!
//! # Locking
//!
//! ```text
//!   Lock order:  Shared::space  (alone)
//!                OrderShard::mtx  ->  Pool::q
//!                CancelReply::m   (alone)
//!
//!   No lock of this file is held across a call into a target, a device,
//!   an engine or a callback, and none across `Pool::push`.
//! ```
//!
//! # Field markings
//!
//! ```text
//!   c   constant after construction
//!   a   atomic; the ordering is given at each use
//!   s   under Shared::space
//!   j   under Shared::joins
//! ```

use std::panic::{AssertUnwindSafe, catch_unwind};

use aio_core::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
use aio_core::sync::thread::{self, JoinHandle};
use aio_core::sync::{Arc, Condvar, Mutex};
use aio_core::{CancelOutcome, Error, Op, Pending, Queued, Result, Target};
use crossbeam_utils::CachePadded;

use crate::config::{Class, EngineFactory, PoolConfig, SpawnWrapper, SubmitFlags};
use crate::order::{Admit, OrderTable};
use crate::pool::{CancelReply, CancelReq, Meta, Pool, Token, Work};
use crate::stats::PoolStats;
use crate::worker::Worker;

/// A busy pool's queue must be longer than this before a submitter wakes
/// an idle sibling to steal (measured with `examples/pool_scaling.rs`: 4
/// keeps the skewed-load shares near 50% without waking a sibling for
/// every burst).
const STEAL_HINT_BACKLOG: usize = 4;

/// The gate's "closed" bit; the rest counts submitters inside `submit`.
const CLOSED: usize = 1 << (usize::BITS - 1);

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
    queued: AtomicUsize,
    /// CLOSED | number of threads inside `submit`. (a, SeqCst)
    gate: AtomicUsize,
    /// Threads sleeping on `space_cv` (WAIT submitters, a draining
    /// shutdown). (a, SeqCst)
    space_waiters: AtomicUsize,
    /// Protects nothing but the sleep on `space_cv`. (s)
    space: Mutex<()>,
    space_cv: Condvar,
    /// Per class: every pool of the class has its worker (see "Lazy
    /// start" in `sleep/README.md`). Set with Release under
    /// `PoolSet::start`, after the workers were spawned; read with
    /// Acquire by submitters, lock-free. (a)
    started: [AtomicBool; 3],
}

impl Shared {
    fn class_range(&self, class: Class) -> std::ops::Range<usize> {
        let s = class.index() * self.lim.per_class;
        s..s + self.lim.per_class
    }

    /// Reserves room for one op of `class`, preferring pool `pref` (index
    /// within the class). Returns the pool's global index.
    fn try_reserve(&self, class: Class, pref: usize) -> Option<usize> {
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
    /// without looking at the caps: [`SubmitFlags::ADMITTED`]. The counts
    /// go down in `dequeued` as for any other op.
    fn force_reserve(&self, class: Class, pref: usize) -> usize {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let idx = self.class_range(class).start + pref % self.lim.per_class;
        self.pools[idx].reserved.fetch_add(1, Ordering::SeqCst);
        idx
    }

    fn has_room(&self, class: Class) -> bool {
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
    fn wait_space(&self, mut done: impl FnMut() -> bool) {
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

    fn wake_space_waiters(&self) {
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
    fn retire(&self, m: Meta) {
        if m.tracked || m.fifo {
            let mut out = Vec::new();
            self.order
                .finished(m.key, m.tracked, m.epoch, m.fifo, &mut out);
            self.push_all(&mut out);
        }
    }

    /// Removes every queued or parked op that `pick` selects and cancels
    /// it. Returns how many this call cancelled.
    fn remove_and_cancel(&self, pick: impl Fn(&Meta) -> bool) -> usize {
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

/// What [`PoolSet::submit`] did with an op.
#[derive(Debug)]
#[must_use]
pub enum Submitted {
    /// Synchronous mode (no callback, no ring): the caller's thread ran it;
    /// here is the op back and its result.
    Done(Op, Result<usize>),
    /// Asynchronous mode: the op was completed inline or queued; its
    /// callback or ring announces the completion, and the `Pending` waits
    /// for it.
    Pending(Pending),
}

/// A refused submission: the op comes back untouched, with the reason
/// (`EAGAIN`: the queues are full; `ESHUTDOWN`: the pools are shutting
/// down). Nothing was queued and no notification will run.
#[derive(Debug)]
pub struct SubmitError {
    /// The op, still idle.
    pub op: Op,
    /// Why it was refused.
    pub error: Error,
}

impl std::fmt::Display for SubmitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "submission refused: {}", self.error)
    }
}

impl std::error::Error for SubmitError {}

/// How [`PoolSet::shutdown`] treats the ops still queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownMode {
    /// Run every queued op to completion before the workers exit.
    Drain,
    /// Complete every queued (not yet started) op with `ECANCELED`.
    Cancel,
}

/// What [`PoolSet::shutdown`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Queued ops completed with `ECANCELED` (cancel mode).
    pub cancelled: usize,
    /// Worker threads joined.
    pub joined: usize,
    /// Worker threads that had panicked (should be 0: workers catch).
    pub worker_panics: usize,
}

/// How workers are started (constant after construction, except
/// `spawned`, under `PoolSet::start`).
struct Starter {
    factory: Arc<EngineFactory>,
    wrap: Option<SpawnWrapper>,
    pin: bool,
    mask: u8,
    /// Per pool: its worker was spawned.
    spawned: Vec<bool>,
}

/// The per-(CPU, class) service pools and their workers.
///
/// Created once (by the POSIX layer, typically one per process) and shared
/// by reference or `Arc`; every method takes `&self`.
pub struct PoolSet {
    sh: Arc<Shared>,
    /// Worker threads, taken by the first shutdown. (j)
    joins: Mutex<Vec<JoinHandle<()>>>,
    /// Starting workers. (lock order: `start` -> `joins`, `Pool::q`)
    start: Mutex<Starter>,
}

impl std::fmt::Debug for PoolSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolSet")
            .field("limits", &self.sh.lim)
            .finish_non_exhaustive()
    }
}

/// The key [`Queued::target_key`] gives ops on `target`, for
/// [`PoolSet::cancel_target`].
pub fn target_key(target: &Arc<dyn Target>) -> usize {
    Arc::as_ptr(target) as *const () as usize
}

impl PoolSet {
    /// Builds the pools. Starts every worker now unless
    /// [`PoolConfig::lazy`] (then each class's workers, and their engines
    /// from `config.engine_factory`, start with the class's first op).
    /// `EINVAL` for a bad configuration, `EAGAIN` if a thread cannot be
    /// started eagerly (the ones already started are stopped).
    pub fn new(config: PoolConfig) -> Result<PoolSet> {
        config.validate()?;
        let lim = Limits {
            per_class: config.pools_per_class,
            max_in_flight: config.max_in_flight,
            batch: config.batch,
            cap_pool: config.queue_cap_per_pool,
            cap_total: config.queue_cap_total,
            inline: config.inline,
            steal: config.steal,
        };
        let cpus = if config.cpus.is_empty() {
            vec![0]
        } else {
            config.cpus.clone()
        };
        let mut pools = Vec::with_capacity(3 * lim.per_class);
        for class in Class::ALL {
            for i in 0..lim.per_class {
                let cpu = cpus[i % cpus.len()];
                let p = Pool::new(class, i, cpu, lim.cap_pool, None);
                // No worker yet: nothing may wait for one (cancel requests
                // skip an exited pool). Cleared when the worker starts.
                p.q.lock().exit = true;
                pools.push(CachePadded::new(p));
            }
        }
        let sh = Arc::new(Shared {
            lim,
            pools: pools.into_boxed_slice(),
            order: OrderTable::default(),
            queued: AtomicUsize::new(0),
            gate: AtomicUsize::new(0),
            space_waiters: AtomicUsize::new(0),
            space: Mutex::new(()),
            space_cv: Condvar::new(),
            started: [
                AtomicBool::new(false),
                AtomicBool::new(false),
                AtomicBool::new(false),
            ],
        });
        let n = sh.pools.len();
        let set = PoolSet {
            sh,
            joins: Mutex::new(Vec::new()),
            start: Mutex::new(Starter {
                factory: Arc::new(config.engine_factory),
                wrap: config.spawn_with,
                pin: config.pin,
                mask: config.spawn_mask,
                spawned: vec![false; n],
            }),
        };
        if !config.lazy {
            for class in Class::ALL {
                if set.start_class(class).is_err() {
                    set.shutdown(ShutdownMode::Cancel);
                    return Err(Error::EAGAIN);
                }
            }
        }
        Ok(set)
    }

    /// Worker threads started so far.
    pub fn workers(&self) -> usize {
        self.joins.lock().len()
    }

    /// Makes sure every pool of `class` has its worker: one Acquire load
    /// once they do. `EAGAIN` if a thread cannot be started (the next
    /// submission tries again).
    fn ensure_started(&self, class: Class) -> Result<()> {
        if self.sh.started[class.index()].load(Ordering::Acquire) {
            return Ok(());
        }
        self.start_class(class)
    }

    /// Starts the missing workers of `class`, under `start`: the check of
    /// `spawned` and the spawn are one critical section, so two
    /// submitters racing here start each worker once.
    fn start_class(&self, class: Class) -> Result<()> {
        let mut st = self.start.lock();
        // Mutant: no re-check under the lock (the unlocked `started` load
        // in `ensure_started` is taken as the decision), so two racing
        // submitters both spawn every worker of the class.
        let recheck = !aio_core::sync::mutant("pool-start-unlocked");
        if recheck && self.sh.started[class.index()].load(Ordering::Relaxed) {
            return Ok(());
        }
        let mut ok = true;
        let sh = &self.sh;
        let Starter {
            factory,
            wrap,
            pin,
            mask,
            spawned,
        } = &mut *st;
        let mut spawn_all = || {
            for idx in sh.class_range(class) {
                if spawned[idx] && recheck {
                    continue;
                }
                if *mask & (1 << class.index()) == 0 {
                    // No worker (models only): the pool stays exited.
                    continue;
                }
                match self.spawn_worker(idx, Arc::clone(factory), *pin) {
                    Ok(()) => spawned[idx] = true,
                    Err(_) => ok = false,
                }
            }
        };
        match wrap {
            Some(w) => w(&mut spawn_all),
            None => spawn_all(),
        }
        if !ok {
            return Err(Error::EAGAIN);
        }
        // Release: pairs with `ensure_started`'s Acquire, so a submitter
        // that skips the lock sees every pool's `exit` cleared.
        sh.started[class.index()].store(true, Ordering::Release);
        Ok(())
    }

    /// Spawns the worker of pool `idx`; it makes its engine on its own
    /// thread and installs the engine's waker before it first sleeps.
    fn spawn_worker(&self, idx: usize, factory: Arc<EngineFactory>, pin: bool) -> Result<()> {
        let p = &self.sh.pools[idx];
        p.q.lock().exit = false;
        let sh = Arc::clone(&self.sh);
        let name = format!("aio-{:?}-{}", p.class, p.index).to_lowercase();
        let r = thread::spawn_named(name, move || {
            let engine = (factory)();
            *sh.pools[idx].waker.lock() = Some(engine.waker());
            Worker::new(sh, idx, engine, pin).run();
        });
        match r {
            Ok(h) => {
                self.joins.lock().push(h);
                Ok(())
            }
            Err(_) => {
                // No worker: the pool is exited again, and any cancel
                // request queued meanwhile is answered (not cancelled).
                let mut g = p.q.lock();
                g.exit = true;
                let reqs = std::mem::take(&mut g.cancels);
                drop(g);
                for r in reqs {
                    r.reply.answer(None);
                }
                Err(Error::EAGAIN)
            }
        }
    }

    /// Submits `op`.
    ///
    /// * Synchronous mode ([`Op::is_synchronous`]): runs it on this thread
    ///   ([`Op::run_sync`]) and returns [`Submitted::Done`]; never queued.
    /// * Otherwise the op goes to the pool of its class on this thread's
    ///   CPU (or a sibling if that one is full). Unless the pool's `inline`
    ///   switch or [`SubmitFlags::NO_INLINE`] says no, a plain read or
    ///   write on a target with a strategy is first tried inline
    ///   ([`Strategy::try_nowait`](aio_core::Strategy::try_nowait)) and
    ///   queued only if that would block. An fsync is parked until the
    ///   target's earlier writes complete; an [`SubmitFlags::TARGET_FIFO`] op
    ///   waits for the target's earlier `TARGET_FIFO` ops.
    ///
    /// Errors give the op back untouched: `EAGAIN` if the queues are full
    /// (unless [`SubmitFlags::WAIT`], which sleeps for room instead, or
    /// [`SubmitFlags::ADMITTED`], which is never refused for room), or if
    /// the op completes to a [`CompletionRing`](aio_core::CompletionRing)
    /// that has no free credit (unless [`SubmitFlags::WAIT`], which sleeps
    /// for the credit too), `ESHUTDOWN` after [`PoolSet::shutdown`] began.
    ///
    /// Limits: a synchronous-mode flush runs at once and does not wait for
    /// asynchronous writes still queued on its target (submit it with a
    /// callback to get the barrier). A target without a strategy that
    /// answers `Attempt::Busy` on a worker completes the op with `EAGAIN`:
    /// only a synchronous caller may sleep on the target's availability.
    pub fn submit(
        &self,
        mut op: Op,
        flags: SubmitFlags,
    ) -> std::result::Result<Submitted, SubmitError> {
        if op.is_synchronous() {
            let r = op.run_sync();
            return Ok(Submitted::Done(op, r));
        }
        let sh = &*self.sh;
        if !self.enter() {
            return Err(SubmitError {
                op,
                error: Error::from_errno(libc::ESHUTDOWN),
            });
        }
        let r = self.submit_entered(op, flags);
        // SeqCst: pairs with shutdown's fetch_or / load (see `enter`).
        sh.gate.fetch_sub(1, Ordering::SeqCst);
        r
    }

    /// Enters the gate: false if shutdown has begun. Shutdown sets CLOSED
    /// and then waits for the count to drop to 0; because the increment
    /// and the CLOSED test are one RMW, every submitter either sees CLOSED
    /// or is counted before shutdown stops waiting.
    fn enter(&self) -> bool {
        let gate = &self.sh.gate;
        if aio_core::sync::mutant("gate-check-first") {
            // Mutant: test, then count. Shutdown can run between the two
            // and miss this submitter.
            if gate.load(Ordering::SeqCst) & CLOSED != 0 {
                return false;
            }
            gate.fetch_add(1, Ordering::SeqCst);
            return true;
        }
        if gate.fetch_add(1, Ordering::SeqCst) & CLOSED != 0 {
            gate.fetch_sub(1, Ordering::SeqCst);
            return false;
        }
        true
    }

    fn submit_entered(
        &self,
        op: Op,
        flags: SubmitFlags,
    ) -> std::result::Result<Submitted, SubmitError> {
        let sh = &*self.sh;
        let kind = op.kind();
        let class = Class::of(kind);
        if self.ensure_started(class).is_err() {
            return Err(SubmitError {
                op,
                error: Error::EAGAIN,
            });
        }
        let fifo = flags.contains(SubmitFlags::TARGET_FIFO) && kind.is_transfer();
        let pref = crate::cpu::current_cpu() % sh.lim.per_class;
        let home = loop {
            if flags.contains(SubmitFlags::ADMITTED) {
                break sh.force_reserve(class, pref);
            }
            if let Some(h) = sh.try_reserve(class, pref) {
                break h;
            }
            if !flags.contains(SubmitFlags::WAIT) {
                sh.pools[sh.class_range(class).start + pref]
                    .stats
                    .rejected
                    .inc();
                return Err(SubmitError {
                    op,
                    error: Error::EAGAIN,
                });
            }
            sh.wait_space(|| sh.has_room(class) || sh.gate.load(Ordering::SeqCst) & CLOSED != 0);
            if sh.gate.load(Ordering::SeqCst) & CLOSED != 0 {
                return Err(SubmitError {
                    op,
                    error: Error::from_errno(libc::ESHUTDOWN),
                });
            }
        };
        let pool = &sh.pools[home];
        let try_inline = sh.lim.inline
            && !flags.contains(SubmitFlags::NO_INLINE)
            && !fifo
            && kind.is_transfer()
            && op.target().strategy().is_some();
        // An op that completes to a ring takes a ring credit here, so that
        // its completer never waits for the ring: the back-pressure of a
        // full ring is the submitter's (a sleep with WAIT, else EAGAIN).
        let (pending, queued) = if flags.contains(SubmitFlags::WAIT) {
            op.enqueue()
        } else {
            match op.try_enqueue() {
                Ok(pq) => pq,
                Err(op) => {
                    sh.dequeued(home);
                    pool.stats.rejected.inc();
                    return Err(SubmitError {
                        op,
                        error: Error::EAGAIN,
                    });
                }
            }
        };
        pool.stats.submitted.inc();
        let m = Meta {
            op: queued.key(),
            key: queued.target_key(),
            kind,
            fifo,
            tracked: false,
            epoch: 0,
            home,
        };
        let mut w = Work {
            tok: Token::Queued(queued),
            m,
        };
        if try_inline {
            match Self::inline(w) {
                Ok(panicked) => {
                    if panicked {
                        pool.stats.panics.inc();
                    }
                    pool.stats.inline.inc();
                    sh.dequeued(home);
                    return Ok(Submitted::Pending(pending));
                }
                Err(back) => w = back,
            }
        }
        if OrderTable::involved(kind, fifo) {
            match sh.order.admit(w) {
                Admit::Run(back) => w = back,
                Admit::Parked => return Ok(Submitted::Pending(pending)),
            }
        }
        sh.push(w);
        Ok(Submitted::Pending(pending))
    }

    /// The inline attempt: `Ok(panicked)` if the op completed on this
    /// thread, the work (now started) back if it would block.
    fn inline(w: Work) -> std::result::Result<bool, Work> {
        let Token::Queued(q) = w.tok else {
            return Err(w);
        };
        let m = w.m;
        let Some(f) = Queued::start(q) else {
            // Only our own Pending could have cancelled it, and nobody has
            // seen it yet; treat as done.
            return Ok(false);
        };
        let target = f.target();
        let Some(s) = target.strategy() else {
            return Err(Work {
                tok: Token::Started(f),
                m,
            });
        };
        match catch_unwind(AssertUnwindSafe(|| s.try_nowait(f))) {
            Ok(Ok(())) => Ok(false),
            Ok(Err(f)) => Err(Work {
                tok: Token::Started(f),
                m,
            }),
            // The token was dropped while unwinding: completed with EIO.
            Err(_) => Ok(true),
        }
    }

    /// Cancels one op (`aio_cancel(fd, aiocb)`): `pending` is the op's,
    /// `target` the one it was submitted on. The op is found by its
    /// [`OpKey`](aio_core::OpKey) (`pending.key()`), in the queues and at
    /// the device, never by its user-settable id.
    ///
    /// * still queued (or parked behind a barrier): removed and completed
    ///   with `ECANCELED` → [`CancelOutcome::Cancelled`];
    /// * in flight on a device with a cancel routine
    ///   ([`Strategy::cancel`](aio_core::Strategy::cancel)) that accepts →
    ///   `Cancelled` (the device completes it with `ECANCELED`);
    /// * otherwise → [`CancelOutcome::InFlight`] ("not cancelable") or
    ///   [`CancelOutcome::AlreadyDone`].
    ///
    /// Blocks until every worker has answered a device cancel.
    pub fn cancel(&self, pending: &Pending, target: &Arc<dyn Target>) -> CancelOutcome {
        let sh = &*self.sh;
        let op = pending.key();
        if sh.remove_and_cancel(|m| m.op == op) > 0 {
            return CancelOutcome::Cancelled;
        }
        match pending.cancel() {
            CancelOutcome::InFlight => {}
            other => return other,
        }
        if target.strategy().is_none() {
            return CancelOutcome::InFlight;
        }
        let reply = Arc::new(CancelReply::default());
        let mut asked = 0;
        for p in sh.pools.iter() {
            let req = CancelReq {
                op,
                target: Arc::clone(target),
                reply: Arc::clone(&reply),
            };
            if p.request_cancel(req) {
                asked += 1;
            }
        }
        let mut g = reply.m.lock();
        while g.0 < asked {
            g = reply.cv.wait(g);
        }
        if g.1 {
            CancelOutcome::Cancelled
        } else if pending.is_complete() {
            // The device could not say it cancelled the op, but the op has
            // finished meanwhile: answer from how it finished, so that a
            // caller told "done" never then reads ECANCELED; and "not
            // cancelled" if a device found it under way (it finished with
            // its own result, which is what AIO_NOTCANCELED promises).
            if pending.state() == aio_core::OpState::Cancelled {
                CancelOutcome::Cancelled
            } else if g.2 {
                CancelOutcome::InFlight
            } else {
                CancelOutcome::AlreadyDone
            }
        } else {
            CancelOutcome::InFlight
        }
    }

    /// Cancels every queued or parked op on the target with key `key`
    /// (`aio_cancel(fd, NULL)`; see [`target_key`]). Returns how many were
    /// cancelled. Ops already in flight are not touched: the caller finds
    /// them still incomplete ("not cancelable").
    pub fn cancel_target(&self, key: usize) -> usize {
        self.sh.remove_and_cancel(|m| m.key == key)
    }

    /// A snapshot of every pool's counters, in pool order (class, then
    /// index).
    pub fn stats(&self) -> Vec<PoolStats> {
        self.sh
            .pools
            .iter()
            .map(|p| p.stats.snapshot(p.class, p.index, p.cpu))
            .collect()
    }

    /// Pools per class.
    pub fn pools_per_class(&self) -> usize {
        self.sh.lim.per_class
    }

    /// Ops admitted and not yet taken by a worker (queued or parked).
    pub fn queued(&self) -> usize {
        self.sh.queued.load(Ordering::SeqCst)
    }

    /// Shuts the pools down, in the numbered steps of the crate docs:
    /// stops accepting, drains or cancels what is queued, stops and joins
    /// every worker. Idempotent: a second call returns an empty report.
    /// Ops already in flight complete normally before their worker exits.
    pub fn shutdown(&self, mode: ShutdownMode) -> ShutdownReport {
        let sh = &*self.sh;
        let mut report = ShutdownReport::default();
        // Step 1: close the gate; wake WAIT submitters so they give up.
        let prev = sh.gate.fetch_or(CLOSED, Ordering::SeqCst);
        if prev & CLOSED != 0 {
            return report;
        }
        sh.wake_space_waiters();
        // Step 2: wait for submitters already inside `submit` to leave; from
        // now on nothing new is admitted.
        while sh.gate.load(Ordering::SeqCst) & !CLOSED != 0 {
            thread::yield_now();
        }
        // Step 3: cancel or drain every queued and parked op.
        match mode {
            ShutdownMode::Cancel => loop {
                report.cancelled += sh.remove_and_cancel(|_| true);
                // An op the order table released just before the sweep may
                // be in a worker's hands, not yet queued: it is still
                // counted in `parked` until queued. Sweep again once the
                // workers have queued it (it may run instead of being
                // cancelled; either way it is not lost).
                if sh.order.parked() == 0 {
                    break;
                }
                thread::yield_now();
            },
            ShutdownMode::Drain => sh.wait_space(|| sh.queued.load(Ordering::SeqCst) == 0),
        }
        // Step 4: tell every worker to exit once its queue is empty and
        // nothing is in flight, and wake it wherever it sleeps.
        for p in sh.pools.iter() {
            let mut g = p.q.lock();
            g.exit = true;
            let w = Pool::wake_locked(&mut g, true);
            drop(g);
            p.wake(w);
        }
        // Step 5: join them.
        let joins = std::mem::take(&mut *self.joins.lock());
        for h in joins {
            report.joined += 1;
            if h.join().is_err() {
                report.worker_panics += 1;
            }
        }
        report
    }
}

impl Drop for PoolSet {
    /// Shuts down in [`ShutdownMode::Cancel`] if nobody did.
    fn drop(&mut self) {
        // A loom model that fails (a deadlock it found) unwinds through
        // here; shutting down would run loom operations after loom gave
        // up, panic in a destructor and abort the whole run.
        #[cfg(loom)]
        if std::thread::panicking() {
            return;
        }
        self.shutdown(ShutdownMode::Cancel);
    }
}

//! The set of all pools, the public face of the crate: construction,
//! submission (the gate, admission, the inline attempt, the order table),
//! cancellation and shutdown. What the workers share with it is in
//! `shared.rs`, starting the workers in `start.rs`.
//!
//! Lock order: see the crate docs ("Locking"). This file takes
//! `CancelReply::m` (alone, to wait for the workers' answers) and, through
//! `shared.rs`, `Shared::space` and each `Pool::q` alone; none is held
//! across a call into a target, a device, an engine or a callback.

use std::panic::{AssertUnwindSafe, catch_unwind};

use aio_core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use aio_core::sync::thread;
use aio_core::sync::{Arc, Condvar, Mutex};
use aio_core::{CancelOutcome, Error, Op, Pending, Queued, Result, Target};
use crossbeam_utils::CachePadded;

use crate::config::{Class, PoolConfig, SubmitFlags};
use crate::order::{Admit, OrderTable};
use crate::pool::{CancelReply, CancelReq, Meta, Pool, Token, Work};
use crate::shared::{CLOSED, Limits, Shared};
use crate::start::Workers;
use crate::stats::PoolStats;

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

/// The per-(CPU, class) service pools and their workers.
///
/// Created once (by the POSIX layer, typically one per process) and shared
/// by reference or `Arc`; every method takes `&self`.
pub struct PoolSet {
    sh: Arc<Shared>,
    /// Starting and joining the worker threads (`start.rs`).
    workers: Workers,
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

/// The pool (index within `class`) an op is charged to and queued on:
/// the submitting CPU's, except for a write, which goes to its target's
/// pool (a hash of the target's address), so that one file's writes
/// share one worker and its ring.
///
/// Why writes: the kernel serializes a file's buffered writes on its
/// inode lock, and io_uring hashes them onto one io-wq worker per ring
/// for that reason. Spread over the rings of two workers, they were two
/// io-wq workers fighting for that lock, with a context switch for each
/// handover: 4 KiB random writes to the page cache at depth 32 through
/// fio posixaio went from 100–127K to 138–200K IOPS with this (two
/// pools; 2026-12-03 closing note). Other targets still spread by hash,
/// and an idle sibling still steals queued writes (see "Balance").
fn home_of(class: Class, op: &Op, per_class: usize) -> usize {
    if class == Class::Write && per_class > 1 {
        // Fibonacci hashing: the product's high half mixes every bit of
        // the address (whose low bits are only the allocation's alignment).
        let h = (op.target_key() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
        h as usize % per_class
    } else {
        crate::cpu::current_cpu() % per_class
    }
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
            idle_rounds: config.idle_rounds,
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
            space: Mutex::ranked(crate::lock_order::SHARED_SPACE, ()),
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
            workers: Workers::new(
                config.engine_factory,
                config.spawn_with,
                config.pin,
                config.spawn_mask,
                config.stack_size,
                n,
            ),
        };
        if !config.lazy {
            for class in Class::ALL {
                if set.workers.start_class(&set.sh, class).is_err() {
                    set.shutdown(ShutdownMode::Cancel);
                    return Err(Error::EAGAIN);
                }
            }
        }
        Ok(set)
    }

    /// Worker threads started so far.
    pub fn workers(&self) -> usize {
        self.workers.count()
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
        if aio_core::sync::mutant(aio_core::sync::Mutant::GateCheckFirst) {
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
        if self.workers.ensure_started(&self.sh, class).is_err() {
            return Err(SubmitError {
                op,
                error: Error::EAGAIN,
            });
        }
        let fifo = flags.contains(SubmitFlags::TARGET_FIFO) && kind.is_transfer();
        let pref = home_of(class, &op, sh.lim.per_class);
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
        let joins = self.workers.take_joins();
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

//! The worker: one thread per pool, pinned to the pool's CPU, owning one
//! engine set (`aio_core::Engines`). It never blocks on one op: it starts queued ops and hands them
//! to their device's strategy routine, keeps up to `max_in_flight` of them
//! in flight, and sleeps only when it has nothing to start, either on the
//! pool's `pending` condvar (nothing in flight) or in `Engines::wait`
//! (something in flight: the home source's wait, aio-core's `engine`
//! module docs). The sleep itself is the `sleep` module's
//! (`Wakeup::fall_asleep`, and `sleep/README.md` for the protocol).
//!
//! # Locking
//!
//! ```text
//!   Pool::q alone (crate docs, "Locking"). The worker holds its own
//!   pool's lock only to take work, read cancel requests and decide to
//!   sleep; it drops it before stealing (taking a sibling's lock: try_lock
//!   first, then a waiting lock in the second round), before calling any
//!   device, target, engine or callback, and before pushing released work.
//! ```
//!
//! # Field markings
//!
//! ```text
//!   w   owned by the worker thread (no sharing)
//! ```

use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, catch_unwind};

use aio_core::sync::Arc;
use aio_core::{Attempt, Engines, Error, OpWatch};

use crate::pool::{CancelReq, Meta, Pool, Steal, Token, Work};
use crate::shared::Shared;
use crate::sleep::Sleep;

/// Ops completed per `Engines::poll` call at most.
const POLL_BUDGET: usize = 64;

pub(crate) struct Worker {
    sh: Arc<Shared>,
    /// Global index of the worker's pool. (w)
    me: usize,
    pin: bool,
    /// The worker's completion sources; it sleeps in their home. (w)
    engine: Engines,
    /// Work taken from a queue, about to be dispatched. (w)
    batch: Vec<Work>,
    /// Work the order table released, to push after unlocking. (w)
    released: Vec<Work>,
    /// Tracked or target-FIFO ops handed to the device and not yet seen
    /// complete, each with its watch (order.rs, "How completion is
    /// known"). (w)
    confirm: Vec<(Meta, OpWatch)>,
    /// Ops handed to the device since the engine was last seen empty (the
    /// `completed` statistic is counted at that drain). (w)
    unconfirmed: u64,
    /// Cancel requests being answered. (w)
    cancels: Vec<CancelReq>,
}

impl Worker {
    pub(crate) fn new(sh: Arc<Shared>, me: usize, engine: Engines, pin: bool) -> Worker {
        let lim = sh.lim;
        Worker {
            sh,
            me,
            pin,
            engine,
            batch: Vec::with_capacity(lim.max_in_flight),
            released: Vec::with_capacity(16),
            // The cap, plus one batch that may be dispatched past it.
            confirm: Vec::with_capacity(confirm_cap(lim.max_in_flight) + lim.max_in_flight),
            unconfirmed: 0,
            cancels: Vec::new(),
        }
    }

    /// How many more ops the worker may start now.
    fn room(&self, in_flight: usize) -> usize {
        let lim = self.sh.lim;
        if in_flight >= lim.max_in_flight {
            return 0;
        }
        // Tracked ops are confirmed one by one as their watches turn
        // complete, so a barrier never needs the engine to drain. Only an
        // op the engine does not count (a detached one: order.rs, "How
        // completion is known") is confirmed by a drain alone: hold back
        // when the confirm list is full, or when a barrier or a FIFO waits
        // while some op has stayed unconfirmed across `confirm_cap` device
        // submissions, so that a drain comes and bounds that wait.
        let cap = confirm_cap(lim.max_in_flight);
        if !self.confirm.is_empty()
            && (self.confirm.len() >= cap
                || (self.sh.order.parked() > 0 && self.unconfirmed >= cap as u64))
        {
            return 0;
        }
        lim.max_in_flight - in_flight
    }

    /// The worker's main loop; returns after shutdown step 4 once its
    /// queue is empty and nothing is in flight.
    pub(crate) fn run(self) {
        // If the loop ever unwinds (it catches every device, target, engine
        // and callback panic, so only a bug, or loom reporting a deadlock,
        // can make it), the worker's state is leaked rather than dropped:
        // dropping it could block on or touch shared state mid-panic, and
        // under loom any loom operation during that unwinding aborts the
        // run instead of failing the model.
        let mut me = ManuallyDrop::new(self);
        me.run_loop();
        drop(ManuallyDrop::into_inner(me));
    }

    fn run_loop(&mut self) {
        let sh = ManuallyDrop::new(Arc::clone(&self.sh));
        let pool = &sh.pools[self.me];
        if self.pin {
            match crate::cpu::pin_to(pool.cpu) {
                Ok(()) => pool.stats.pinned.inc(),
                Err(e) => eprintln!(
                    "aio-pool: cannot pin the {:?} worker {} to CPU {}: {e} (running unpinned)",
                    pool.class, pool.index, pool.cpu
                ),
            }
        }
        let lim = sh.lim;
        let mut woke = false;
        // Idle rounds left before this worker may fall asleep (see
        // sleep/README.md, "Idle rounds"): reset whenever it took work or
        // woke.
        let mut rounds = lim.idle_rounds;
        loop {
            let mut progress = false;
            // Completions first: they make room and may release barriers.
            if self.engine.in_flight() > 0 {
                match catch_unwind(AssertUnwindSafe(|| self.engine.poll(POLL_BUDGET))) {
                    Ok(Ok(n)) => progress |= n > 0,
                    Ok(Err(e)) => eprintln!("aio-pool: engine poll failed: {e}"),
                    Err(_) => pool.stats.panics.inc(),
                }
            }
            let in_flight = self.engine.in_flight();
            if in_flight == 0 && self.unconfirmed > 0 {
                self.confirm_all();
                progress = true;
            } else if !self.confirm.is_empty() {
                progress |= self.confirm_complete();
            }
            let room = self.room(in_flight);

            let mut g = pool.q.lock();
            g.sleep = Sleep::Awake;
            if !g.cancels.is_empty() {
                std::mem::swap(&mut g.cancels, &mut self.cancels);
                drop(g);
                self.answer_cancels();
                woke = false;
                continue;
            }
            let mut n = 0;
            if room > 0 {
                n = Pool::take_locked(&mut g, room.min(lim.batch), &mut self.batch);
                if n == 0 && lim.steal && lim.per_class > 1 && !g.exit {
                    drop(g);
                    n = self.steal(room);
                    g = pool.q.lock();
                    if n == 0 && (!g.queue.is_empty() || !g.cancels.is_empty()) {
                        // Work arrived while we were unlocked, and its
                        // producer saw us awake: look again.
                        continue;
                    }
                }
            }
            if n > 0 {
                drop(g);
                self.dispatch_batch();
                woke = false;
                rounds = lim.idle_rounds;
                continue;
            }
            if progress {
                drop(g);
                woke = false;
                continue;
            }
            if woke {
                pool.stats.spurious_wakeups.inc();
            }
            if g.exit && g.queue.is_empty() && in_flight == 0 && self.unconfirmed == 0 {
                break;
            }
            // An idle round: give the CPU away still Awake (a producer
            // posts without waking us), then look again from the top.
            if rounds > 0 && !g.exit {
                rounds -= 1;
                woke = false;
                drop(g);
                aio_core::sync::thread::yield_now();
                continue;
            }
            // Nothing to start. Fall asleep with the lock still held since
            // the checks above, so a producer either saw us Awake before we
            // looked at the queue (we saw its work), or sees our sleep
            // state now (and wakes us). See sleep/README.md, "Falling
            // asleep", steps 5 and 6.
            pool.stats.sleeps.inc();
            pool.wakeup.fall_asleep(
                &pool.q,
                g,
                |q| &mut q.sleep,
                &mut self.engine,
                in_flight,
                room,
            );
            pool.stats.wakeups.inc();
            woke = true;
            rounds = lim.idle_rounds;
        }
        // Answer any cancel request that raced with the exit decision.
        let mut g = pool.q.lock();
        std::mem::swap(&mut g.cancels, &mut self.cancels);
        drop(g);
        self.answer_cancels();
        drop(ManuallyDrop::into_inner(sh));
    }

    /// Steals from the sibling pools of this class, nearest first.
    fn steal(&mut self, room: usize) -> usize {
        let sh = Arc::clone(&self.sh);
        let me = &sh.pools[self.me];
        let per = sh.lim.per_class;
        let start = me.class.index() * per;
        // Two rounds: the first only try_locks; a sibling whose lock was
        // busy then gets a second look that waits for its lock (the worker
        // holds no pool lock here, so the lock order allows it). Without
        // the wait, a thief woken by the hint while submitters hammer the
        // sibling's lock could give up at once and sleep through a whole
        // backlog (pool_balance.rs saw exactly that under load).
        for round in 0..2 {
            let mut busy = false;
            for k in 1..per {
                let v = start + (me.index + k) % per;
                let got = if round == 0 {
                    sh.pools[v].steal_into(room, &mut self.batch)
                } else {
                    sh.pools[v].steal_into_blocking(room, &mut self.batch)
                };
                match got {
                    Steal::Success(n) => {
                        me.stats.stolen_in.add(n as u64);
                        sh.pools[v].stats.stolen_out.add(n as u64);
                        return n;
                    }
                    Steal::Retry => busy = true,
                    Steal::Empty => {}
                }
            }
            if !busy {
                break;
            }
        }
        0
    }

    fn dispatch_batch(&mut self) {
        let mut batch = std::mem::take(&mut self.batch);
        for w in batch.drain(..) {
            self.sh.dequeued(w.m.home);
            self.dispatch(w);
        }
        self.batch = batch;
        if !self.released.is_empty() {
            self.sh.push_all(&mut self.released);
        }
    }

    /// Starts one op: hands it to its device, or runs it here if the
    /// target has no strategy routine.
    fn dispatch(&mut self, w: Work) {
        let sh = Arc::clone(&self.sh);
        let pool = &sh.pools[self.me];
        let m = w.m;
        let mut f = match w.tok {
            Token::Queued(q) => match q.start() {
                Some(f) => f,
                None => {
                    // The owner cancelled it while queued: it is delivered.
                    self.finished(m);
                    return;
                }
            },
            Token::Started(f) => f,
        };
        let target = f.target();
        match target.strategy() {
            Some(s) => {
                // Taken before the token goes to the device, which may
                // complete and drop it at once.
                let watch = (m.tracked || m.fifo).then(|| f.watch());
                if catch_unwind(AssertUnwindSafe(|| s.submit(f, &mut self.engine))).is_err() {
                    // If the device dropped the token while unwinding, the
                    // op was completed with EIO by aio-core.
                    pool.stats.panics.inc();
                }
                let in_flight = self.engine.in_flight();
                pool.stats.in_flight_hwm.max(in_flight as u64);
                self.unconfirmed += 1;
                if let Some(watch) = watch {
                    if watch.is_complete()
                        && !aio_core::sync::mutant(aio_core::sync::Mutant::PoolConfirmOnDrain)
                    {
                        // Completed inside `submit`, or already on the
                        // device's thread.
                        self.finished(m);
                    } else {
                        self.confirm.push((m, watch));
                    }
                }
                if in_flight == 0 {
                    // Everything the engine counts has completed; what is
                    // left in the confirm list is detached.
                    self.confirm_all();
                }
            }
            None => {
                pool.stats.in_flight_hwm.max(1);
                match catch_unwind(AssertUnwindSafe(|| f.execute())) {
                    Ok(Attempt::Ready(r)) => f.complete(r),
                    // Only a synchronous caller can wait for the target's
                    // resource (aio-core's availability protocol); a worker
                    // must not block on one op.
                    Ok(Attempt::Busy) => f.complete(Err(Error::EAGAIN)),
                    Err(_) => {
                        pool.stats.panics.inc();
                        f.complete(Err(Error::EIO));
                    }
                }
                pool.stats.completed.inc();
                self.finished(m);
            }
        }
    }

    /// Confirms the ops of the confirm list whose watches are complete
    /// (order.rs, "How completion is known"); whether there were any.
    fn confirm_complete(&mut self) -> bool {
        if aio_core::sync::mutant(aio_core::sync::Mutant::PoolConfirmOnDrain) {
            // Mutant: the old protocol, where only a drain confirms.
            return false;
        }
        let mut confirm = std::mem::take(&mut self.confirm);
        let before = confirm.len();
        confirm.retain(|(m, watch)| {
            if watch.is_complete() {
                self.sh
                    .order
                    .finished(m.key, m.tracked, m.epoch, m.fifo, &mut self.released);
                false
            } else {
                true
            }
        });
        let any = confirm.len() < before;
        self.confirm = confirm;
        if !self.released.is_empty() {
            let sh = Arc::clone(&self.sh);
            sh.push_all(&mut self.released);
        }
        any
    }

    /// The engine is empty: every op it counts has completed. The ops
    /// still in the confirm list are detached ones (their devices hold no
    /// ticket), which nothing else would confirm.
    fn confirm_all(&mut self) {
        let pool = &self.sh.pools[self.me];
        pool.stats.completed.add(self.unconfirmed);
        self.unconfirmed = 0;
        let mut confirm = std::mem::take(&mut self.confirm);
        for (m, _) in confirm.drain(..) {
            self.finished(m);
        }
        self.confirm = confirm;
        if !self.released.is_empty() {
            let sh = Arc::clone(&self.sh);
            sh.push_all(&mut self.released);
        }
    }

    /// The op behind `m` is complete (or was cancelled): tell the order
    /// table, collect what it releases.
    fn finished(&mut self, m: Meta) {
        self.sh
            .order
            .finished(m.key, m.tracked, m.epoch, m.fifo, &mut self.released);
    }

    fn answer_cancels(&mut self) {
        for req in self.cancels.drain(..) {
            let outcome = match req.target.strategy() {
                Some(s) => {
                    let eng = &mut self.engine;
                    catch_unwind(AssertUnwindSafe(|| s.cancel(req.op, eng))).ok()
                }
                None => None,
            };
            req.reply.answer(outcome);
        }
    }
}

/// Tracked ops a worker may hold in its confirm list before it drains its
/// engine; also how many device submissions an unconfirmed op may stay
/// unconfirmed across while a barrier waits (`Worker::room`).
fn confirm_cap(max_in_flight: usize) -> usize {
    (max_in_flight * 4).max(64)
}

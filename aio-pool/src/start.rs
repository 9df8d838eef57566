//! Lazy start: starting each class's workers once, on its first
//! submission (or all of them in `PoolSet::new` when not lazy), and
//! handing their join handles to shutdown. The protocol is "Lazy start"
//! in `sleep/README.md` (the sleep module's docs); its model is
//! `loom_lazy_start_two_submitters`, mutant `pool-start-unlocked`.
//!
//! # Locking
//!
//! ```text
//!   Workers::start  ->  Workers::joins, Pool::q, CancelReply::m
//!                       (each taken alone under start; crate docs,
//!                        "Locking")
//!   The engine waker's slot (`sleep::Wakeup`) is filled by the worker on
//!   its own thread, under no other lock.
//! ```
//!
//! # Field markings
//!
//! ```text
//!   c   constant after construction
//!   t   under Workers::start
//!   j   under Workers::joins
//! ```

use aio_core::sync::atomic::Ordering;
use aio_core::sync::thread::{self, JoinHandle};
use aio_core::sync::{Arc, Mutex};
use aio_core::{Engines, Error, Result};

use crate::config::{Class, EngineFactory, SpawnWrapper};
use crate::shared::Shared;
use crate::worker::Worker;

/// How workers are started.
struct Starter {
    /// (c)
    factory: Arc<EngineFactory>,
    /// (c)
    wrap: Option<SpawnWrapper>,
    /// (c)
    pin: bool,
    /// (c)
    mask: u8,
    /// The workers' stack size, if not std's. (c)
    stack: Option<usize>,
    /// Per pool: its worker was spawned. (t)
    spawned: Vec<bool>,
}

/// The worker threads of a pool set: starting them, and their handles.
pub(crate) struct Workers {
    /// Worker threads, taken by the first shutdown. (j)
    joins: Mutex<Vec<JoinHandle<()>>>,
    /// Starting workers. (lock order: `start` -> `joins`, `Pool::q`)
    start: Mutex<Starter>,
}

impl Workers {
    /// No worker yet, for a set of `pools` pools.
    pub(crate) fn new(
        factory: EngineFactory,
        wrap: Option<SpawnWrapper>,
        pin: bool,
        mask: u8,
        stack: Option<usize>,
        pools: usize,
    ) -> Workers {
        Workers {
            joins: Mutex::ranked(crate::lock_order::WORKERS_JOINS, Vec::new()),
            start: Mutex::ranked(
                crate::lock_order::WORKERS_START,
                Starter {
                    factory: Arc::new(factory),
                    wrap,
                    pin,
                    mask,
                    stack,
                    spawned: vec![false; pools],
                },
            ),
        }
    }

    /// Worker threads started so far.
    pub(crate) fn count(&self) -> usize {
        self.joins.lock().len()
    }

    /// Every join handle, for shutdown step 5 (later calls get none).
    pub(crate) fn take_joins(&self) -> Vec<JoinHandle<()>> {
        std::mem::take(&mut *self.joins.lock())
    }

    /// Makes sure every pool of `class` has its worker: one Acquire load
    /// once they do. `EAGAIN` if a thread cannot be started (the next
    /// submission tries again).
    pub(crate) fn ensure_started(&self, sh: &Arc<Shared>, class: Class) -> Result<()> {
        if sh.started[class.index()].load(Ordering::Acquire) {
            return Ok(());
        }
        self.start_class(sh, class)
    }

    /// Starts the missing workers of `class`, under `start`: the check of
    /// `spawned` and the spawn are one critical section, so two
    /// submitters racing here start each worker once.
    pub(crate) fn start_class(&self, sh: &Arc<Shared>, class: Class) -> Result<()> {
        let mut st = self.start.lock();
        // Mutant: no re-check under the lock (the unlocked `started` load
        // in `ensure_started` is taken as the decision), so two racing
        // submitters both spawn every worker of the class.
        let recheck = !aio_core::sync::mutant(aio_core::sync::Mutant::PoolStartUnlocked);
        if recheck && sh.started[class.index()].load(Ordering::Relaxed) {
            return Ok(());
        }
        let mut ok = true;
        let Starter {
            factory,
            wrap,
            pin,
            mask,
            stack,
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
                match self.spawn_worker(sh, idx, Arc::clone(factory), *pin, *stack) {
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
    fn spawn_worker(
        &self,
        sh: &Arc<Shared>,
        idx: usize,
        factory: Arc<EngineFactory>,
        pin: bool,
        stack: Option<usize>,
    ) -> Result<()> {
        let p = &sh.pools[idx];
        p.q.lock().exit = false;
        let sh = Arc::clone(sh);
        let name = format!("aio-{:?}-{}", p.class, p.index).to_lowercase();
        let body = move || {
            // The factory's engine is the home of the worker's set: the
            // source it sleeps in (aio-core's `engine` module docs).
            let engines = Engines::new((factory)());
            sh.pools[idx].wakeup.install(engines.waker());
            Worker::new(sh, idx, engines, pin).run();
        };
        let r = match stack {
            Some(bytes) => thread::spawn_named_with_stack(name, bytes, body),
            None => thread::spawn_named(name, body),
        };
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
}

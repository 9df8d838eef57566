#![doc = include_str!("README.md")]
//!
//! # The code of this protocol
//!
//! * the state: [`Sleep`], kept in the pool's `PoolQ::sleep`;
//! * a producer's decision under the pool lock: [`Sleep::wake`] (what
//!   `Pool::wake_locked` calls), and what it does after unlocking:
//!   [`Wakeup::wake`];
//! * the worker's side: [`Wakeup::fall_asleep`], called at the bottom of
//!   the worker's loop with the pool lock held since its last look at the
//!   queue;
//! * the engine waker's slot: [`Wakeup::install`].
//!
//! Where the rest of the protocol lives: the producers
//! [`Pool::push`](crate::pool::Pool::push),
//! [`Pool::wake_if_idle`](crate::pool::Pool::wake_if_idle) and
//! [`Pool::request_cancel`](crate::pool::Pool::request_cancel); the
//! worker's loop [`Worker::run_loop`](crate::worker::Worker::run_loop) and
//! its [`Worker::steal`](crate::worker::Worker::steal); lazy start
//! [`Workers::ensure_started`](crate::start::Workers::ensure_started) and
//! [`Workers::start_class`](crate::start::Workers::start_class); shutdown
//! step 4 in [`PoolSet::shutdown`](crate::PoolSet::shutdown).
//!
//! This module imports nothing of the crate: `pool.rs` (the producers)
//! and `worker.rs` (the sleeper) both use it.

use aio_core::sync::{Condvar, Mutex, MutexGuard};
use aio_core::{EngineWaker, Engines};

/// What the worker is doing, as far as producers need to know. Read and
/// written only under the pool mutex (`PoolQ::sleep`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sleep {
    /// Running, or about to look at the queue: a producer needs to do
    /// nothing, the worker will see its work.
    Awake,
    /// Asleep on `pending`, nothing in flight: a producer sets `Awake` and
    /// notifies `pending`.
    Idle,
    /// Asleep in `Engine::wait` with room for more: a producer sets `Awake`
    /// and calls the engine waker (after unlocking).
    EngineOpen,
    /// Asleep in `Engine::wait` with no room (in-flight depth reached, or
    /// held back by the order table's hold-back, `order.rs`): new work
    /// cannot be taken anyway, so only a completion (the device rings the
    /// engine itself), a cancel request or shutdown wakes it.
    EngineFull,
}

/// What a producer must do after unlocking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum Wake {
    /// The worker is awake (or cannot take the work): nothing.
    Nothing,
    /// Notify `pending`.
    Notify,
    /// Call the engine waker.
    Ring,
}

impl Sleep {
    /// **ReadState** (call it with the pool locked): whether the worker
    /// must be woken, and if so marks it `Awake`. `force` also wakes a
    /// worker that cannot take new work (cancel requests and shutdown).
    pub(crate) fn wake(&mut self, force: bool) -> Wake {
        let w = match *self {
            Sleep::Awake => Wake::Nothing,
            Sleep::Idle => Wake::Notify,
            Sleep::EngineOpen => Wake::Ring,
            Sleep::EngineFull if force => Wake::Ring,
            Sleep::EngineFull => Wake::Nothing,
        };
        if w != Wake::Nothing {
            *self = Sleep::Awake;
        }
        w
    }
}

/// The two channels that wake one worker: its pool's `pending` condvar
/// (the `Idle` sleep) and its engine's waker (the engine sleeps).
pub(crate) struct Wakeup {
    /// The worker sleeps here when it has nothing in flight. (waited on
    /// with the pool lock held)
    pending: Condvar,
    /// Wakes the worker's `Engine::wait`: installed by the worker, from
    /// its own engine, before it first sleeps there (a worker and its
    /// engine are made on first use: "Lazy start" above). A ring is only
    /// decided under the pool lock after the worker published an engine
    /// sleep state, which it does after installing, so a ring always finds
    /// it. (lock: this mutex, a leaf)
    waker: Mutex<Option<Box<dyn EngineWaker>>>,
}

impl Wakeup {
    /// The channels of a new pool; `waker` is `None` until the worker
    /// installs its engine's.
    pub(crate) fn new(waker: Option<Box<dyn EngineWaker>>) -> Wakeup {
        Wakeup {
            pending: Condvar::new(),
            waker: Mutex::ranked(crate::lock_order::WAKER_SLOT, waker),
        }
    }

    /// Installs the worker's engine waker (the worker, on its own thread,
    /// before its loop).
    pub(crate) fn install(&self, waker: Box<dyn EngineWaker>) {
        *self.waker.lock() = Some(waker);
    }

    /// **Wake**: carries out a [`Wake`] decided under the lock (call it
    /// unlocked).
    pub(crate) fn wake(&self, w: Wake) {
        match w {
            Wake::Nothing => {}
            Wake::Notify => {
                if !aio_core::sync::mutant(aio_core::sync::Mutant::PoolNoNotify) {
                    self.pending.notify_one();
                }
            }
            // The waker is sticky ("wakes the current or next wait"), so it
            // may be called after unlocking: if the worker has not reached
            // `Engine::wait` yet, that wait returns at once.
            Wake::Ring => {
                if !aio_core::sync::mutant(aio_core::sync::Mutant::PoolNoRing)
                    && let Some(w) = &*self.waker.lock()
                {
                    w.wake();
                }
            }
        }
    }

    /// Steps 5 and 6 of "Falling asleep": **SetState** and the wait. `g`
    /// is the pool lock `lock`, held since the worker last looked at the
    /// queue (**ReadJob**) and found nothing to take; `state` picks the
    /// sleep field out of the locked data. With `in_flight > 0` the worker
    /// publishes `EngineOpen` (`room > 0`) or `EngineFull`, unlocks and
    /// waits in `engine`; else it publishes `Idle` and waits on `pending`
    /// until a producer sets the state back. Returns unlocked.
    pub(crate) fn fall_asleep<'a, T>(
        &self,
        lock: &'a Mutex<T>,
        mut g: MutexGuard<'a, T>,
        state: fn(&mut T) -> &mut Sleep,
        engine: &mut Engines,
        in_flight: usize,
        room: usize,
    ) {
        if aio_core::sync::mutant(aio_core::sync::Mutant::PoolSleepUnlocked) {
            // Mutant: decide, unlock, relock, then publish the state; a
            // push in the gap sees Awake and wakes nobody.
            drop(g);
            g = lock.lock();
        }
        if in_flight > 0 {
            *state(&mut g) = if room > 0 {
                Sleep::EngineOpen
            } else {
                Sleep::EngineFull
            };
            drop(g);
            // Returns on a completion (the device rings the engine), on
            // the waker (a producer, a cancel, shutdown), or spuriously.
            if let Err(e) = engine.wait(None) {
                eprintln!("aio-pool: engine wait failed: {e}");
            }
        } else {
            *state(&mut g) = Sleep::Idle;
            while *state(&mut g) == Sleep::Idle {
                g = self.pending.wait(g);
            }
            drop(g);
        }
    }
}

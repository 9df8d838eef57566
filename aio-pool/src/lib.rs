//! # aio-pool: per-CPU service pools, one class of operation each
//!
//! The proposal's `aio_service_pool`: "Asynchronous operations are queued
//! to a designated service pool. Each service pool handles a specific class
//! of operations. These pools are backed by per-CPU kernel threads, and
//! those threads remain dormant until operations are pending."
//!
//! **Layering.** Depends on `aio-core` only; it drives whatever implements
//! aio-core's [`Target`](aio_core::Target), [`Strategy`](aio_core::Strategy)
//! and [`Engine`](aio_core::Engine) and never names a `blockdev` type.
//!
//! # Design overview
//!
//! * **Pools.** One pool per (CPU, class), classes [`Class::Read`],
//!   [`Class::Write`] and [`Class::Sync`] (fsync, fdatasync). Each has a
//!   bounded FIFO queue, a mutex, a `pending` condvar and one worker thread
//!   pinned to its CPU. The thread count is `3 * pools_per_class`, fixed.
//! * **Submission** ([`PoolSet::submit`]). Synchronous-mode ops (no
//!   callback, no ring) run on the caller's thread and are never queued.
//!   Otherwise a slot is reserved (per-pool and total caps; `EAGAIN` and
//!   the op back past them, or a sleep with [`SubmitFlags::WAIT`]), the op
//!   is tried inline with `Strategy::try_nowait` (a RAM disk, a page-cache
//!   hit) and queued only if that would block, on the pool of the
//!   submitter's CPU (`sched_getcpu`), or for a write on its target's pool
//!   (a hash of the target: one file's writes share one worker and ring,
//!   as the kernel serializes them on the inode lock anyway; see
//!   `home_of` in `set.rs`).
//! * **Workers never block on one op.** A worker takes queued tokens,
//!   starts them and hands them to the target's `Strategy::submit` with its
//!   own engine set, [`Engines`](aio_core::Engines), whose home source is
//!   made by [`PoolConfig::engine_factory`] (aio-core's `BasicEngine` by
//!   default, blockdev's io_uring engine in the POSIX layer) and to which
//!   a device may add a completion source of its own, up to
//!   `max_in_flight` at once. A target without a strategy runs on the
//!   worker (`InFlight::execute`).
//! * **Balance.** An idle worker steals up to half of a sibling pool's
//!   queue (same class); a submitter whose pool's worker is busy wakes an
//!   idle sibling so that it can steal. All submitters on one CPU still
//!   spread over every pool of the class.
//! * **Ordering** (`order.rs`): an fsync waits for the writes submitted to
//!   its target before it; [`SubmitFlags::TARGET_FIFO`] ops run FIFO, one
//!   at a time, per target (not a barrier like NetBSD's `B_ORDERED`: other
//!   ops pass them); everything else runs in parallel.
//! * **Cancellation**: queued or parked ops are removed and completed with
//!   `ECANCELED` exactly once; in-flight ones go to the device's
//!   `Strategy::cancel` through the worker that owns their engine.
//! * **Panics** in a device's `submit`, a target's I/O or an engine's
//!   `poll` are caught by the worker, counted, and the op is completed
//!   with `EIO` (aio-core's `InFlight` drop); callback panics are caught by
//!   aio-core.
//!
//! # The wake-up model
//!
//! A worker sleeps in exactly one of two places, and every producer knows
//! which from the pool's sleep state (under the pool mutex):
//!
//! | worker state | sleeps in        | woken by |
//! |--------------|------------------|----------|
//! | `Idle`       | `pending` condvar | a submitter's push, a released barrier, a sibling-wake hint, a cancel request, shutdown |
//! | `EngineOpen` | `Engines::wait` (the home source's `Engine::wait`) | the same producers, through `Engines::waker()`; and the **device**: completing an op signals the home (an `EngineTicket`, the io_uring CQ, or an added source calling the set's waker) |
//! | `EngineFull` | `Engines::wait`  | the device (a completion makes room), a cancel request, shutdown |
//!
//! The device's completion is thus one more producer, with its own sticky
//! wake-up (the engine's doorbell or eventfd), and the waker is sticky
//! too ("wakes the current or next wait"), so producers call it after
//! dropping the pool lock. The protocol, its code and its proof sketch
//! (the lost-wake-up race) are the crate's `sleep` module
//! (`src/sleep/mod.rs`, documented by `src/sleep/README.md`); build the
//! private docs (`cargo doc --document-private-items`) to read it linked.
//!
//! # Shutdown ([`PoolSet::shutdown`])
//!
//! 1. Close the gate (`CLOSED` bit, one SeqCst RMW); later submits fail
//!    with `ESHUTDOWN` and give the op back. Wake `WAIT` submitters so they
//!    give up too.
//! 2. Wait until every submitter already inside `submit` has left (the
//!    gate's count is 0). A submitter increments and tests `CLOSED` in one
//!    RMW, so it is either refused or counted; after this step nothing new
//!    is admitted (model: `loom_shutdown_vs_submit`).
//! 3. [`ShutdownMode::Cancel`]: remove every queued and parked op and
//!    complete it with `ECANCELED`, and repeat until no op released by the
//!    order table is still on its way to a queue (such an op stays counted
//!    as parked until it is queued; it may then run rather than be
//!    cancelled). [`ShutdownMode::Drain`]: wait until
//!    every admitted op has been taken by a worker (parked ones are
//!    released as their barriers clear). After this step nothing can be
//!    queued any more: only submitters and barrier releases queue, and
//!    there are neither.
//! 4. Set each pool's `exit` flag and wake its worker wherever it sleeps.
//!    A worker exits when `exit` is set, its queue is empty, its engine has
//!    nothing in flight and every op it handed out is confirmed complete.
//! 5. Join every worker.
//!
//! Nothing is lost: every op was refused (step 1), cancelled (step 3) or
//! run and completed before its worker exited (step 4).
//!
//! # Known limits
//!
//! * The fsync barrier and FIFO order confirm each tracked op by its own
//!   [`OpWatch`](aio_core::OpWatch), so they wait for exactly the ops they
//!   depend on. Two exceptions, both in `order.rs` ("How completion is
//!   known"): a *detached* op (a device completes it without an engine
//!   ticket, as blockdev's stream transfers) is confirmed only when its
//!   worker's engine next drains; and while a barrier waits, a worker that
//!   has handed many ops to devices since its last drain stops taking work
//!   until it drains, so an op that never completes can then stall it.
//! * A target without a strategy that answers `Attempt::Busy` on a worker
//!   completes the op with `EAGAIN` (only a synchronous caller may sleep
//!   on a target's availability).
//! * A synchronous-mode flush does not wait for queued asynchronous writes.
//! * Do not call [`PoolSet::cancel`], [`PoolSet::shutdown`] or a
//!   [`SubmitFlags::WAIT`] submit from a completion callback: callbacks may
//!   run on a worker, which would then wait for itself.
//!
//! # Locking (whole crate)
//!
//! The one lock-order table of aio-pool; every file's own notes refer
//! here. `A -> B` means B may be taken while A is held; a lock not listed
//! under another is never taken under it.
//!
//! ```text
//!   lock (file)                        may hold while taking
//!   ---------------------------------  ----------------------------------
//!   Workers::start      (start.rs)     Pool::q, Workers::joins,
//!                                      CancelReply::m (a failed spawn
//!                                      answers queued cancel requests);
//!                                      runs PoolConfig::spawn_with
//!   OrderTable shard    (order.rs)     Pool::q is allowed, never done:
//!                                      released work is collected under
//!                                      the shard and pushed after unlocking
//!   Pool::q             (pool.rs)      nothing (waits on `pending`)
//!   Wakeup's waker slot (sleep/)       nothing (a leaf; a ring is called
//!                                      after Pool::q is dropped)
//!   Shared::space       (shared.rs)    nothing (waits on `space_cv`)
//!   CancelReply::m      (pool.rs)      nothing (waits on its `cv`)
//!   Workers::joins      (start.rs)     nothing
//!
//!   Never two Pool::q at once: a stealer has dropped its own before it
//!   locks a sibling's (try_lock, then in its second round a waiting
//!   lock); the sibling-wake hint only try_locks.
//!   No aio-pool lock is held across a call into a device, a target, an
//!   engine or a callback, nor across Pool::push. aio-core's op locks
//!   (taken inside enqueue, start, complete, cancel) are never taken under
//!   an aio-pool lock: removal collects under the lock and cancels after
//!   unlocking; Pending::is_complete/state (read under CancelReply::m)
//!   are lock-free loads.
//! ```
//!
//! The levels of this table are declared once, in [`lock_order`], in
//! aio-pool's band 200–299 (aio-posix's slot lock, 100–199, is held across
//! [`PoolSet::cancel`]; blockdev's and aio-core's are above): in order,
//! [`WORKERS_START`](lock_order::WORKERS_START),
//! [`ORDER_SHARD`](lock_order::ORDER_SHARD), [`POOL_Q`](lock_order::POOL_Q),
//! [`SHARED_SPACE`](lock_order::SHARED_SPACE),
//! [`WAKER_SLOT`](lock_order::WAKER_SLOT),
//! [`CANCEL_REPLY`](lock_order::CANCEL_REPLY),
//! [`WORKERS_JOINS`](lock_order::WORKERS_JOINS). Debug builds check them.
//!
//! # Example: what the POSIX layer does
//!
//! ```
//! use aio_core::{BasicEngine, Engine, MemTarget, Op, OpKind, into_dyn};
//! use aio_pool::{PoolConfig, PoolSet, ShutdownMode, SubmitFlags, Submitted};
//!
//! // One pool per CPU per class; plug in any engine (blockdev's
//! // io_uring engine in aio-posix).
//! let cfg = PoolConfig::default()
//!     .engine_factory(|| Box::new(BasicEngine::new()) as Box<dyn Engine>);
//! let pools = PoolSet::new(cfg).unwrap();
//!
//! fn done(_c: &aio_core::Completion<'_>) {}
//! let target = into_dyn(MemTarget::new(1 << 16));
//! let mut op = Op::new(target, b"appended".to_vec());
//! op.prepare(OpKind::Write, 0, 8).unwrap();
//! op.set_callback(done);
//! // FIFO per target: one at a time, in submission order.
//! match pools.submit(op, SubmitFlags::TARGET_FIFO) {
//!     Ok(Submitted::Pending(p)) => assert_eq!(p.wait().1, Ok(8)),
//!     Ok(Submitted::Done(..)) => unreachable!("the op has a callback"),
//!     Err(e) => panic!("refused: {}", e.error),
//! }
//! pools.shutdown(ShutdownMode::Drain);
//! ```

#[cfg(all(loom, not(debug_assertions)))]
compile_error!("loom models need debug assertions: build them with `--profile loom`");

mod config;
mod cpu;
pub mod lock_order;
mod order;
mod pool;
mod set;
mod shared;
mod sleep;
mod start;
mod stats;
mod worker;

#[cfg(all(test, loom))]
mod tests;

pub use config::{Class, EngineFactory, PoolConfig, SubmitFlags};
pub use set::{PoolSet, ShutdownMode, ShutdownReport, SubmitError, Submitted, target_key};
pub use stats::{PoolStats, stats_table};

//! Configuration, classes and submission flags.
//!
//! Lock order: none (plain data).

use std::fmt;

use aio_core::{BasicEngine, Engine, OpKind};

/// The class of an operation: each class has its own pools and workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// `read` / `aio_read`.
    Read = 0,
    /// `write` / `aio_write`.
    Write = 1,
    /// `fsync` / `fdatasync` / `aio_fsync`.
    Sync = 2,
}

impl Class {
    /// Every class, in index order.
    pub const ALL: [Class; 3] = [Class::Read, Class::Write, Class::Sync];

    /// The class that services an op of `kind`.
    pub fn of(kind: OpKind) -> Class {
        match kind {
            OpKind::Read => Class::Read,
            OpKind::Write => Class::Write,
            OpKind::Fsync | OpKind::Fdatasync => Class::Sync,
        }
    }

    /// 0, 1 or 2.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Per-submission flags (kept here, not in aio-core: they describe how the
/// pool schedules the op, not the op itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SubmitFlags(u32);

impl SubmitFlags {
    /// No flag: a positional transfer that may run in parallel with any
    /// other, inline if the target can do it without blocking.
    pub const NONE: SubmitFlags = SubmitFlags(0);
    /// FIFO per target: run one at a time, in submission order, with every
    /// other `TARGET_FIFO` op on the same target (io-wq's hashed work).
    /// Never run inline. This is *not* NetBSD's `B_ORDERED` barrier: ops
    /// submitted without the flag are not held back by it, and it does not
    /// wait for them.
    ///
    /// The next op starts when the pools *confirm* the previous one
    /// (`order.rs`, "How completion is known"). For an op the device
    /// completes through the worker's engine that is its completion; a
    /// *detached* op (blockdev's stream transfers, which wait on the
    /// readiness waiter) is confirmed only when its worker's engine next
    /// drains, and on a stream device the order is kept within each
    /// direction only (`blockdev/src/ready/README.md`). So the flag suits
    /// devices that complete through the engine; aio-posix does not use it
    /// for `O_APPEND` or streams, but keeps its own per-descriptor FIFO
    /// queues (`aio-posix/src/README.md`, "Streams"). An op with the flag
    /// that never completes holds up every later one of its target.
    pub const TARGET_FIFO: SubmitFlags = SubmitFlags(1);
    /// When the queues are full, wait for room instead of failing with
    /// `EAGAIN`.
    pub const WAIT: SubmitFlags = SubmitFlags(2);
    /// Do not try the op inline on the submitter's thread, even if the pool
    /// allows it.
    pub const NO_INLINE: SubmitFlags = SubmitFlags(4);
    /// The caller admitted this op earlier and bounds such ops itself (an
    /// op its own FIFO queue releases, say, which a program was told was
    /// accepted): the queue caps are not applied, and the submission is
    /// never refused for room (only `ESHUTDOWN`). The op is still counted,
    /// so ordinary submissions see the queues as full while it waits.
    pub const ADMITTED: SubmitFlags = SubmitFlags(8);

    /// Whether every flag in `other` is set.
    pub fn contains(self, other: SubmitFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for SubmitFlags {
    type Output = SubmitFlags;
    fn bitor(self, rhs: SubmitFlags) -> SubmitFlags {
        SubmitFlags(self.0 | rhs.0)
    }
}

/// Creates the engine of one worker thread. Called once per worker, on the
/// worker's own thread when it starts (see [`PoolConfig::lazy`]).
pub type EngineFactory = Box<dyn Fn() -> Box<dyn Engine> + Send + Sync>;

/// Runs the closure it is given, which starts worker threads, in a context
/// of the caller's choosing (the POSIX layer blocks every signal around
/// it, so that the threads start with signals blocked).
pub type SpawnWrapper = Box<dyn Fn(&mut dyn FnMut()) + Send + Sync>;

/// How to build a [`PoolSet`](crate::PoolSet).
///
/// The number of threads is at most `pools_per_class * 3` and never
/// shrinks; with [`PoolConfig::lazy`] (the default) a class's workers, and
/// their engines, start with the first op of that class.
pub struct PoolConfig {
    /// Pools per class. Pool `i` of each class serves CPU `cpus[i % cpus.len()]`
    /// and submitters running on CPU `c` use pool `c % pools_per_class`.
    /// Default: the number of CPUs this process may run on.
    pub pools_per_class: usize,
    /// The CPUs to pin workers to, in pool order. Default: the CPUs this
    /// process may run on (`sched_getaffinity`).
    pub cpus: Vec<usize>,
    /// Pin each worker to its CPU (`sched_setaffinity`). A failure is
    /// logged and shows as [`PoolStats::pinned`](crate::PoolStats::pinned)
    /// `false`; it is not fatal. Default: true.
    pub pin: bool,
    /// Ops one worker keeps in flight through its engine at most. Default 32.
    pub max_in_flight: usize,
    /// Ops a worker takes from its own queue in one go. Default 4.
    pub batch: usize,
    /// Queued ops per pool at most; past it a submit tries the sibling
    /// pools of the class, then fails with `EAGAIN`. Default 1024.
    pub queue_cap_per_pool: usize,
    /// Queued ops in all pools together at most. Default 4096.
    pub queue_cap_total: usize,
    /// Try each op inline first (`Strategy::try_nowait` on the submitter's
    /// thread) and queue it only if that would block. Default: true.
    pub inline: bool,
    /// Let idle workers steal from sibling pools of their class. Default: true.
    pub steal: bool,
    /// Idle rounds: how many times a worker that found nothing to do
    /// yields its CPU (`sched_yield`), staying awake and looking again
    /// after each, before it falls asleep (sleep/README.md, "Idle rounds";
    /// rayon-core's rounds before sleepy). A submitter that posts again
    /// meanwhile finds it awake and needs no wake-up, which on a worker
    /// pinned to the submitter's own CPU is a futex wake and two context
    /// switches. Default: 2 (0 under loom, where the models choose).
    pub idle_rounds: u32,
    /// Makes each worker's engine: the home source of its engine set
    /// ([`Engines`](aio_core::Engines), the source it sleeps in). Default:
    /// aio-core's [`BasicEngine`].
    pub engine_factory: EngineFactory,
    /// Start a class's workers (threads and engines: an io_uring and an
    /// eventfd each, with blockdev's engines) on the first submission of
    /// that class, not in [`PoolSet::new`](crate::PoolSet::new): a process
    /// that only reads has no write or sync workers. A submission whose
    /// workers cannot be started fails with `EAGAIN`. Default: true (false
    /// under loom, where the models choose).
    pub lazy: bool,
    /// Wraps every start of worker threads. Default: none.
    pub spawn_with: Option<SpawnWrapper>,
    /// The workers' stack size in bytes; `None` (the default): std's (2 MiB
    /// unless `RUST_MIN_STACK` says otherwise). A completion callback runs
    /// on a worker, so a user whose callbacks need a deep stack keeps the
    /// default; aio-posix, whose callbacks are its own, sets
    /// [`SERVICE_STACK`](aio_core::sync::SERVICE_STACK).
    pub stack_size: Option<usize>,
    /// Which classes get workers (bit `Class::index`). Models start only
    /// the worker they need; everything else leaves it at all three.
    pub(crate) spawn_mask: u8,
}

impl fmt::Debug for PoolConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolConfig")
            .field("pools_per_class", &self.pools_per_class)
            .field("cpus", &self.cpus)
            .field("pin", &self.pin)
            .field("max_in_flight", &self.max_in_flight)
            .field("batch", &self.batch)
            .field("queue_cap_per_pool", &self.queue_cap_per_pool)
            .field("queue_cap_total", &self.queue_cap_total)
            .field("inline", &self.inline)
            .field("steal", &self.steal)
            .field("idle_rounds", &self.idle_rounds)
            .field("lazy", &self.lazy)
            .finish_non_exhaustive()
    }
}

impl Default for PoolConfig {
    fn default() -> Self {
        let cpus = crate::cpu::allowed_cpus();
        PoolConfig {
            pools_per_class: cpus.len().max(1),
            cpus,
            pin: true,
            max_in_flight: 32,
            batch: 4,
            // Loom: tiny capacities keep the models small (tokio's habit).
            queue_cap_per_pool: if cfg!(loom) { 2 } else { 1024 },
            queue_cap_total: if cfg!(loom) { 4 } else { 4096 },
            inline: true,
            steal: true,
            idle_rounds: if cfg!(loom) { 0 } else { 2 },
            engine_factory: Box::new(|| Box::new(BasicEngine::new())),
            lazy: !cfg!(loom),
            spawn_with: None,
            stack_size: None,
            spawn_mask: 0b111,
        }
    }
}

impl PoolConfig {
    /// Sets [`PoolConfig::stack_size`].
    pub fn stack_size(mut self, bytes: Option<usize>) -> Self {
        self.stack_size = bytes;
        self
    }

    /// Sets [`PoolConfig::pools_per_class`].
    pub fn pools_per_class(mut self, n: usize) -> Self {
        self.pools_per_class = n;
        self
    }

    /// Sets [`PoolConfig::engine_factory`].
    pub fn engine_factory(
        mut self,
        f: impl Fn() -> Box<dyn Engine> + Send + Sync + 'static,
    ) -> Self {
        self.engine_factory = Box::new(f);
        self
    }

    /// Sets [`PoolConfig::lazy`].
    pub fn lazy(mut self, on: bool) -> Self {
        self.lazy = on;
        self
    }

    /// Sets [`PoolConfig::spawn_with`].
    pub fn spawn_with(mut self, f: impl Fn(&mut dyn FnMut()) + Send + Sync + 'static) -> Self {
        self.spawn_with = Some(Box::new(f));
        self
    }

    /// Sets [`PoolConfig::inline`].
    pub fn inline(mut self, on: bool) -> Self {
        self.inline = on;
        self
    }

    /// Sets [`PoolConfig::steal`].
    pub fn steal(mut self, on: bool) -> Self {
        self.steal = on;
        self
    }

    /// Sets [`PoolConfig::idle_rounds`].
    pub fn idle_rounds(mut self, rounds: u32) -> Self {
        self.idle_rounds = rounds;
        self
    }

    /// Sets [`PoolConfig::max_in_flight`].
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n;
        self
    }

    /// Sets both queue caps.
    pub fn queue_caps(mut self, per_pool: usize, total: usize) -> Self {
        self.queue_cap_per_pool = per_pool;
        self.queue_cap_total = total;
        self
    }

    /// Starts workers only for `classes` (the models use this).
    #[cfg(all(loom, test))]
    pub(crate) fn only(mut self, classes: &[Class]) -> Self {
        self.spawn_mask = classes.iter().fold(0, |m, c| m | (1 << c.index()));
        self
    }

    /// Checks the numbers. `EINVAL` on a zero or inconsistent setting.
    pub(crate) fn validate(&self) -> aio_core::Result<()> {
        let bad = self.pools_per_class == 0
            || self.max_in_flight == 0
            || self.batch == 0
            || self.queue_cap_per_pool == 0
            || self.queue_cap_total == 0
            || self.pools_per_class > 1024;
        if bad {
            Err(aio_core::Error::EINVAL)
        } else {
            Ok(())
        }
    }
}

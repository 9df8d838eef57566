//! Per-pool counters and their snapshot.
//!
//! Lock order: none. Every counter is an independent Relaxed atomic: the
//! numbers are statistics, read while they change, and order nothing.
//! Under `cfg(loom)` they compile to nothing, so models explore only the
//! protocols (a counter's increment would be one more scheduling point).

use crate::config::Class;

/// One statistics counter.
#[derive(Debug, Default)]
pub(crate) struct Counter(#[cfg(not(loom))] aio_core::sync::atomic::AtomicU64);

#[cfg(not(loom))]
impl Counter {
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        self.0
            .fetch_add(n, aio_core::sync::atomic::Ordering::Relaxed);
    }
    #[inline]
    pub(crate) fn max(&self, v: u64) {
        self.0
            .fetch_max(v, aio_core::sync::atomic::Ordering::Relaxed);
    }
    pub(crate) fn get(&self) -> u64 {
        self.0.load(aio_core::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(loom)]
impl Counter {
    #[inline]
    pub(crate) fn add(&self, _n: u64) {}
    #[inline]
    pub(crate) fn max(&self, _v: u64) {}
    pub(crate) fn get(&self) -> u64 {
        0
    }
}

impl Counter {
    #[inline]
    pub(crate) fn inc(&self) {
        self.add(1);
    }
}

/// The live counters of one pool (field names as in [`PoolStats`]).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) submitted: Counter,
    pub(crate) completed: Counter,
    pub(crate) inline: Counter,
    pub(crate) stolen_in: Counter,
    pub(crate) stolen_out: Counter,
    pub(crate) in_flight_hwm: Counter,
    pub(crate) queue_hwm: Counter,
    pub(crate) sleeps: Counter,
    pub(crate) wakeups: Counter,
    pub(crate) spurious_wakeups: Counter,
    pub(crate) panics: Counter,
    pub(crate) cancelled: Counter,
    pub(crate) rejected: Counter,
    pub(crate) pinned: Counter,
}

/// A snapshot of one pool's counters ([`PoolSet::stats`](crate::PoolSet::stats)).
///
/// Counters are read one by one while the pool runs, so a snapshot taken
/// under load is not a consistent cut (`completed` may briefly exceed what
/// `submitted` suggests, for instance, because of stealing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStats {
    /// The pool's class.
    pub class: Class,
    /// The pool's index within its class.
    pub index: usize,
    /// The CPU its worker is pinned to.
    pub cpu: usize,
    /// Whether pinning succeeded (false also when pinning is off).
    pub pinned: bool,
    /// Ops accepted into this pool (queued here, or tried inline by a
    /// submitter that chose this pool).
    pub submitted: u64,
    /// Ops this pool's worker dispatched and knows to be complete, its own
    /// or stolen. Ops completed by a device thread are counted once the
    /// worker's engine has nothing in flight.
    pub completed: u64,
    /// Ops completed inline on the submitter's thread.
    pub inline: u64,
    /// Ops this pool's worker stole from siblings.
    pub stolen_in: u64,
    /// Ops siblings stole from this pool's queue.
    pub stolen_out: u64,
    /// Most ops the worker had in flight at once.
    pub in_flight_hwm: u64,
    /// Longest the queue has been.
    pub queue_hwm: u64,
    /// Times the worker went to sleep (on `pending` or in `Engine::wait`).
    pub sleeps: u64,
    /// Times it woke up.
    pub wakeups: u64,
    /// Wake-ups after which it found nothing to do.
    pub spurious_wakeups: u64,
    /// Panics caught in a device's `submit`, a target's I/O or an engine's
    /// `poll` (each affected op was completed with `EIO`).
    pub panics: u64,
    /// Ops the pool cancelled (queued ops removed, shutdown in cancel mode).
    pub cancelled: u64,
    /// Submissions refused with `EAGAIN` because the pools were full.
    pub rejected: u64,
}

impl Counters {
    pub(crate) fn snapshot(&self, class: Class, index: usize, cpu: usize) -> PoolStats {
        PoolStats {
            class,
            index,
            cpu,
            pinned: self.pinned.get() > 0,
            submitted: self.submitted.get(),
            completed: self.completed.get(),
            inline: self.inline.get(),
            stolen_in: self.stolen_in.get(),
            stolen_out: self.stolen_out.get(),
            in_flight_hwm: self.in_flight_hwm.get(),
            queue_hwm: self.queue_hwm.get(),
            sleeps: self.sleeps.get(),
            wakeups: self.wakeups.get(),
            spurious_wakeups: self.spurious_wakeups.get(),
            panics: self.panics.get(),
            cancelled: self.cancelled.get(),
            rejected: self.rejected.get(),
        }
    }
}

/// The per-pool counters as the text table aio-bench prints (and
/// aio-posix's `AIO_POSIX_STATS` at exit): one line per pool that saw an
/// op, with its share of the completions (`completed + inline`, of all
/// pools), and a legend; empty if no pool saw one.
pub fn stats_table(pools: &[PoolStats]) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let active: Vec<_> = pools
        .iter()
        .filter(|p| p.submitted + p.completed + p.inline > 0)
        .collect();
    if active.is_empty() {
        return s;
    }
    let done: u64 = active.iter().map(|p| p.completed + p.inline).sum();
    let _ = writeln!(
        s,
        "  pool        cpu  submitted   completed      inline  share  stolen in/out  inflight-hwm  queue-hwm  sleeps  wakeups  spurious"
    );
    for p in active {
        let share = if done > 0 {
            100.0 * (p.completed + p.inline) as f64 / done as f64
        } else {
            0.0
        };
        let _ = writeln!(
            s,
            "  {:<6}{:>2}  {:>4}{} {:>10}  {:>10}  {:>10}  {:>4.0}%  {:>6}/{:<6}  {:>12}  {:>9}  {:>6}  {:>7}  {:>8}",
            format!("{:?}", p.class).to_lowercase(),
            p.index,
            p.cpu,
            if p.pinned { '*' } else { ' ' },
            p.submitted,
            p.completed,
            p.inline,
            share,
            p.stolen_in,
            p.stolen_out,
            p.in_flight_hwm,
            p.queue_hwm,
            p.sleeps,
            p.wakeups,
            p.spurious_wakeups,
        );
    }
    let _ = writeln!(
        s,
        "  (* = worker pinned; share = completed + inline, of all pools)"
    );
    s
}

//! Measures aio-pool (reports; asserts nothing):
//!
//! 1. ops/s on aio-core's `MemTarget` for 1 and 2 pools per class with 1,
//!    2, 4 and 8 submitter threads (each keeps `DEPTH` ops outstanding:
//!    submit with a callback, wait, resubmit);
//! 2. the skewed load: every submitter pinned to CPU 0, 2 pools per class,
//!    each pool's share of completions;
//! 3. inline on vs off at queue depth 1 on a RAM target with a strategy
//!    routine (`try_nowait` always succeeds).
//!
//! Run: `cargo run --release -p aio-pool --example pool_scaling [seconds per point]`

use std::time::{Duration, Instant};

use aio_core::sync::Arc;
use aio_core::sync::atomic::{AtomicU64, Ordering};
use aio_core::{
    Attempt, Completion, Engines, Error, FlushKind, InFlight, MemTarget, Op, OpKind, Result,
    Strategy, Target, into_dyn,
};
use aio_pool::{Class, PoolConfig, PoolSet, ShutdownMode, SubmitFlags, Submitted};

const DEPTH: usize = 16;
const LEN: usize = 512;

static DONE: AtomicU64 = AtomicU64::new(0);
fn count(_c: &Completion<'_>) {
    DONE.fetch_add(1, Ordering::Relaxed);
}

/// A RAM target with a strategy routine: completes in `try_nowait` (the
/// inline path) or in `submit` (the worker path).
struct Ram(MemTarget);

fn run_now(mut f: InFlight) {
    let r = match f.execute() {
        Attempt::Ready(r) => r,
        Attempt::Busy => Err(Error::EAGAIN),
    };
    f.complete(r);
}

impl Target for Ram {
    fn read_at(&self, b: &mut [u8], o: u64) -> Attempt<Result<usize>> {
        self.0.read_at(b, o)
    }
    fn write_at(&self, b: &[u8], o: u64) -> Attempt<Result<usize>> {
        self.0.write_at(b, o)
    }
    fn flush(&self, k: FlushKind) -> Attempt<Result<()>> {
        self.0.flush(k)
    }
    fn strategy(&self) -> Option<&dyn Strategy> {
        Some(self)
    }
}

impl Strategy for Ram {
    fn submit(&self, op: InFlight, _e: &mut Engines) {
        run_now(op);
    }
    fn try_nowait(&self, op: InFlight) -> std::result::Result<(), InFlight> {
        run_now(op);
        Ok(())
    }
}

fn pin_to_cpu0() {
    // SAFETY: cpu_set_t is plain data; all-zero is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: 0 < CPU_SETSIZE; `set` is valid.
    unsafe { libc::CPU_SET(0, &mut set) };
    // SAFETY: a valid set of the size we pass; pid 0 is this thread.
    let r = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    assert_eq!(r, 0, "cannot pin to CPU 0");
}

/// `threads` submitters, each keeping `depth` ops outstanding for `secs`.
/// Returns ops/s.
fn drive(
    pools: &PoolSet,
    target: &Arc<dyn Target>,
    threads: usize,
    depth: usize,
    secs: f64,
    pin0: bool,
) -> f64 {
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(secs);
    let total = AtomicU64::new(0);
    std::thread::scope(|s| {
        for t in 0..threads {
            let target = Arc::clone(target);
            let total = &total;
            s.spawn(move || {
                if pin0 {
                    pin_to_cpu0();
                }
                let mut ops: Vec<Op> = (0..depth)
                    .map(|i| {
                        let mut o = Op::new(Arc::clone(&target), vec![0u8; LEN]);
                        let kind = if i % 2 == 0 {
                            OpKind::Read
                        } else {
                            OpKind::Write
                        };
                        o.prepare(kind, ((t * depth + i) * LEN) as u64, LEN)
                            .unwrap();
                        o.set_callback(count);
                        o
                    })
                    .collect();
                let mut pend = Vec::with_capacity(depth);
                let mut n = 0u64;
                while Instant::now() < until {
                    for o in ops.drain(..) {
                        match pools.submit(o, SubmitFlags::WAIT) {
                            Ok(Submitted::Pending(p)) => pend.push(p),
                            Ok(Submitted::Done(..)) => {
                                unreachable!("callback ops are asynchronous")
                            }
                            Err(e) => panic!("submit failed: {}", e.error),
                        }
                    }
                    for p in pend.drain(..) {
                        assert!(p.wait_timeout(Duration::from_secs(30)), "op stuck");
                        let (o, r) = p.wait();
                        r.expect("op failed");
                        ops.push(o);
                        n += 1;
                    }
                }
                total.fetch_add(n, Ordering::Relaxed);
            });
        }
    });
    total.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "aio-pool scaling: {cpus} CPUs, {secs} s per point, {LEN}-byte ops, depth {DEPTH} per submitter"
    );

    println!("\n1. MemTarget (no strategy: run on the workers), ops/s");
    println!(
        "{:>10} {:>14} {:>14} {:>8}   worker wake-ups per 1000 ops (1 pool, 2 pools)",
        "submitters", "1 pool/class", "2 pools/class", "ratio"
    );
    for threads in [1, 2, 4, 8] {
        let mut r = [0.0; 2];
        let mut wakes = [0.0; 2];
        for (k, pools_per_class) in [1, 2].into_iter().enumerate() {
            let pools =
                PoolSet::new(PoolConfig::default().pools_per_class(pools_per_class)).unwrap();
            let target = into_dyn(MemTarget::new(64 << 20));
            r[k] = drive(&pools, &target, threads, DEPTH, secs, false);
            pools.shutdown(ShutdownMode::Drain);
            let st = pools.stats();
            let ops: u64 = st.iter().map(|s| s.completed).sum();
            let w: u64 = st.iter().map(|s| s.wakeups).sum();
            wakes[k] = 1000.0 * w as f64 / ops.max(1) as f64;
        }
        println!(
            "{threads:>10} {:>14.0} {:>14.0} {:>7.2}x   {:.0}, {:.0}",
            r[0],
            r[1],
            r[1] / r[0],
            wakes[0],
            wakes[1]
        );
    }

    println!("\n2. Skewed load: every submitter pinned to CPU 0, 2 pools/class, MemTarget");
    for threads in [2, 4] {
        let pools = PoolSet::new(PoolConfig::default().pools_per_class(2)).unwrap();
        let target = into_dyn(MemTarget::new(64 << 20));
        let rate = drive(&pools, &target, threads, DEPTH, secs, true);
        pools.shutdown(ShutdownMode::Drain);
        let st = pools.stats();
        print!("{threads} submitters, {rate:.0} ops/s:");
        for class in [Class::Read, Class::Write] {
            let ps: Vec<_> = st.iter().filter(|s| s.class == class).collect();
            let total: u64 = ps.iter().map(|s| s.completed).sum();
            let shares: Vec<String> = ps
                .iter()
                .map(|s| {
                    format!(
                        "pool {} {:.1}% (stolen in {})",
                        s.index,
                        100.0 * s.completed as f64 / total as f64,
                        s.stolen_in
                    )
                })
                .collect();
            print!("  {class:?}: {}", shares.join(", "));
        }
        println!();
    }

    println!("\n3. Inline on vs off, queue depth 1, RAM target with a strategy routine");
    for threads in [1, 2] {
        let mut line = format!("{threads} submitter(s):");
        for inline in [true, false] {
            let pools = PoolSet::new(PoolConfig::default().inline(inline)).unwrap();
            let target = into_dyn(Ram(MemTarget::new(64 << 20)));
            let rate = drive(&pools, &target, threads, 1, secs, false);
            pools.shutdown(ShutdownMode::Drain);
            let st = pools.stats();
            let inl: u64 = st.iter().map(|s| s.inline).sum();
            line += &format!(
                "  inline {}: {rate:>9.0} ops/s ({:.2} us/op, {inl} inline)",
                if inline { "on " } else { "off" },
                1e6 * threads as f64 / rate
            );
        }
        println!("{line}");
    }
}

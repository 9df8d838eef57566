//! Running a workload: open the device ([`device`]), build the pools,
//! start one thread per job in the mode `--mode` names ([`direct`],
//! [`sync`], [`queued`] for callback and ring, [`posix`]), collect
//! latencies and counters ([`job`]).
//!
//! Imports go one way: this file uses the others; each mode's file uses
//! only [`job`]; [`device`], [`job`] and [`streams`] use none of them.

mod device;
mod direct;
mod job;
mod posix;
mod queued;
mod streams;
mod sync;

use std::time::{Duration, Instant};

use aio_core::Error;
use aio_core::sync::atomic::Ordering;
use aio_core::sync::{Arc, thread};
use aio_pool::{PoolConfig, PoolSet, PoolStats};
use hdrhistogram::Histogram;

use self::device::open_device;
use self::direct::job_direct;
use self::job::{Gen, JobResult, Shared};
use self::posix::job_posix;
use self::queued::job_async;
use self::streams::block_streams;
use self::sync::job_sync;
use crate::args::{Args, Mode};

/// What a run measured.
pub struct Outcome {
    /// Ops completed (successfully or not).
    pub ops: u64,
    /// Ops that failed, and the first error seen.
    pub errors: u64,
    /// The first error.
    pub first_error: Option<Error>,
    /// Bytes transferred by successful ops.
    pub bytes: u64,
    /// Wall-clock time from the first submission to the last completion.
    pub elapsed: Duration,
    /// User + system CPU time of the process over the run.
    pub cpu: Duration,
    /// Completion latencies in nanoseconds.
    pub hist: Histogram<u64>,
    /// The pools' counters (empty in direct and sync modes' pool-less runs).
    pub pools: Vec<PoolStats>,
    /// The device's name and capacity.
    pub device: String,
    /// Usable capacity in bytes.
    pub capacity: u64,
}

/// Runs the workload described by `args`.
pub fn run(args: &Args, progress: impl Fn(u64, Duration)) -> Result<Outcome, String> {
    let dev = open_device(&args.device)?;
    let bs = args.bs as u64;
    if dev.align > 1 && !bs.is_multiple_of(dev.align as u64) {
        return Err(format!(
            "--bs {bs} is not a multiple of the device's block size {}",
            dev.align
        ));
    }
    let usable = if dev.capacity == u64::MAX {
        1 << 30
    } else {
        dev.capacity
    };
    let blocks = usable / bs;
    if blocks == 0 {
        return Err(format!(
            "the device ({} bytes) is smaller than one block of {bs}",
            dev.capacity
        ));
    }

    let pools = match args.mode {
        Mode::Direct | Mode::Posix => None,
        _ => {
            let mut cfg = PoolConfig::default().inline(args.inline);
            if args.pools > 0 {
                cfg = cfg.pools_per_class(args.pools);
            }
            let depth = (args.iodepth * args.jobs).clamp(8, 4096) as u32;
            cfg = cfg.engine_factory(move || blockdev::new_engine(depth));
            Some(Arc::new(
                PoolSet::new(cfg).map_err(|e| format!("cannot start the pools: {e}"))?,
            ))
        }
    };

    let blocked = block_streams(args.blocked_streams)?;

    let cpu0 = cpu_time();
    let t0 = Instant::now();
    // The deadline counts from t0: `elapsed_s` is then never below --runtime.
    let sh = Arc::new(Shared::new(args.stop, t0));
    let handles: Vec<_> = (0..args.jobs)
        .map(|job| {
            let a = args.clone();
            let target = Arc::clone(&dev.target);
            let pools = pools.clone();
            let sh = Arc::clone(&sh);
            let align = dev.align;
            thread::spawn(move || -> Result<JobResult, String> {
                let workload = Gen::new(&a, job, blocks);
                match a.mode {
                    Mode::Direct => job_direct(&a, &target, workload, &sh, align),
                    Mode::Sync => job_sync(
                        &a,
                        &target,
                        pools.as_deref().expect("pools"),
                        workload,
                        &sh,
                        align,
                    ),
                    Mode::Posix => job_posix(&a, workload, &sh),
                    Mode::Callback | Mode::Ring => job_async(
                        &a,
                        &target,
                        pools.as_deref().expect("pools"),
                        workload,
                        &sh,
                        align,
                    ),
                }
            })
        })
        .collect();

    while !handles.iter().all(|h| h.is_finished()) {
        aio_core::sync::thread::sleep(Duration::from_millis(50));
        progress(sh.done.load(Ordering::Relaxed), t0.elapsed());
    }
    // The load is over: its time is taken now, then the waiting stream
    // reads are released (at EOF) outside the measurement.
    let elapsed = t0.elapsed();
    let cpu = cpu_time().saturating_sub(cpu0);
    drop(blocked);
    let mut total = JobResult::new();
    let mut err = None;
    for h in handles {
        match h.join() {
            Ok(Ok(r)) => total.merge(r),
            Ok(Err(e)) => err = Some(e),
            Err(_) => err = Some("a job thread panicked".to_string()),
        }
    }
    let pool_stats = match &pools {
        Some(p) => {
            let s = p.stats();
            p.shutdown(aio_pool::ShutdownMode::Drain);
            s
        }
        None => Vec::new(),
    };
    if let Some(e) = err {
        return Err(e);
    }
    Ok(Outcome {
        ops: total.ops,
        errors: total.errors,
        first_error: total.first_error,
        bytes: total.bytes,
        elapsed,
        cpu,
        hist: total.hist,
        pools: pool_stats,
        device: dev.name,
        capacity: dev.capacity,
    })
}

/// User + system CPU time of the process so far.
fn cpu_time() -> Duration {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole rusage into the pointer we pass.
    let ru = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, ru.as_mut_ptr());
        ru.assume_init()
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

//! Running a workload: open the device, build the pools, start the jobs,
//! collect latencies and counters.

use std::time::{Duration, Instant};

use aio_core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use aio_core::sync::{Arc, Condvar, Mutex, thread};
use aio_core::{Attempt, Completion, CompletionRing, Error, Op, OpKind, Pending, Reaper, Target};
use aio_pool::{PoolConfig, PoolSet, PoolStats, SubmitFlags, Submitted};
use blockdev::{AlignedBuf, Device, FileDevice, FileOptions, NbdDevice, RamDisk, XorShift};
use hdrhistogram::Histogram;

use crate::args::{Args, DeviceSpec, Mode, Stop};

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

/// The device, type-erased, with its shape.
struct Dev {
    target: Arc<dyn Target>,
    name: String,
    capacity: u64,
    align: usize,
}

fn open_device(spec: &DeviceSpec) -> Result<Dev, String> {
    fn erase<D: Device + 'static>(d: D) -> Dev {
        let g = d.geometry();
        let name = d.name().to_string();
        Dev {
            target: aio_core::into_dyn(d),
            name,
            capacity: g.capacity,
            align: g.block_size as usize,
        }
    }
    match spec {
        DeviceSpec::Ram { size } => RamDisk::new(*size)
            .map(erase)
            .map_err(|e| format!("cannot make a RAM disk of {size} bytes: {e}")),
        DeviceSpec::File { path, direct, size } => {
            let mut o = FileOptions::new().direct(*direct);
            if let Some(s) = size {
                o = o.create(*s);
            }
            FileDevice::open(path, o)
                .map(erase)
                .map_err(|e| format!("cannot open '{path}': {e}"))
        }
        DeviceSpec::NbdUnix { path, export } => NbdDevice::connect_unix(path, export)
            .map(erase)
            .map_err(|e| format!("cannot connect to nbd server at '{path}': {e}")),
        DeviceSpec::NbdTcp { host, port, export } => {
            NbdDevice::connect_tcp((host.as_str(), *port), export)
                .map(erase)
                .map_err(|e| format!("cannot connect to nbd server at {host}:{port}: {e}"))
        }
    }
}

/// Shared by the jobs and the progress display.
struct Shared {
    /// Ops claimed so far (for `--ops`).
    claimed: AtomicU64,
    /// Ops completed so far (for progress).
    done: AtomicU64,
    /// Set when the run must stop issuing.
    stop: AtomicBool,
    limit: Option<u64>,
    deadline: Option<Instant>,
}

impl Shared {
    /// Claims the right to issue one more op.
    fn claim(&self) -> bool {
        if self.stop.load(Ordering::Relaxed) {
            return false;
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d)
            || self
                .limit
                .is_some_and(|l| self.claimed.fetch_add(1, Ordering::Relaxed) >= l)
        {
            self.stop.store(true, Ordering::Relaxed);
            return false;
        }
        true
    }
}

/// One job's measurements.
struct JobResult {
    ops: u64,
    errors: u64,
    first_error: Option<Error>,
    bytes: u64,
    hist: Histogram<u64>,
}

impl JobResult {
    fn new() -> JobResult {
        JobResult {
            ops: 0,
            errors: 0,
            first_error: None,
            bytes: 0,
            hist: Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid bounds"),
        }
    }

    fn record(&mut self, r: Result<usize, Error>, start: Instant, sh: &Shared) {
        let ns = start.elapsed().as_nanos().clamp(1, 3_600_000_000_000) as u64;
        self.hist.record(ns).expect("within bounds");
        self.ops += 1;
        sh.done.fetch_add(1, Ordering::Relaxed);
        match r {
            Ok(n) => self.bytes += n as u64,
            Err(e) => {
                self.errors += 1;
                self.first_error.get_or_insert(e);
            }
        }
    }
}

/// The next op of a job: kind and offset.
struct Gen {
    rng: XorShift,
    random: bool,
    read_pct: u32,
    bs: u64,
    blocks: u64,
    next_seq: u64,
}

impl Gen {
    fn new(args: &Args, job: usize, blocks: u64) -> Gen {
        Gen {
            rng: XorShift::new(args.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (job as u64 + 1)),
            random: args.pattern.random,
            read_pct: args.pattern.read_pct,
            bs: args.bs as u64,
            blocks,
            next_seq: (job as u64 * blocks / args.jobs.max(1) as u64) % blocks,
        }
    }

    fn next(&mut self) -> (OpKind, u64) {
        let kind = match self.read_pct {
            100 => OpKind::Read,
            0 => OpKind::Write,
            p => {
                if (self.rng.next_u64() % 100) < u64::from(p) {
                    OpKind::Read
                } else {
                    OpKind::Write
                }
            }
        };
        let block = if self.random {
            self.rng.next_u64() % self.blocks
        } else {
            let b = self.next_seq;
            self.next_seq = (self.next_seq + 1) % self.blocks;
            b
        };
        (kind, block * self.bs)
    }
}

/// A buffer for one op slot, aligned for O_DIRECT and filled with a
/// pattern for writes.
fn slot_buf(bs: usize, align: usize, seed: u64) -> Result<AlignedBuf, String> {
    let mut b = AlignedBuf::new(bs, align.max(512)).map_err(|e| format!("buffer: {e}"))?;
    let mut x = seed | 1;
    for chunk in b.as_mut_slice().chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let bytes = x.to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
    Ok(b)
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

    let sh = Arc::new(Shared {
        claimed: AtomicU64::new(0),
        done: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        limit: match args.stop {
            Stop::Ops(n) => Some(n),
            Stop::Runtime(_) => None,
        },
        deadline: match args.stop {
            Stop::Runtime(d) => Some(Instant::now() + d),
            Stop::Ops(_) => None,
        },
    });

    let blocked = block_streams(args.blocked_streams)?;

    let cpu0 = cpu_time();
    let t0 = Instant::now();
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
        std::thread::sleep(Duration::from_millis(50));
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
            Ok(Ok(r)) => {
                total.ops += r.ops;
                total.errors += r.errors;
                total.bytes += r.bytes;
                if total.first_error.is_none() {
                    total.first_error = r.first_error;
                }
                total.hist.add(&r.hist).expect("same bounds");
            }
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

/// The baseline: the device's `Target` methods called directly.
fn job_direct(
    a: &Args,
    target: &Arc<dyn Target>,
    mut workload: Gen,
    sh: &Shared,
    align: usize,
) -> Result<JobResult, String> {
    let mut buf = slot_buf(a.bs, align, a.seed)?;
    let mut res = JobResult::new();
    while sh.claim() {
        let (kind, off) = workload.next();
        let start = Instant::now();
        let r = loop {
            let att = match kind {
                OpKind::Write => target.write_at(buf.as_slice(), off),
                _ => target.read_at(buf.as_mut_slice(), off),
            };
            match att {
                Attempt::Ready(r) => break r,
                Attempt::Busy => std::thread::yield_now(),
            }
        };
        res.record(r, start, sh);
    }
    Ok(res)
}

/// Synchronous mode through the pools: no callback, the caller services it.
fn job_sync(
    a: &Args,
    target: &Arc<dyn Target>,
    pools: &PoolSet,
    mut workload: Gen,
    sh: &Shared,
    align: usize,
) -> Result<JobResult, String> {
    let mut buf = slot_buf(a.bs, align, a.seed)?;
    // SAFETY: `buf` outlives `op` (declared before it, dropped after) and
    // is only touched through the op.
    let mut op = unsafe { Op::from_raw_parts(Arc::clone(target), buf.as_mut_ptr(), a.bs) };
    let mut res = JobResult::new();
    while sh.claim() {
        let (kind, off) = workload.next();
        op.prepare(kind, off, a.bs)
            .map_err(|e| format!("prepare: {e}"))?;
        let start = Instant::now();
        match pools.submit(op, SubmitFlags::NONE) {
            Ok(Submitted::Done(back, r)) => {
                res.record(r, start, sh);
                op = back;
            }
            Ok(Submitted::Pending(_)) => return Err("a synchronous op was queued".into()),
            Err(e) => return Err(format!("submit: {}", e.error)),
        }
    }
    drop(op);
    drop(buf);
    Ok(res)
}

/// Where a callback-mode completion is announced: the job's done list.
struct DoneList {
    list: Mutex<Vec<u32>>,
    cv: Condvar,
}

/// What a slot's op carries as private data (callback mode).
struct SlotCtx {
    done: *const DoneList,
    idx: u32,
}

fn on_complete(c: &Completion<'_>) {
    // SAFETY: `private` is the address of a `SlotCtx` that the job keeps
    // alive, with its `DoneList`, until every op it issued is delivered.
    let ctx = unsafe { &*(c.private() as *const SlotCtx) };
    // SAFETY: as above.
    let done = unsafe { &*ctx.done };
    done.list.lock().push(ctx.idx);
    done.cv.notify_one();
}

struct Slot {
    /// The op's memory; kept alive with the op.
    _buf: AlignedBuf,
    op: Option<Op>,
    pending: Option<Pending>,
    start: Instant,
}

/// Callback or ring mode: `iodepth` ops in flight per job.
fn job_async(
    a: &Args,
    target: &Arc<dyn Target>,
    pools: &PoolSet,
    mut workload: Gen,
    sh: &Shared,
    align: usize,
) -> Result<JobResult, String> {
    let depth = a.iodepth;
    let done = Box::new(DoneList {
        list: Mutex::new(Vec::with_capacity(depth)),
        cv: Condvar::new(),
    });
    let ctxs: Vec<SlotCtx> = (0..depth)
        .map(|i| SlotCtx {
            done: &*done as *const DoneList,
            idx: i as u32,
        })
        .collect();
    let (ring, mut reaper): (Option<Arc<CompletionRing>>, Option<Reaper>) = if a.mode == Mode::Ring
    {
        let cap = depth.next_power_of_two().max(2);
        let (r, rp) = CompletionRing::new(cap).map_err(|e| format!("ring: {e}"))?;
        (Some(r), Some(rp))
    } else {
        (None, None)
    };
    let mut slots = Vec::with_capacity(depth);
    for (i, ctx) in ctxs.iter().enumerate() {
        let mut buf = slot_buf(a.bs, align, a.seed ^ i as u64)?;
        // SAFETY: the slot owns `buf` and the op; `job_async` waits for
        // every op to be delivered before the slots are dropped.
        let mut op = unsafe { Op::from_raw_parts(Arc::clone(target), buf.as_mut_ptr(), a.bs) };
        match &ring {
            Some(r) => op.set_ring(Arc::clone(r)),
            None => op.set_callback(on_complete),
        }
        op.set_private(match &ring {
            Some(_) => i,
            None => ctx as *const SlotCtx as usize,
        });
        slots.push(Slot {
            _buf: buf,
            op: Some(op),
            pending: None,
            start: Instant::now(),
        });
    }

    let mut res = JobResult::new();
    let mut outstanding = 0usize;
    let mut idle: Vec<usize> = (0..depth).rev().collect();
    let mut fatal = None;
    let mut ready: Vec<u32> = Vec::with_capacity(depth);
    loop {
        // Fill every idle slot.
        while let Some(&i) = idle.last() {
            if fatal.is_some() || !sh.claim() {
                break;
            }
            let s = &mut slots[i];
            let mut op = s.op.take().expect("idle slot has its op");
            let (kind, off) = workload.next();
            if let Err(e) = op.prepare(kind, off, a.bs) {
                fatal = Some(format!("prepare: {e}"));
                s.op = Some(op);
                break;
            }
            s.start = Instant::now();
            match pools.submit(op, SubmitFlags::NONE) {
                Ok(Submitted::Pending(p)) => {
                    s.pending = Some(p);
                    idle.pop();
                    outstanding += 1;
                }
                Ok(Submitted::Done(..)) => {
                    fatal = Some("an asynchronous op ran synchronously".into());
                    break;
                }
                Err(e) if e.error == Error::EAGAIN && outstanding > 0 => {
                    // Queues full: reap something first.
                    s.op = Some(e.op);
                    break;
                }
                Err(e) => {
                    s.op = Some(e.op);
                    fatal = Some(format!("submit: {}", e.error));
                    break;
                }
            }
        }
        if outstanding == 0 {
            break;
        }
        // Collect completions.
        ready.clear();
        match reaper.as_mut() {
            Some(rp) => {
                rp.reap_wait(depth, None, |e| ready.push(e.user_data as u32));
            }
            None => {
                let mut l = done.list.lock();
                while l.is_empty() {
                    l = done.cv.wait(l);
                }
                ready.extend(l.drain(..));
            }
        }
        for &i in &ready {
            let s = &mut slots[i as usize];
            let p = s.pending.take().expect("completed slot has a pending op");
            // The notification runs just before delivery: this wait is
            // at most that short window.
            let (op, r) = p.wait();
            res.record(r, s.start, sh);
            s.op = Some(op);
            idle.push(i as usize);
            outstanding -= 1;
        }
    }
    drop(slots);
    drop(ctxs);
    drop(done);
    match fatal {
        Some(e) => Err(e),
        None => Ok(res),
    }
}

/// POSIX mode: `iodepth` aiocbs in flight per job through the aio-posix
/// layer on the file's own descriptor, waiting in `aio_suspend`, as a C
/// program would (the library runs its own pools).
fn job_posix(a: &Args, mut workload: Gen, sh: &Shared) -> Result<JobResult, String> {
    use aio_posix::{InProgress, Request};
    use std::os::fd::AsRawFd;
    let DeviceSpec::File { path, direct, .. } = &a.device else {
        return Err("--mode posix needs --device file:PATH".into());
    };
    if *direct {
        return Err("--mode posix reads into unaligned buffers: O_DIRECT is not supported".into());
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| format!("cannot open '{path}': {e}"))?;
    let fd = file.as_raw_fd();
    let mut res = JobResult::new();
    let mut inflight: Vec<(InProgress, Instant)> = Vec::with_capacity(a.iodepth);
    let mut data = vec![0u8; a.bs];
    pattern_fill(&mut data, a.seed);
    loop {
        while inflight.len() < a.iodepth && sh.claim() {
            let (kind, off) = workload.next();
            let req = match kind {
                OpKind::Write => Request::write(fd, off as i64, data.clone()),
                _ => Request::read(fd, off as i64, a.bs),
            };
            let start = Instant::now();
            let sub = match kind {
                OpKind::Write => aio_posix::aio_write(req),
                _ => aio_posix::aio_read(req),
            };
            match sub {
                Ok(p) => inflight.push((p, start)),
                Err(e) => return Err(format!("aio submit: {}", e.error)),
            }
        }
        if inflight.is_empty() {
            break;
        }
        {
            let refs: Vec<&InProgress> = inflight.iter().map(|(p, _)| p).collect();
            match aio_posix::aio_suspend(&refs, Some(Duration::from_secs(30))) {
                Ok(()) => {}
                Err(Error::EINTR) => continue,
                Err(e) => return Err(format!("aio_suspend: {e}")),
            }
        }
        let mut i = 0;
        while i < inflight.len() {
            if inflight[i].0.is_done() {
                let (p, start) = inflight.swap_remove(i);
                match p.try_return() {
                    Ok((_, r)) => res.record(r, start, sh),
                    Err(_) => return Err("a completed op could not be returned".into()),
                }
            } else {
                i += 1;
            }
        }
    }
    Ok(res)
}

/// Pipes with an `aio_read` waiting on each (nothing is ever written):
/// `--blocked-streams`. Dropping it closes the write ends, so the reads
/// end (at EOF) and are collected.
struct Blocked {
    reads: Vec<aio_posix::InProgress>,
    pipes: Vec<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)>,
}

fn block_streams(n: usize) -> Result<Blocked, String> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let mut b = Blocked {
        reads: Vec::with_capacity(n),
        pipes: Vec::with_capacity(n),
    };
    for _ in 0..n {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for two descriptors.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(format!(
                "--blocked-streams: pipe: {}",
                std::io::Error::last_os_error()
            ));
        }
        // SAFETY: both were just created and are owned by nobody else.
        let pair = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let req = aio_posix::Request::read(pair.0.as_raw_fd(), 0, 64);
        let p = aio_posix::aio_read(req)
            .map_err(|e| format!("--blocked-streams: aio_read: {}", e.error))?;
        b.reads.push(p);
        b.pipes.push(pair);
    }
    Ok(b)
}

impl Drop for Blocked {
    fn drop(&mut self) {
        let still = self.reads.iter().filter(|p| !p.is_done()).count();
        if !self.reads.is_empty() {
            eprintln!(
                "aio-bench: {} blocked stream reads, {still} still waiting at the end",
                self.reads.len()
            );
        }
        // Close the write ends: every read completes at EOF.
        let reads = std::mem::take(&mut self.reads);
        let pipes = std::mem::take(&mut self.pipes);
        let (rs, ws): (Vec<_>, Vec<_>) = pipes.into_iter().unzip();
        drop(ws);
        for p in reads {
            let _ = aio_posix::aio_suspend(&[&p], Some(Duration::from_secs(10)));
            let _ = p.try_return();
        }
        drop(rs);
    }
}

fn pattern_fill(buf: &mut [u8], seed: u64) {
    let mut x = seed | 1;
    for chunk in buf.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
}

//! Engines that compose (issue 15): two devices, each with its own
//! completion source, share one worker. A `FileDevice` completes from the
//! worker's io_uring (the home of its engine set, from
//! `PoolConfig::engine_factory`); `QueueDevice` completes from a queue of
//! its own that it adds to the set on first use
//! (`Engines::get_or_insert_with`) and fills from a thread of its own.
//! Every op completes exactly once, with the right bytes, and the worker
//! asleep in its io_uring wakes for a completion in the other source. The
//! same runs with a `BasicEngine` home (the io_uring-refused fallback,
//! where the file device uses its blocking pool).
//!
//! Every wait has a timeout that fails the test; no timing thresholds.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use aio_core::sync::atomic::{AtomicUsize, Ordering};
use aio_core::sync::{Arc, Condvar, Mutex, thread};
use aio_core::{
    Attempt, Completion, Engine, EngineTicket, EngineWaker, Engines, FlushKind, InFlight, Op,
    OpKind, Pending, Result, Strategy, Target, into_dyn,
};
use aio_pool::{Class, PoolConfig, PoolSet, SubmitFlags, Submitted};
use blockdev::{FileDevice, FileOptions, SharedDevice};

const T: Duration = Duration::from_secs(30);

/// Completions announced (callbacks run).
static CALLBACKS: AtomicUsize = AtomicUsize::new(0);

fn count(_: &Completion<'_>) {
    CALLBACKS.fetch_add(1, Ordering::Relaxed);
}

/// What the device thread hands back to one worker's source.
struct Done {
    q: Mutex<VecDeque<(InFlight, Result<usize>)>>,
    /// The set's waker, given to the source when it was added.
    waker: Box<dyn EngineWaker>,
}

/// `QueueDevice`'s completion source in one worker's set: `poll` completes
/// on the worker what the device thread queued.
struct QueueSource {
    done: Arc<Done>,
    /// Ops handed to the device and not yet completed by `poll`.
    pending: usize,
    polled: Arc<AtomicUsize>,
}

impl Engine for QueueSource {
    fn poll(&mut self, budget: usize) -> Result<usize> {
        let mut n = 0;
        while n < budget {
            let Some((op, r)) = self.done.q.lock().pop_front() else {
                break;
            };
            op.complete(r);
            self.pending -= 1;
            n += 1;
        }
        self.polled.fetch_add(n, Ordering::Relaxed);
        Ok(n)
    }
    fn in_flight(&self) -> usize {
        self.pending
    }
    fn wait(&mut self, _: Option<Duration>) -> Result<()> {
        panic!("the set never sleeps in an added source")
    }
    fn waker(&self) -> Box<dyn EngineWaker> {
        panic!("the set never asks an added source for its waker")
    }
    fn ticket(&mut self) -> EngineTicket {
        panic!("the set issues tickets from its home")
    }
}

struct Jobs {
    q: VecDeque<(InFlight, Arc<Done>)>,
    /// The device thread serves jobs only while open.
    open: bool,
    exit: bool,
}

/// A device that answers reads with a pattern of their offset, on a thread
/// of its own, through the completion source of the worker that submitted.
struct QueueDevice {
    jobs: Arc<(Mutex<Jobs>, Condvar)>,
    sources_made: Arc<AtomicUsize>,
    polled: Arc<AtomicUsize>,
}

fn pattern(off: u64, i: usize) -> u8 {
    (off / 4096 + i as u64) as u8
}

impl QueueDevice {
    fn new() -> (Arc<QueueDevice>, thread::JoinHandle<()>) {
        let jobs = Arc::new((
            Mutex::new(Jobs {
                q: VecDeque::new(),
                open: false,
                exit: false,
            }),
            Condvar::new(),
        ));
        let j = Arc::clone(&jobs);
        let h = thread::spawn(move || {
            let (m, cv) = &*j;
            loop {
                let (mut op, to) = {
                    let mut g = m.lock();
                    loop {
                        if g.open
                            && let Some(job) = g.q.pop_front()
                        {
                            break job;
                        }
                        if g.exit {
                            return;
                        }
                        g = cv.wait(g);
                    }
                };
                let off = op.offset();
                for (i, b) in op.buf_mut().iter_mut().enumerate() {
                    *b = pattern(off, i);
                }
                let len = op.len();
                to.q.lock().push_back((op, Ok(len)));
                to.waker.wake();
            }
        });
        let d = Arc::new(QueueDevice {
            jobs,
            sources_made: Arc::new(AtomicUsize::new(0)),
            polled: Arc::new(AtomicUsize::new(0)),
        });
        (d, h)
    }

    fn set_open(&self, open: bool) {
        self.jobs.0.lock().open = open;
        self.jobs.1.notify_all();
    }

    fn stop(&self) {
        self.jobs.0.lock().exit = true;
        self.jobs.1.notify_all();
    }
}

impl Target for QueueDevice {
    fn read_at(&self, _: &mut [u8], _: u64) -> Attempt<Result<usize>> {
        unreachable!("ops go through the strategy routine")
    }
    fn write_at(&self, _: &[u8], _: u64) -> Attempt<Result<usize>> {
        unreachable!("ops go through the strategy routine")
    }
    fn flush(&self, _: FlushKind) -> Attempt<Result<()>> {
        Attempt::Ready(Ok(()))
    }
    fn strategy(&self) -> Option<&dyn Strategy> {
        Some(self)
    }
}

impl Strategy for QueueDevice {
    fn submit(&self, op: InFlight, engines: &mut Engines) {
        let src = engines.get_or_insert_with(|waker| {
            self.sources_made.fetch_add(1, Ordering::Relaxed);
            QueueSource {
                done: Arc::new(Done {
                    q: Mutex::new(VecDeque::new()),
                    waker,
                }),
                pending: 0,
                polled: Arc::clone(&self.polled),
            }
        });
        src.pending += 1;
        let to = Arc::clone(&src.done);
        self.jobs.0.lock().q.push_back((op, to));
        self.jobs.1.notify_all();
    }
}

fn read(pools: &PoolSet, t: &Arc<dyn Target>, off: u64) -> Pending {
    let mut op = Op::new(Arc::clone(t), vec![0; 4096]);
    op.prepare(OpKind::Read, off, 4096).unwrap();
    op.set_callback(count);
    match pools.submit(op, SubmitFlags::NO_INLINE) {
        Ok(Submitted::Pending(p)) => p,
        other => panic!("submit: {other:?}"),
    }
}

fn done(p: Pending, what: &str) -> (Op, Result<usize>) {
    assert!(p.wait_timeout(T), "{what} never completed");
    p.wait()
}

fn scratch(tag: &str) -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let p = dir.join(format!("engines-{tag}-{}.dat", std::process::id()));
    let data: Vec<u8> = (0..64 * 4096)
        .map(|i| pattern((i / 4096) as u64 * 4096, i % 4096) ^ 0x5a)
        .collect();
    std::fs::write(&p, data).unwrap();
    p
}

/// The read worker's sleeps and wake-ups.
fn read_sleeps(pools: &PoolSet) -> (u64, u64) {
    let s = pools
        .stats()
        .into_iter()
        .find(|s| s.class == Class::Read)
        .unwrap();
    (s.sleeps, s.wakeups)
}

fn two_sources_on_one_worker(uring_home: bool) {
    let pc = PoolConfig::default().pools_per_class(1);
    let pc = if uring_home {
        pc.engine_factory(|| Box::new(blockdev::UringEngine::new(64).expect("io_uring")))
    } else {
        pc.engine_factory(|| Box::new(aio_core::BasicEngine::new()))
    };
    let pools = PoolSet::new(pc).unwrap();
    let path = scratch(if uring_home { "uring" } else { "basic" });
    let file = into_dyn(FileDevice::open(&path, FileOptions::new()).unwrap());
    let (qd, qh) = QueueDevice::new();
    let queue = SharedDevice::target(&qd);
    let before = CALLBACKS.load(Ordering::Relaxed);

    // 1. Queue reads held by the device; file reads complete meanwhile.
    let held: Vec<Pending> = (0..8).map(|i| read(&pools, &queue, i * 4096)).collect();
    let files: Vec<Pending> = (0..32).map(|i| read(&pools, &file, i * 4096)).collect();
    for (i, p) in files.into_iter().enumerate() {
        let (op, r) = done(p, &format!("file read {i}"));
        assert_eq!(r, Ok(4096));
        assert!(
            op.buf()
                .iter()
                .enumerate()
                .all(|(k, b)| *b == pattern(i as u64 * 4096, k) ^ 0x5a)
        );
    }
    // 2. The worker has the held reads in flight in the queue source and
    //    nothing else to do: it falls asleep in its home (the io_uring,
    //    or the BasicEngine's doorbell).
    let t0 = Instant::now();
    loop {
        let (sleeps, wakeups) = read_sleeps(&pools);
        if sleeps > wakeups {
            break;
        }
        assert!(t0.elapsed() < T, "the read worker never fell asleep");
        aio_core::sync::thread::yield_now();
    }
    // 3. Only the queue source's waker can wake it now.
    qd.set_open(true);
    for (i, p) in held.into_iter().enumerate() {
        let (op, r) = done(p, &format!("held queue read {i}"));
        assert_eq!(r, Ok(4096));
        assert!(
            op.buf()
                .iter()
                .enumerate()
                .all(|(k, b)| *b == pattern(i as u64 * 4096, k))
        );
    }
    // 4. Both devices at once, interleaved.
    let mixed: Vec<(bool, u64, Pending)> = (0..400u64)
        .map(|i| {
            let off = (i % 64) * 4096;
            let on_file = i % 3 != 0;
            (
                on_file,
                off,
                read(&pools, if on_file { &file } else { &queue }, off),
            )
        })
        .collect();
    let n = mixed.len() + 8 + 32;
    let queued = mixed.iter().filter(|m| !m.0).count() + 8;
    for (i, (on_file, off, p)) in mixed.into_iter().enumerate() {
        let (op, r) = done(p, &format!("mixed read {i}"));
        assert_eq!(r, Ok(4096));
        let x = if on_file { 0x5a } else { 0 };
        assert!(
            op.buf()
                .iter()
                .enumerate()
                .all(|(k, b)| *b == pattern(off, k) ^ x)
        );
    }
    // Every op's completion was announced once; every queue op was
    // completed by its source's `poll`, on the worker; one source per
    // worker that served the device.
    assert_eq!(CALLBACKS.load(Ordering::Relaxed) - before, n);
    assert_eq!(qd.polled.load(Ordering::Relaxed), queued);
    assert_eq!(qd.sources_made.load(Ordering::Relaxed), 1);
    pools.shutdown(aio_pool::ShutdownMode::Drain);
    qd.stop();
    qh.join().unwrap();
    std::fs::remove_file(&path).unwrap();
}

/// One test, both homes in turn: `CALLBACKS` is process-wide.
#[test]
fn a_file_and_a_device_with_its_own_queue_share_a_worker() {
    two_sources_on_one_worker(true);
    two_sources_on_one_worker(false);
}

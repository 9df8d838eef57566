//! Test targets and helpers shared by the integration tests.
//!
//! * [`LaterTarget`]: completes ops later, from its own device thread, with
//!   an `EngineTicket` (many ops in flight per worker; the device is a
//!   wake-up producer). It can hold completions back, logs the order in
//!   which ops start and complete, and supports `Strategy::cancel`.
//! * [`NowaitTarget`]: completes every op inside `try_nowait` (the inline
//!   path) or inside `submit`.
//! * [`PanicTarget`]: its `submit` panics.
//! * [`SlowTarget`]: no strategy; every call sleeps a little (so a queue
//!   builds up behind a busy worker).

#![allow(dead_code)]

use std::collections::VecDeque;
use std::time::Duration;

use aio_core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use aio_core::sync::{Arc, Condvar, Mutex, thread};
use aio_core::{
    Attempt, CancelOutcome, EngineTicket, Engines, Error, FlushKind, InFlight, MemTarget, Op,
    OpKey, OpKind, Pending, Result, Strategy, Target, into_dyn,
};

/// How long any test waits for anything before failing.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// Waits for `p` with the test timeout; panics (fails the test) on expiry.
pub fn wait(p: Pending) -> (Op, Result<usize>) {
    assert!(
        p.wait_timeout(TIMEOUT),
        "op not delivered within {TIMEOUT:?}"
    );
    p.wait()
}

/// Polls `cond` until it holds or the test timeout passes (then fails).
/// ([`test_support::wait_until`] with [`TIMEOUT`].)
pub fn wait_until(what: &str, cond: impl FnMut() -> bool) {
    test_support::wait_until(TIMEOUT, what, cond)
}

/// An op on `target` with a buffer of `len` bytes.
pub fn op(target: &Arc<dyn Target>, kind: OpKind, offset: u64, len: usize) -> Op {
    let mut op = Op::new(Arc::clone(target), vec![0xa5; len.max(1)]);
    op.prepare(kind, offset, len).unwrap();
    op
}

/// One event seen by a [`LaterTarget`]: (op id or flush marker, kind,
/// start or done).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ev {
    /// The op was handed to the device.
    Start(u64, OpKind),
    /// The device completed it.
    Done(u64, OpKind),
}

struct LaterState {
    queue: VecDeque<(InFlight, EngineTicket)>,
    held: bool,
    stop: bool,
}

/// Shared part of a [`LaterTarget`].
pub struct LaterInner {
    mem: MemTarget,
    st: Mutex<LaterState>,
    cv: Condvar,
    pub log: Mutex<Vec<Ev>>,
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    pub cancels_accepted: AtomicUsize,
    /// Complete in reverse order of arrival when released (stresses
    /// ordering).
    pub lifo: AtomicBool,
}

/// Releases a held [`LaterInner`] when dropped.
#[must_use = "dropping the guard releases the device"]
pub struct Held<'a>(&'a LaterInner);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// A device that completes ops on its own thread (see module docs).
pub struct LaterTarget {
    pub inner: Arc<LaterInner>,
}

impl LaterTarget {
    /// A device of `size` bytes whose thread runs until the target drops.
    pub fn create(size: usize) -> (Arc<dyn Target>, Arc<LaterInner>) {
        let inner = Arc::new(LaterInner {
            mem: MemTarget::new(size),
            st: Mutex::new(LaterState {
                queue: VecDeque::with_capacity(1024),
                held: false,
                stop: false,
            }),
            cv: Condvar::new(),
            log: Mutex::new(Vec::with_capacity(1 << 16)),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            cancels_accepted: AtomicUsize::new(0),
            lifo: AtomicBool::new(false),
        });
        let dev = Arc::clone(&inner);
        thread::spawn(move || dev.run());
        (
            into_dyn(LaterTarget {
                inner: Arc::clone(&inner),
            }),
            inner,
        )
    }
}

impl Drop for LaterTarget {
    fn drop(&mut self) {
        self.inner.st.lock().stop = true;
        self.inner.cv.notify_all();
    }
}

impl LaterInner {
    /// Holds completions back until [`LaterInner::release`] or until the
    /// guard drops (so a failing test releases the device while unwinding
    /// and its pools can shut down).
    pub fn hold(&self) -> Held<'_> {
        self.st.lock().held = true;
        Held(self)
    }

    /// Lets the device thread complete ops again.
    pub fn release(&self) {
        self.st.lock().held = false;
        self.cv.notify_all();
    }

    /// Ops the device holds now.
    pub fn queued(&self) -> usize {
        self.st.lock().queue.len()
    }

    pub fn events(&self) -> Vec<Ev> {
        self.log.lock().clone()
    }

    pub fn data(&self) -> Vec<u8> {
        self.mem.snapshot()
    }

    fn run(&self) {
        loop {
            let mut g = self.st.lock();
            while (g.held || g.queue.is_empty()) && !g.stop {
                g = self.cv.wait(g);
            }
            if g.stop && (g.queue.is_empty() || g.held) {
                return;
            }
            let lifo = self.lifo.load(Ordering::Relaxed);
            let (mut f, t) = if lifo {
                g.queue.pop_back().unwrap()
            } else {
                g.queue.pop_front().unwrap()
            };
            drop(g);
            let r = match f.execute() {
                Attempt::Ready(r) => r,
                Attempt::Busy => Err(Error::EAGAIN),
            };
            let (id, kind) = (f.id(), f.kind());
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            self.log.lock().push(Ev::Done(id, kind));
            t.complete(f, r);
        }
    }
}

impl Target for LaterTarget {
    fn read_at(&self, b: &mut [u8], o: u64) -> Attempt<Result<usize>> {
        self.inner.mem.read_at(b, o)
    }
    fn write_at(&self, b: &[u8], o: u64) -> Attempt<Result<usize>> {
        self.inner.mem.write_at(b, o)
    }
    fn flush(&self, k: FlushKind) -> Attempt<Result<()>> {
        self.inner.mem.flush(k)
    }
    fn strategy(&self) -> Option<&dyn Strategy> {
        Some(self)
    }
}

impl Strategy for LaterTarget {
    fn submit(&self, op: InFlight, engine: &mut Engines) {
        let ticket = engine.ticket();
        let n = self.inner.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.inner.max_in_flight.fetch_max(n, Ordering::SeqCst);
        self.inner.log.lock().push(Ev::Start(op.id(), op.kind()));
        self.inner.st.lock().queue.push_back((op, ticket));
        self.inner.cv.notify_all();
    }

    fn cancel(&self, key: OpKey, _engine: &mut Engines) -> CancelOutcome {
        let mut g = self.inner.st.lock();
        let Some(i) = g.queue.iter().position(|(f, _)| f.key() == key) else {
            return CancelOutcome::InFlight;
        };
        let (f, t) = g.queue.remove(i).unwrap();
        drop(g);
        self.inner.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.inner.cancels_accepted.fetch_add(1, Ordering::SeqCst);
        t.complete(f, Err(Error::ECANCELED));
        CancelOutcome::Cancelled
    }
}

/// Completes everything on the spot: inline in `try_nowait` unless
/// `refuse_nowait`, else inside `submit`.
pub struct NowaitTarget {
    pub mem: MemTarget,
    pub refuse_nowait: AtomicBool,
    pub nowait_calls: AtomicUsize,
    pub submit_calls: AtomicUsize,
}

impl NowaitTarget {
    pub fn new(size: usize) -> NowaitTarget {
        NowaitTarget {
            mem: MemTarget::new(size),
            refuse_nowait: AtomicBool::new(false),
            nowait_calls: AtomicUsize::new(0),
            submit_calls: AtomicUsize::new(0),
        }
    }
}

fn run_now(mut f: InFlight) {
    let r = match f.execute() {
        Attempt::Ready(r) => r,
        Attempt::Busy => Err(Error::EAGAIN),
    };
    f.complete(r);
}

impl Target for NowaitTarget {
    fn read_at(&self, b: &mut [u8], o: u64) -> Attempt<Result<usize>> {
        self.mem.read_at(b, o)
    }
    fn write_at(&self, b: &[u8], o: u64) -> Attempt<Result<usize>> {
        self.mem.write_at(b, o)
    }
    fn flush(&self, k: FlushKind) -> Attempt<Result<()>> {
        self.mem.flush(k)
    }
    fn strategy(&self) -> Option<&dyn Strategy> {
        Some(self)
    }
}

impl Strategy for NowaitTarget {
    fn submit(&self, op: InFlight, _engine: &mut Engines) {
        self.submit_calls.fetch_add(1, Ordering::Relaxed);
        run_now(op);
    }
    fn try_nowait(&self, op: InFlight) -> std::result::Result<(), InFlight> {
        self.nowait_calls.fetch_add(1, Ordering::Relaxed);
        if self.refuse_nowait.load(Ordering::Relaxed) {
            return Err(op);
        }
        run_now(op);
        Ok(())
    }
}

/// A device whose `submit` panics for ops at offset [`PanicTarget::BAD`].
pub struct PanicTarget {
    pub mem: MemTarget,
}

impl PanicTarget {
    pub const BAD: u64 = 666;
}

impl Target for PanicTarget {
    fn read_at(&self, b: &mut [u8], o: u64) -> Attempt<Result<usize>> {
        self.mem.read_at(b, o)
    }
    fn write_at(&self, b: &[u8], o: u64) -> Attempt<Result<usize>> {
        self.mem.write_at(b, o)
    }
    fn flush(&self, k: FlushKind) -> Attempt<Result<()>> {
        self.mem.flush(k)
    }
    fn strategy(&self) -> Option<&dyn Strategy> {
        Some(self)
    }
}

impl Strategy for PanicTarget {
    fn submit(&self, op: InFlight, _engine: &mut Engines) {
        if op.offset() == Self::BAD {
            panic!("device handler panics (test)");
        }
        run_now(op);
    }
}

/// No strategy; each call sleeps `delay` first.
pub struct SlowTarget {
    pub mem: MemTarget,
    pub delay: Duration,
}

impl Target for SlowTarget {
    fn read_at(&self, b: &mut [u8], o: u64) -> Attempt<Result<usize>> {
        aio_core::sync::thread::sleep(self.delay);
        self.mem.read_at(b, o)
    }
    fn write_at(&self, b: &[u8], o: u64) -> Attempt<Result<usize>> {
        aio_core::sync::thread::sleep(self.delay);
        self.mem.write_at(b, o)
    }
    fn flush(&self, k: FlushKind) -> Attempt<Result<()>> {
        self.mem.flush(k)
    }
}

/// Pins the calling thread to CPU 0 (for skewed-load tests).
pub fn pin_to_cpu0() {
    assert!(pin_to_cpu(0), "cannot pin the test thread to CPU 0");
}

/// Pins the calling thread to CPU `cpu`; false if the kernel refuses.
pub fn pin_to_cpu(cpu: usize) -> bool {
    // SAFETY: cpu_set_t is plain data; all-zero is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is valid; CPU_SET ignores a CPU past CPU_SETSIZE.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: valid set of the size we pass; pid 0 is this thread.
    unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0 }
}

/// `t` as the `Arc<dyn Target>` ops carry, plus a typed handle on it for
/// the test to inspect. (A std `Arc` is what the shim unsizes from: see
/// `aio_core::sync::arc_from_std`.)
#[allow(clippy::disallowed_types)]
pub fn typed<T: Target + 'static>(t: T) -> (Arc<dyn Target>, std::sync::Arc<T>) {
    let a = std::sync::Arc::new(t);
    (
        aio_core::sync::arc_from_std(a.clone() as std::sync::Arc<dyn Target>),
        a,
    )
}

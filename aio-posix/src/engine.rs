//! The process-wide POSIX AIO instance: the service pools, the descriptor
//! table, the slab core, and the operations every entry point (C or Rust)
//! is built from. All of it works on glibc's `struct aiocb` ([`RawAiocb`]).
//!
//! # Locking
//!
//! ```text
//!   Lock order: Aio::fds alone (never held across a submission).
//!               Slot::st -> (PoolSet::cancel's locks) in aio_cancel only.
//!   Slab::done -> Slab::free (slab.rs). No lock across a callback.
//! ```
//!
//! # Descriptors
//!
//! Each descriptor gets `blockdev::FileDevice`s over the caller's fd (never
//! closed by us), cached by fd number and re-made when `fstat` says the
//! number now names another file. A seekable one (file, block device) has
//! one device: positional reads and writes run in parallel and an fsync
//! follows the writes on it. A stream (pipe, FIFO, socket, pty) has one
//! device per direction, and its ops wait in one FIFO queue per direction
//! (`slab::StreamQ`): FIFO among the reads, FIFO among the writes, and a
//! read waiting for data never
//! holds up a write. Writes and flushes of an `O_APPEND` file are queued
//! too (see `README.md`, "Streams").

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aio_core::sync::atomic::{AtomicUsize, Ordering};
use aio_core::sync::{Arc, Mutex};
use aio_core::{CancelOutcome, Error, Op, OpKind, Result, Target};
use aio_pool::{PoolConfig, PoolSet, SubmitFlags, Submitted};
use blockdev::{BlockingPool, FileDevice, FileOptions};

use crate::abi::{RawAiocb, TAG_RETURNED, TAG_SUBMITTED, field};
use crate::config::Config;
use crate::group::Group;
use crate::notify::{Notification, with_signals_blocked};
use crate::slab::{Core, SlotState, StreamQ, on_complete};
use crate::suspend::Wake;

/// glibc's `AIO_PRIO_DELTA_MAX`: the largest valid `aio_reqprio`.
pub const AIO_PRIO_DELTA_MAX: i32 = 20;

/// What `aio_cancel` achieved (POSIX's three answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelStatus {
    /// `AIO_CANCELED`: every op asked about was cancelled.
    Canceled,
    /// `AIO_NOTCANCELED`: at least one op could not be cancelled.
    NotCanceled,
    /// `AIO_ALLDONE`: every op had already completed.
    AllDone,
}

impl CancelStatus {
    /// The C value.
    pub fn to_c(self) -> i32 {
        match self {
            CancelStatus::Canceled => libc::AIO_CANCELED,
            CancelStatus::NotCanceled => libc::AIO_NOTCANCELED,
            CancelStatus::AllDone => libc::AIO_ALLDONE,
        }
    }
}

/// How a sleep for completions (`aio_suspend`, `LIO_WAIT`) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SuspendEnd {
    /// An op completed (or one was complete already).
    Ready,
    /// `EAGAIN`.
    TimedOut,
    /// `EINTR`.
    Interrupted,
}

struct FdEntry {
    dev: u64,
    ino: u64,
    fmt: u32,
    seekable: bool,
    read: Arc<dyn Target>,
    write: Arc<dyn Target>,
    /// FIFO queues: reads and writes of a stream; `O_APPEND` writes.
    read_q: Arc<StreamQ>,
    write_q: Arc<StreamQ>,
}

/// Where an op goes.
struct Route {
    target: Arc<dyn Target>,
    seekable: bool,
    /// The FIFO queue it must wait in (streams, `O_APPEND` writes).
    stream: Option<Arc<StreamQ>>,
}

/// What `cancel_locked` found.
enum Cancel {
    Done(CancelStatus),
    /// The op is between its stream queue and the pools: retry.
    Retry,
}

/// [`Core`]'s way to submit a released stream op: to the process-wide
/// pools (a released op belongs to the live instance; a fork child never
/// runs the parent's callbacks). `ADMITTED`: the program was told the op
/// was accepted, so it must not be refused for queue room now (the slab
/// bounds such ops); only a shutdown can refuse it.
fn resubmit(op: Op) -> std::result::Result<aio_core::Pending, (Op, Error)> {
    match global() {
        Ok(aio) => match aio
            .pools
            .submit(op, SubmitFlags::NO_INLINE | SubmitFlags::ADMITTED)
        {
            Ok(Submitted::Pending(p)) => Ok(p),
            Ok(Submitted::Done(op, _)) => Err((op, Error::EIO)),
            Err(e) => Err((e.op, Error::EAGAIN)),
        },
        Err(e) => Err((op, e)),
    }
}

/// The process-wide instance.
pub(crate) struct Aio {
    pub(crate) core: Core,
    pools: PoolSet,
    fds: Mutex<HashMap<i32, FdEntry>>,
    blocking: Arc<BlockingPool>,
    pub(crate) cfg: Config,
}

fn fstat(fd: i32) -> Result<libc::stat> {
    // SAFETY: plain C struct filled by the kernel.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a local.
    if unsafe { libc::fstat(fd, &mut st) } < 0 {
        return Err(Error::last_os_error());
    }
    Ok(st)
}

/// `EBADF` unless `fd` is an open descriptor.
pub(crate) fn check_fd(fd: i32) -> Result<()> {
    // SAFETY: plain syscall.
    if fd < 0 || unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(Error::EBADF);
    }
    Ok(())
}

impl Aio {
    /// Builds an instance: the pools (workers start with every signal
    /// blocked, so process-directed signals reach the application's
    /// threads) and an empty slab.
    pub(crate) fn new(cfg: Config) -> Result<Aio> {
        let depth = cfg.queue_depth;
        // Workers (and their rings) start with the first op of their
        // class, on the submitting thread: block every signal around the
        // spawn so they start with signals blocked, as they did when all
        // of them started here.
        let mut pc = PoolConfig::default()
            .engine_factory(move || blockdev::new_engine(depth))
            .spawn_with(|f| with_signals_blocked(f));
        if let Some(t) = cfg.threads {
            pc = pc.pools_per_class(t);
        }
        pc.pin = cfg.pin;
        let pools = with_signals_blocked(|| PoolSet::new(pc))?;
        Ok(Aio {
            core: Core::new(cfg.max_ops, cfg.notify_threads, resubmit),
            pools,
            fds: Mutex::new(HashMap::new()),
            blocking: BlockingPool::new(4),
            cfg,
        })
    }

    /// Stops the pools and the notification threads (an instance that
    /// lost the race to become the global one; the global instance lives
    /// until the process ends).
    pub(crate) fn shutdown(&self) {
        self.pools.shutdown(aio_pool::ShutdownMode::Drain);
        self.core.dispatch.shutdown();
    }

    fn route(&self, fd: i32, kind: OpKind) -> Result<Route> {
        let st = fstat(fd)?;
        let fmt = st.st_mode & libc::S_IFMT;
        let mut fds = self.fds.lock();
        let fresh = fds
            .get(&fd)
            .is_some_and(|e| e.dev == st.st_dev && e.ino == st.st_ino && e.fmt == fmt);
        if !fresh {
            let opts = FileOptions::new().pool(Arc::clone(&self.blocking));
            // SAFETY: POSIX requires the descriptor to stay open while ops
            // on it are in flight; the device never closes it, and an op
            // on a descriptor closed too early fails with EBADF.
            let mk = || unsafe { FileDevice::from_raw_fd(fd, opts.clone()) };
            let d = mk()?;
            let seekable = d.is_seekable();
            let read = aio_core::into_dyn(d);
            let write = if seekable {
                Arc::clone(&read)
            } else {
                aio_core::into_dyn(mk()?)
            };
            fds.insert(
                fd,
                FdEntry {
                    dev: st.st_dev,
                    ino: st.st_ino,
                    fmt,
                    seekable,
                    read,
                    write,
                    read_q: Arc::new(StreamQ::default()),
                    write_q: Arc::new(StreamQ::default()),
                },
            );
        }
        let e = fds.get(&fd).expect("inserted above");
        let (target, q) = match kind {
            OpKind::Read => (Arc::clone(&e.read), &e.read_q),
            _ => (Arc::clone(&e.write), &e.write_q),
        };
        let seekable = e.seekable;
        // Streams queue every op (reads in the read queue; writes and
        // flushes in the write queue). Files queue their writes and
        // flushes only with O_APPEND: the appends must land in order, and
        // a flush must follow the appends still waiting in the queue
        // (which the pools' fsync barrier cannot see).
        let ordered = !seekable
            || (kind != OpKind::Read && {
                // SAFETY: plain syscall.
                let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
                fl >= 0 && fl & libc::O_APPEND != 0
            });
        let stream = ordered.then(|| Arc::clone(q));
        drop(fds);
        Ok(Route {
            target,
            seekable,
            stream,
        })
    }

    /// Submits one op described by `cb` (`aio_read`, `aio_write`,
    /// `aio_fsync`, a `lio_listio` entry).
    ///
    /// # Safety
    /// `cb` is null or points at a valid aiocb whose buffer stays valid,
    /// like the aiocb, until the op completes.
    pub(crate) unsafe fn submit(
        &self,
        cb: *mut RawAiocb,
        kind: OpKind,
        group: Option<&Arc<Group>>,
    ) -> Result<()> {
        if cb.is_null() {
            return Err(Error::EINVAL);
        }
        // SAFETY: the caller promises a valid aiocb.
        let c = unsafe { &*cb };
        // SAFETY: as above.
        let (tag, err) = unsafe {
            (
                field::word(cb, 0, Ordering::Acquire),
                field::error(cb, Ordering::Acquire),
            )
        };
        if tag == TAG_SUBMITTED && err == libc::EINPROGRESS {
            return Err(Error::EINVAL); // resubmitted while in flight
        }
        if c.aio_reqprio < 0 || c.aio_reqprio > AIO_PRIO_DELTA_MAX {
            return Err(Error::EINVAL);
        }
        let notify = Notification::from_raw(&c.aio_sigevent)?;
        let fd = c.aio_fildes;
        let route = self.route(fd, kind)?;
        let (offset, len) = if kind.is_transfer() {
            if c.aio_nbytes > isize::MAX as usize {
                return Err(Error::EINVAL);
            }
            if c.aio_buf.is_null() && c.aio_nbytes > 0 {
                return Err(Error::from_errno(libc::EFAULT));
            }
            if route.seekable {
                if c.aio_offset < 0 {
                    return Err(Error::EINVAL);
                }
                if (c.aio_offset as u64)
                    .checked_add(c.aio_nbytes as u64)
                    .is_none_or(|e| e > i64::MAX as u64)
                {
                    return Err(Error::EOVERFLOW);
                }
                (c.aio_offset as u64, c.aio_nbytes)
            } else {
                (0, c.aio_nbytes)
            }
        } else {
            (0, 0)
        };
        let idx = self.core.slab.alloc().ok_or(Error::EAGAIN)?;
        let slot = &self.core.slab.slots[idx as usize];
        let (mut op, generation) = {
            let mut st = slot.st.lock();
            let op = st
                .op
                .take()
                .unwrap_or_else(|| Op::new(Arc::clone(&route.target), Vec::new()));
            st.fd = fd;
            st.aiocb = cb as usize;
            st.target = Some(Arc::clone(&route.target));
            (op, st.generation)
        };
        op.set_target(Arc::clone(&route.target));
        // SAFETY: the caller keeps `aio_buf` valid for `aio_nbytes` bytes
        // until the op completes, and does not touch it meanwhile.
        unsafe { op.set_raw_buf(c.aio_buf.cast(), len) };
        if let Err(e) = op.prepare(kind, offset, len) {
            slot.st.lock().op = Some(op);
            self.core.slab.free(idx);
            return Err(e);
        }
        op.set_callback(on_complete);
        op.set_private(self.core.private_of(idx));
        let id = op.id();
        slot.st.lock().id = id;
        if let Some(g) = group {
            g.add();
        }
        self.core
            .set_info(idx, cb, notify, group.map(Arc::clone), route.stream.clone());
        // SAFETY: the aiocb is valid (caller); these are its state fields,
        // published before the op can complete.
        unsafe {
            field::set_ret(cb, 0);
            field::set_error(cb, libc::EINPROGRESS, Ordering::Relaxed);
            field::set_word(cb, 1, idx, Ordering::Relaxed);
            field::set_word(cb, 2, generation, Ordering::Relaxed);
            field::set_word(cb, 0, TAG_SUBMITTED, Ordering::Release);
        }
        let mut flags = SubmitFlags::NONE;
        if let Some(q) = &route.stream {
            // FIFO per stream and direction: wait behind the active op, or
            // become it. Under the slot lock, so aio_cancel sees the op
            // either parked in the queue or not parked at all.
            let mut st = slot.st.lock();
            match q.admit(idx, op) {
                None => {
                    st.parked = Some(Arc::clone(q));
                    return Ok(());
                }
                Some(back) => op = back,
            }
            drop(st);
            flags = SubmitFlags::NO_INLINE;
        }
        match self.pools.submit(op, flags) {
            Ok(Submitted::Pending(p)) => {
                slot.st.lock().pending = Some(p);
                Ok(())
            }
            Ok(Submitted::Done(op, _)) => {
                // Cannot happen: the op has a callback. Undo.
                self.undo(idx, op, cb, group, route.stream.as_deref());
                Err(Error::EIO)
            }
            Err(e) => {
                // Full queues: EAGAIN, as POSIX says. (ESHUTDOWN cannot
                // happen to the live instance; it is EAGAIN too.)
                self.undo(idx, e.op, cb, group, route.stream.as_deref());
                Err(Error::EAGAIN)
            }
        }
    }

    fn undo(
        &self,
        idx: u32,
        op: Op,
        cb: *mut RawAiocb,
        group: Option<&Arc<Group>>,
        stream: Option<&StreamQ>,
    ) {
        let slot = &self.core.slab.slots[idx as usize];
        {
            let mut st = slot.st.lock();
            st.op = Some(op);
            st.target = None;
            st.aiocb = 0;
            st.fd = -1;
        }
        // Drop the group reference the slot took (never the last: the
        // submitter holds one).
        self.core
            .set_info(idx, std::ptr::null_mut(), Notification::None, None, None);
        if let Some(g) = group {
            g.put();
        }
        self.core.slab.free(idx);
        // SAFETY: the aiocb is valid (the caller of `submit`).
        unsafe {
            field::set_word(cb, 0, 0, Ordering::Release);
            field::set_error(cb, 0, Ordering::Relaxed);
        }
        // The refused op was its stream queue's active op: pass the turn.
        if let Some(q) = stream {
            self.core.release(q);
        }
    }

    /// `aio_cancel(fd, cb)` for one aiocb.
    ///
    /// # Safety
    /// `cb` points at a valid aiocb.
    pub(crate) unsafe fn cancel_one(&self, fd: i32, cb: *mut RawAiocb) -> Result<CancelStatus> {
        check_fd(fd)?;
        // SAFETY: the caller promises a valid aiocb.
        let (cfd, tag, err, idx, generation) = unsafe {
            (
                (*cb).aio_fildes,
                field::word(cb, 0, Ordering::Acquire),
                field::error(cb, Ordering::Acquire),
                field::word(cb, 1, Ordering::Relaxed),
                field::word(cb, 2, Ordering::Relaxed),
            )
        };
        if cfd != fd {
            return Err(Error::EINVAL);
        }
        if tag != TAG_SUBMITTED || err != libc::EINPROGRESS {
            return Ok(CancelStatus::AllDone);
        }
        let Some(slot) = self.core.slab.slots.get(idx as usize) else {
            return Ok(CancelStatus::AllDone);
        };
        loop {
            let mut st = slot.st.lock();
            if st.generation != generation || st.aiocb != cb as usize {
                return Ok(CancelStatus::AllDone);
            }
            match self.cancel_locked(&mut st, idx) {
                Cancel::Done(s) => return Ok(s),
                Cancel::Retry => {
                    drop(st);
                    aio_core::sync::thread::yield_now();
                }
            }
        }
    }

    /// Cancels the op of a locked slot: removed from its stream queue and
    /// completed at once, or cancelled through the pools (and waited for,
    /// so that `aio_error` says `ECANCELED` on return).
    fn cancel_locked(&self, st: &mut SlotState, idx: u32) -> Cancel {
        if let Some(q) = st.parked.clone() {
            return match q.remove(idx) {
                Some(op) => {
                    self.core
                        .complete_unsubmitted(st, idx, op, Error::ECANCELED);
                    Cancel::Done(CancelStatus::Canceled)
                }
                // Released by the op ahead of it, not yet submitted.
                None => Cancel::Retry,
            };
        }
        let (Some(p), Some(t)) = (&st.pending, &st.target) else {
            return Cancel::Done(CancelStatus::AllDone);
        };
        if p.is_complete() {
            return Cancel::Done(CancelStatus::AllDone);
        }
        Cancel::Done(match self.pools.cancel(p, t, st.id) {
            CancelOutcome::Cancelled => {
                // A device cancel completes the op soon, on its worker.
                while !p.wait_timeout(Duration::from_secs(10)) {}
                CancelStatus::Canceled
            }
            CancelOutcome::InFlight => CancelStatus::NotCanceled,
            CancelOutcome::AlreadyDone => CancelStatus::AllDone,
        })
    }

    /// `aio_cancel(fd, NULL)`: every op in flight on `fd`.
    pub(crate) fn cancel_fd(&self, fd: i32) -> Result<CancelStatus> {
        check_fd(fd)?;
        let (mut cancelled, mut not) = (0, 0);
        for (idx, slot) in self.core.slab.slots.iter().enumerate() {
            loop {
                let mut st = slot.st.lock();
                let live =
                    st.parked.is_some() || st.pending.as_ref().is_some_and(|p| !p.is_complete());
                if st.fd != fd || !live {
                    break;
                }
                match self.cancel_locked(&mut st, idx as u32) {
                    Cancel::Done(CancelStatus::Canceled) => cancelled += 1,
                    Cancel::Done(CancelStatus::NotCanceled) => not += 1,
                    Cancel::Done(CancelStatus::AllDone) => {}
                    Cancel::Retry => {
                        drop(st);
                        aio_core::sync::thread::yield_now();
                        continue;
                    }
                }
                break;
            }
        }
        Ok(if not > 0 {
            CancelStatus::NotCanceled
        } else if cancelled > 0 {
            CancelStatus::Canceled
        } else {
            CancelStatus::AllDone
        })
    }

    /// Sleeps until `ready()` holds, `deadline` passes or a signal
    /// arrives. `ready` is checked after taking a ticket, so a completion
    /// between the check and the sleep is never missed.
    pub(crate) fn sleep_until(
        &self,
        deadline: Option<Instant>,
        mut ready: impl FnMut() -> bool,
    ) -> SuspendEnd {
        loop {
            let t = self.core.events.ticket();
            if ready() {
                return SuspendEnd::Ready;
            }
            match self.core.events.wait(t, deadline) {
                Wake::Changed => {}
                Wake::TimedOut => return SuspendEnd::TimedOut,
                Wake::Interrupted => return SuspendEnd::Interrupted,
            }
        }
    }

    /// `lio_listio`. Returns the error to report, if any.
    ///
    /// # Safety
    /// `list` holds `nent` pointers, each null or a valid aiocb (with its
    /// buffer) that stays valid until its op completes.
    pub(crate) unsafe fn listio(
        &self,
        wait: bool,
        list: &[*mut RawAiocb],
        sig: Notification,
    ) -> Result<()> {
        let group = Arc::new(Group::new(if wait { Notification::None } else { sig }));
        let (mut eagain, mut failed) = (false, false);
        for &cb in list {
            if cb.is_null() {
                continue;
            }
            // SAFETY: the caller promises valid aiocbs.
            let opcode = unsafe { (*cb).aio_lio_opcode };
            let kind = match opcode {
                libc::LIO_NOP => continue,
                libc::LIO_READ => Some(OpKind::Read),
                libc::LIO_WRITE => Some(OpKind::Write),
                _ => None,
            };
            // An entry still in flight from an earlier submission is refused
            // without touching it: its status belongs to that op, whose
            // completion will write it, after which the program may free
            // the aiocb. (Writing EINVAL here let the program free it while
            // the op still ran: a use after free, tests/c/lio_inflight.c.)
            // SAFETY: valid aiocb (caller).
            if unsafe { in_flight(cb) } {
                failed = true;
                continue;
            }
            let r = match kind {
                // SAFETY: as above.
                Some(k) => unsafe { self.submit(cb, k, Some(&group)) },
                None => Err(Error::EINVAL),
            };
            if let Err(e) = r {
                eagain |= e == Error::EAGAIN;
                failed = true;
                // SAFETY: valid aiocb (caller).
                if unsafe { in_flight(cb) } {
                    // Submitted concurrently by another thread: not ours.
                    continue;
                }
                // The entry's own status says why (aio_error / aio_return).
                // SAFETY: valid aiocb (caller).
                unsafe {
                    field::set_ret(cb, -1);
                    field::set_error(cb, e.errno(), Ordering::Relaxed);
                    field::set_word(cb, 0, TAG_SUBMITTED, Ordering::Release);
                }
            }
        }
        if group.put() {
            group.notify.send(&self.core.dispatch);
        }
        if wait {
            let end = self.sleep_until(None, || group.is_done());
            if end == SuspendEnd::Interrupted {
                return Err(Error::EINTR);
            }
            for &cb in list {
                if cb.is_null() {
                    continue;
                }
                // SAFETY: valid aiocbs (caller); the group is done, so their
                // error codes are final.
                let (opcode, err) =
                    unsafe { ((*cb).aio_lio_opcode, field::error(cb, Ordering::Acquire)) };
                if opcode != libc::LIO_NOP && err != 0 {
                    failed = true;
                }
            }
        }
        if eagain {
            Err(Error::EAGAIN)
        } else if failed {
            Err(Error::EIO)
        } else {
            Ok(())
        }
    }
}

/// `aio_error` on a raw aiocb.
///
/// # Safety
/// `cb` is null or points at a valid aiocb.
pub(crate) unsafe fn error_of(cb: *const RawAiocb) -> Result<i32> {
    if cb.is_null() {
        return Err(Error::EINVAL);
    }
    // SAFETY: valid aiocb (caller).
    if unsafe { field::word(cb, 0, Ordering::Acquire) } != TAG_SUBMITTED {
        return Err(Error::EINVAL);
    }
    // SAFETY: as above. Acquire: pairs with the completer's Release.
    Ok(unsafe { field::error(cb, Ordering::Acquire) })
}

/// `aio_return` on a raw aiocb.
///
/// # Safety
/// `cb` is null or points at a valid aiocb.
pub(crate) unsafe fn return_of(cb: *mut RawAiocb) -> Result<isize> {
    // SAFETY: forwarded.
    let e = unsafe { error_of(cb)? };
    if e == libc::EINPROGRESS {
        return Err(Error::EINPROGRESS);
    }
    // SAFETY: valid aiocb; the error code was read with Acquire, so the
    // return value written before it is visible.
    unsafe {
        let r = field::ret(cb);
        field::set_word(cb, 0, TAG_RETURNED, Ordering::Release);
        Ok(r)
    }
}

/// Whether an aiocb no longer counts as in progress for `aio_suspend`.
///
/// # Safety
/// `cb` points at a valid aiocb.
pub(crate) unsafe fn is_settled(cb: *const RawAiocb) -> bool {
    // SAFETY: valid aiocb (caller).
    unsafe {
        field::word(cb, 0, Ordering::Acquire) != TAG_SUBMITTED
            || field::error(cb, Ordering::Acquire) != libc::EINPROGRESS
    }
}

// ---------------------------------------------------------------------------
// The process-wide instance, and fork.
// ---------------------------------------------------------------------------

/// The instance's address (0: not built yet, or a fork child's fresh start).
static GLOBAL: AtomicUsize = AtomicUsize::new(0);
/// Set by `aio_init` before the instance exists.
static PENDING_CONFIG: Mutex<Option<Config>> = Mutex::new(None);
static ATFORK: std::sync::Once = std::sync::Once::new();

extern "C" fn atfork_child() {
    // The child has none of the parent's threads: forget the parent's
    // instance (its memory stays, untouched) and build a fresh one on the
    // first call. The parent's ops complete in the parent.
    GLOBAL.store(0, Ordering::Release);
    crate::ffi::reset_counters();
}

/// Records `aio_init`'s limits for the instance about to be built.
pub(crate) fn set_pending_config(cfg: Config) {
    *PENDING_CONFIG.lock() = Some(cfg);
}

/// The process-wide instance, built on first use.
pub(crate) fn global() -> Result<&'static Aio> {
    let p = GLOBAL.load(Ordering::Acquire);
    if p != 0 {
        // SAFETY: a published instance is never freed.
        return Ok(unsafe { &*(p as *const Aio) });
    }
    global_slow()
}

#[cold]
fn global_slow() -> Result<&'static Aio> {
    ATFORK.call_once(|| {
        // SAFETY: registers a plain extern "C" function.
        unsafe { libc::pthread_atfork(None, None, Some(atfork_child)) };
    });
    let cfg = PENDING_CONFIG
        .lock()
        .clone()
        .unwrap_or_else(Config::from_env);
    let aio = Box::new(Aio::new(cfg)?);
    let ptr = Box::into_raw(aio) as usize;
    match GLOBAL.compare_exchange(0, ptr, Ordering::AcqRel, Ordering::Acquire) {
        // SAFETY: just published; never freed.
        Ok(_) => Ok(unsafe { &*(ptr as *const Aio) }),
        Err(other) => {
            // Another thread won: stop and free ours.
            // SAFETY: `ptr` came from Box::into_raw and was never shared.
            let mine = unsafe { Box::from_raw(ptr as *mut Aio) };
            mine.shutdown();
            drop(mine);
            // SAFETY: the winner's instance is never freed.
            Ok(unsafe { &*(other as *const Aio) })
        }
    }
}

/// Whether `cb` holds an op of ours that has not completed yet.
///
/// # Safety
/// `cb` must point at a valid aiocb.
unsafe fn in_flight(cb: *const RawAiocb) -> bool {
    // SAFETY: the caller promises a valid aiocb.
    let (tag, err) = unsafe {
        (
            field::word(cb, 0, Ordering::Acquire),
            field::error(cb, Ordering::Acquire),
        )
    };
    tag == TAG_SUBMITTED && err == libc::EINPROGRESS
}

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

use aio_core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use aio_core::sync::{Arc, Mutex};
use aio_core::{CancelOutcome, Error, Op, OpKind, Result, Target};
use aio_pool::{PoolConfig, PoolSet, SubmitFlags, Submitted};
use blockdev::{BlockingPool, FileDevice, FileOptions};

use crate::abi::{
    Fields, RawAiocb, TAG_RETURNED, TAG_SUBMITTED, W_GEN, W_INSTANCE, W_SLOT, W_TAG, field,
};
use crate::config::Config;
use crate::group::Group;
use crate::notify::{Deferred, Notification, was_sent, with_signals_blocked};
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
    /// This incarnation's number (see [`W_INSTANCE`]).
    instance: u32,
}

/// The last instance number handed out (a fork child continues from its
/// parent's, so the two never share one).
static INSTANCES: AtomicU32 = AtomicU32::new(0);

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
            instance: INSTANCES.fetch_add(1, Ordering::Relaxed).wrapping_add(1),
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
    /// Errors are split as glibc splits them (see `README.md`,
    /// "Differences from glibc"): what the call itself can tell (a NULL or
    /// misaligned aiocb, one still in flight, a bad `aio_reqprio`, a bad
    /// sigevent, no room, and for `aio_fsync` a closed descriptor) fails
    /// the call; everything about the transfer (a closed or wrong-mode
    /// descriptor, a bad offset or length, a NULL buffer) is the op's
    /// result, reported by `aio_error` after the notification, exactly as
    /// the kernel would report it to `pread`/`pwrite`.
    ///
    /// `inline_left`: bytes this call may still transfer in the calling
    /// thread (the inline attempt is for small ops; `lio_listio` shares one
    /// budget across its list). `closed_fd`: a descriptor found closed
    /// before this call built the instance (see [`global_for`]).
    ///
    /// # Safety
    /// `cb` is null or points at a valid aiocb whose buffer stays valid,
    /// like the aiocb, until the op completes.
    pub(crate) unsafe fn submit(
        &self,
        cb: *mut RawAiocb,
        kind: OpKind,
        group: Option<&Arc<Group>>,
        inline_left: &mut usize,
        closed_fd: Option<i32>,
    ) -> Result<()> {
        if cb.is_null() || !(cb as usize).is_multiple_of(std::mem::align_of::<RawAiocb>()) {
            return Err(Error::EINVAL);
        }
        // SAFETY: a valid, aligned aiocb (caller).
        if unsafe { self.in_flight(cb) } {
            return Err(Error::EINVAL); // resubmitted while in flight
        }
        // SAFETY: valid aiocb; each field is read once, through the raw
        // pointer (no reference to memory a completer may write).
        let req = unsafe { Fields::read(cb) };
        if kind.is_transfer() && !(0..=AIO_PRIO_DELTA_MAX).contains(&req.reqprio) {
            // As glibc: the call fails and the aiocb says so too.
            // SAFETY: valid aiocb, not in flight.
            unsafe { self.set_final(cb, Error::EINVAL) };
            return Err(Error::EINVAL);
        }
        let notify = Notification::from_raw(&req.sigevent)?;
        if !kind.is_transfer() {
            // aio_fsync: only aio_fildes and aio_sigevent count; a closed
            // descriptor fails the call (glibc and FreeBSD agree).
            check_fd(req.fd)?;
            if closed_fd == Some(req.fd) {
                return Err(Error::EBADF);
            }
        }
        let reserved = self.core.dispatch.reserve(&notify)?;
        // From here on the op is accepted: an error is its result.
        let fail = |e: Error| {
            // SAFETY: valid aiocb, not in flight (checked above).
            unsafe { self.fail_now(cb, e, notify) };
            Ok(())
        };
        let route = match self.route(req.fd, kind) {
            // The number was closed when the call began; the instance built
            // since may have reused it for its own ring.
            _ if closed_fd == Some(req.fd) => return fail(Error::EBADF),
            Ok(r) => r,
            Err(e) if e == Error::EAGAIN || e == Error::ENOMEM => {
                self.core.dispatch.unreserve(reserved);
                return Err(Error::EAGAIN);
            }
            Err(e) => return fail(e),
        };
        let (offset, len) = if kind.is_transfer() {
            if req.nbytes > isize::MAX as usize {
                // What read(2)/write(2) say: no buffer can be that long,
                // and the kernel checks the range before the count.
                return fail(Error::from_errno(libc::EFAULT));
            }
            if req.buf.is_null() && req.nbytes > 0 {
                return fail(Error::from_errno(libc::EFAULT));
            }
            if route.seekable {
                // What pread/pwrite say about a negative offset or an end
                // past OFF_MAX on a regular file or block device.
                if req.offset < 0
                    || (req.offset as u64)
                        .checked_add(req.nbytes as u64)
                        .is_none_or(|e| e > i64::MAX as u64)
                {
                    return fail(Error::EINVAL);
                }
                (req.offset as u64, req.nbytes)
            } else {
                (0, req.nbytes)
            }
        } else {
            (0, 0)
        };
        let Some(idx) = self.core.slab.alloc() else {
            self.core.dispatch.unreserve(reserved);
            return Err(Error::EAGAIN);
        };
        let slot = &self.core.slab.slots[idx as usize];
        let (mut op, generation) = {
            let mut st = slot.st.lock();
            let op = st
                .op
                .take()
                .unwrap_or_else(|| Op::new(Arc::clone(&route.target), Vec::new()));
            st.fd = req.fd;
            st.aiocb = cb as usize;
            st.target = Some(Arc::clone(&route.target));
            (op, st.generation)
        };
        op.set_target(Arc::clone(&route.target));
        // SAFETY: the caller keeps `aio_buf` valid for `aio_nbytes` bytes
        // until the op completes, and does not touch it meanwhile.
        unsafe { op.set_raw_buf(req.buf.cast(), len) };
        if let Err(e) = op.prepare(kind, offset, len) {
            slot.st.lock().op = Some(op);
            self.core.slab.free(idx);
            return fail(e);
        }
        op.set_callback(on_complete);
        op.set_private(self.core.private_of(idx));
        let id = op.id();
        slot.st.lock().id = id;
        if let Some(g) = group {
            g.add();
        }
        self.core.set_info(
            idx,
            cb,
            notify,
            group.map(Arc::clone),
            route.stream.clone(),
            generation,
        );
        // SAFETY: the aiocb is valid (caller); these are its state fields,
        // published before the op can complete.
        unsafe {
            field::set_ret(cb, 0);
            field::set_error(cb, libc::EINPROGRESS, Ordering::Relaxed);
            field::set_word(cb, W_SLOT, idx, Ordering::Relaxed);
            field::set_word(cb, W_GEN, generation, Ordering::Relaxed);
            field::set_word(cb, W_INSTANCE, self.instance, Ordering::Relaxed);
            field::set_word(cb, W_TAG, TAG_SUBMITTED, Ordering::Release);
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
        // The inline attempt (the pools may run a transfer in this thread
        // when its device can do it without blocking) is for small ops:
        // aio_read must return promptly whatever the size.
        if len > *inline_left {
            flags = flags | SubmitFlags::NO_INLINE;
        } else {
            *inline_left -= len;
        }
        match self.pools.submit(op, flags) {
            Ok(Submitted::Pending(p)) => {
                slot.st.lock().pending = Some(p);
                Ok(())
            }
            Ok(Submitted::Done(op, _)) => {
                // Cannot happen: the op has a callback. Undo.
                self.undo(idx, op, cb, group, route.stream.as_deref());
                self.core.dispatch.unreserve(reserved);
                Err(Error::EIO)
            }
            Err(e) => {
                // Full queues: EAGAIN, as POSIX says. (ESHUTDOWN cannot
                // happen to the live instance; it is EAGAIN too.)
                self.undo(idx, e.op, cb, group, route.stream.as_deref());
                self.core.dispatch.unreserve(reserved);
                Err(Error::EAGAIN)
            }
        }
    }

    /// Whether `cb` holds an op of this instance that has not completed.
    /// (An aiocb copied into a fork child, or never submitted, does not.)
    ///
    /// # Safety
    /// `cb` points at a valid, aligned aiocb.
    pub(crate) unsafe fn in_flight(&self, cb: *const RawAiocb) -> bool {
        // SAFETY: the caller promises a valid aiocb.
        unsafe {
            field::word(cb, W_TAG, Ordering::Acquire) == TAG_SUBMITTED
                && field::error(cb, Ordering::Acquire) == libc::EINPROGRESS
                && field::word(cb, W_INSTANCE, Ordering::Relaxed) == self.instance
        }
    }

    /// Gives an aiocb that is not in flight a final status without running
    /// anything: `aio_error` says `e`, `aio_return` -1.
    ///
    /// # Safety
    /// `cb` points at a valid aiocb that is not in flight.
    unsafe fn set_final(&self, cb: *mut RawAiocb, e: Error) {
        // SAFETY: as the caller promises.
        unsafe {
            field::set_ret(cb, -1);
            field::set_error(cb, e.errno(), Ordering::Relaxed);
            field::set_word(cb, W_SLOT, u32::MAX, Ordering::Relaxed);
            field::set_word(cb, W_INSTANCE, self.instance, Ordering::Relaxed);
            field::set_word(cb, W_TAG, TAG_SUBMITTED, Ordering::Release);
        }
    }

    /// Accepts an aiocb whose op fails at once with `e` (its notification
    /// is sent when it is valid and has a dispatcher credit).
    ///
    /// # Safety
    /// `cb` points at a valid, aligned aiocb.
    unsafe fn accept_failed(&self, cb: *mut RawAiocb, e: Error) {
        // SAFETY: as the caller promises.
        if unsafe { self.in_flight(cb) } {
            return;
        }
        // SAFETY: as above.
        let f = unsafe { Fields::read(cb) };
        let notify = Notification::from_raw(&f.sigevent).unwrap_or(Notification::None);
        let notify = match self.core.dispatch.reserve(&notify) {
            Ok(_) => notify,
            Err(_) => Notification::None,
        };
        // SAFETY: valid, not in flight.
        unsafe { self.fail_now(cb, e, notify) };
    }

    /// Completes an accepted op at once with error `e`, as if the kernel
    /// had refused the transfer: the aiocb gets the status, sleepers
    /// wake, the notification is sent (its dispatcher credit was
    /// reserved by the caller).
    ///
    /// # Safety
    /// `cb` points at a valid aiocb that is not in flight.
    unsafe fn fail_now(&self, cb: *mut RawAiocb, e: Error, notify: Notification) {
        // SAFETY: forwarded.
        unsafe { self.set_final(cb, e) };
        self.core.events.signal();
        notify.send(&self.core.dispatch);
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
            .set_info(idx, std::ptr::null_mut(), Notification::None, None, None, 0);
        if let Some(g) = group {
            g.put();
        }
        self.core.slab.free(idx);
        // SAFETY: the aiocb is valid (the caller of `submit`).
        unsafe {
            field::set_word(cb, W_TAG, 0, Ordering::Release);
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
        if !(cb as usize).is_multiple_of(std::mem::align_of::<RawAiocb>()) {
            return Err(Error::EINVAL);
        }
        // SAFETY: the caller promises a valid aiocb.
        let (cfd, idx, generation, live) = unsafe {
            (
                (&raw const (*cb).aio_fildes).read(),
                field::word(cb, W_SLOT, Ordering::Relaxed),
                field::word(cb, W_GEN, Ordering::Relaxed),
                self.in_flight(cb),
            )
        };
        if cfd != fd {
            return Err(Error::EINVAL);
        }
        if !live {
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
        Cancel::Done(match self.pools.cancel(p, t) {
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
        let sig = if wait { Notification::None } else { sig };
        // The list's own notification needs its credit too.
        self.core.dispatch.reserve(&sig)?;
        // LIO_NOWAIT "shall return immediately": no notification of the
        // list reaches the program before it has (README, "Notification
        // before return"); they are held in the group and sent from a
        // library thread after.
        let group = Arc::new(if wait {
            Group::new(sig)
        } else {
            Group::plugged(sig)
        });
        let (mut eagain, mut failed) = (false, false);
        // LIO_NOWAIT returns promptly: the whole list shares one inline
        // budget.
        let mut inline_left = self.cfg.inline_max;
        for &cb in list {
            if cb.is_null() {
                continue;
            }
            if !(cb as usize).is_multiple_of(std::mem::align_of::<RawAiocb>()) {
                failed = true; // not an aiocb we may touch
                continue;
            }
            // SAFETY: the caller promises valid aiocbs (aligned: checked).
            let opcode = unsafe { (&raw const (*cb).aio_lio_opcode).read() };
            let kind = match opcode {
                libc::LIO_NOP => continue,
                libc::LIO_READ => OpKind::Read,
                libc::LIO_WRITE => OpKind::Write,
                _ => {
                    // As glibc: accepted, and the op fails with EINVAL.
                    // SAFETY: valid aiocb (caller).
                    unsafe { self.accept_failed(cb, Error::EINVAL) };
                    continue;
                }
            };
            // SAFETY: as above.
            let r = unsafe { self.submit(cb, kind, Some(&group), &mut inline_left, None) };
            if let Err(e) = r {
                eagain |= e == Error::EAGAIN;
                failed = true;
                // An entry still in flight from an earlier submission is
                // refused without touching it: its status belongs to that
                // op, whose completion will write it, after which the
                // program may free the aiocb (tests/c/lio_inflight.c).
                // SAFETY: valid aiocb (caller).
                if unsafe { self.in_flight(cb) } {
                    continue;
                }
                // The entry's own status says why (aio_error / aio_return).
                // SAFETY: valid aiocb (caller), not in flight.
                unsafe { self.set_final(cb, e) };
            }
        }
        let mut held = group.unplug();
        if group.put() {
            if wait {
                group.notify.send(&self.core.dispatch);
            } else {
                held.push(Deferred {
                    notify: group.notify,
                    marker: std::ptr::null(),
                    generation: 0,
                });
            }
        }
        self.core.dispatch.push_batch(held);
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
                if !(cb as usize).is_multiple_of(std::mem::align_of::<RawAiocb>()) {
                    continue;
                }
                // SAFETY: valid aiocbs (caller); the group is done, so their
                // error codes are final.
                let (opcode, err) = unsafe {
                    (
                        (&raw const (*cb).aio_lio_opcode).read(),
                        field::error(cb, Ordering::Acquire),
                    )
                };
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

/// Whether `cb` may be touched at all: not NULL and aligned as a
/// `struct aiocb` is (`EINVAL` otherwise).
fn check_cb(cb: *const RawAiocb) -> Result<()> {
    if cb.is_null() || !(cb as usize).is_multiple_of(std::mem::align_of::<RawAiocb>()) {
        return Err(Error::EINVAL);
    }
    Ok(())
}

/// `aio_error` on a raw aiocb: the op's status, also after `aio_return`
/// (as glibc); `EINVAL` for an aiocb never submitted. Async-signal-safe:
/// two atomic loads.
///
/// # Safety
/// `cb` is null or points at a valid aiocb.
pub(crate) unsafe fn error_of(cb: *const RawAiocb) -> Result<i32> {
    check_cb(cb)?;
    // SAFETY: valid, aligned aiocb (caller, checked).
    let tag = unsafe { field::word(cb, W_TAG, Ordering::Acquire) };
    if tag != TAG_SUBMITTED && tag != TAG_RETURNED {
        return Err(Error::EINVAL);
    }
    // SAFETY: as above. Acquire: pairs with the completer's Release.
    Ok(unsafe { field::error(cb, Ordering::Acquire) })
}

/// `aio_return` on a raw aiocb: the result once; `EINVAL` for an aiocb
/// never submitted or already returned, `EINPROGRESS` before completion.
/// Async-signal-safe: atomic loads and one store.
///
/// # Safety
/// `cb` is null or points at a valid aiocb.
pub(crate) unsafe fn return_of(cb: *mut RawAiocb) -> Result<isize> {
    check_cb(cb)?;
    // SAFETY: valid, aligned aiocb (caller, checked).
    if unsafe { field::word(cb, W_TAG, Ordering::Acquire) } != TAG_SUBMITTED {
        return Err(Error::EINVAL);
    }
    // SAFETY: as above. Acquire: pairs with the completer's Release.
    if unsafe { field::error(cb, Ordering::Acquire) } == libc::EINPROGRESS {
        return Err(Error::EINPROGRESS);
    }
    // SAFETY: valid aiocb; the error code was read with Acquire, so the
    // return value written before it is visible.
    unsafe {
        let r = field::ret(cb);
        field::set_word(cb, W_TAG, TAG_RETURNED, Ordering::Release);
        Ok(r)
    }
}

/// Whether an aiocb no longer counts as in progress for `aio_suspend`.
///
/// # Safety
/// `cb` points at a valid, aligned aiocb.
pub(crate) unsafe fn is_settled(cb: *const RawAiocb) -> bool {
    // SAFETY: valid aiocb (caller).
    unsafe {
        field::word(cb, W_TAG, Ordering::Acquire) != TAG_SUBMITTED
            || field::error(cb, Ordering::Acquire) != libc::EINPROGRESS
    }
}

/// Whether a settled aiocb's notification has been sent too (a woken
/// `aio_suspend` returns only then, as glibc's, whose completer holds its
/// lock across both). True for an aiocb that asks for none (its
/// completer marks nothing), and for one this instance has no slot for.
///
/// # Safety
/// `cb` points at a valid, aligned aiocb.
pub(crate) unsafe fn notification_sent(aio: &Aio, cb: *const RawAiocb) -> bool {
    // SAFETY: valid aiocb (caller); request fields, raw reads (the program
    // does not change them while the op is in flight).
    let (how, signo) = unsafe {
        (
            (&raw const (*cb).aio_sigevent.sigev_notify).read(),
            (&raw const (*cb).aio_sigevent.sigev_signo).read(),
        )
    };
    let silent = how == libc::SIGEV_NONE
        || ((how == libc::SIGEV_SIGNAL || how == libc::SIGEV_THREAD_ID) && signo == 0);
    if silent {
        return true;
    }
    // SAFETY: valid aiocb (caller).
    let (idx, generation, instance) = unsafe {
        (
            field::word(cb, W_SLOT, Ordering::Relaxed),
            field::word(cb, W_GEN, Ordering::Relaxed),
            field::word(cb, W_INSTANCE, Ordering::Relaxed),
        )
    };
    if instance != aio.instance {
        return true;
    }
    match aio.core.slab.slots.get(idx as usize) {
        Some(slot) => was_sent(&slot.sent, generation),
        None => true,
    }
}

/// Whether the aiocb asks for a signal (`SIGEV_SIGNAL`/`SIGEV_THREAD_ID`
/// with a signal number).
///
/// # Safety
/// `cb` points at a valid, aligned aiocb.
pub(crate) unsafe fn wants_signal(cb: *const RawAiocb) -> bool {
    // SAFETY: valid aiocb (caller); request fields, raw reads.
    let (how, signo) = unsafe {
        (
            (&raw const (*cb).aio_sigevent.sigev_notify).read(),
            (&raw const (*cb).aio_sigevent.sigev_signo).read(),
        )
    };
    (how == libc::SIGEV_SIGNAL || how == libc::SIGEV_THREAD_ID) && signo > 0
}

// ---------------------------------------------------------------------------
// The process-wide instance, and fork.
// ---------------------------------------------------------------------------

/// The instance's address (0: not built yet, or a fork child's fresh start).
static GLOBAL: AtomicUsize = AtomicUsize::new(0);
/// Set by `aio_init` before the instance exists.
static PENDING_CONFIG: Mutex<Option<Config>> = Mutex::new(None);
static ATFORK: aio_core::sync::Once = aio_core::sync::Once::new();

extern "C" fn atfork_prepare() {
    // No descriptor of ours may be half made (created, not yet registered
    // for closing in the child) across the fork.
    blockdev::fork_prepare();
}

extern "C" fn atfork_parent() {
    blockdev::fork_parent();
}

extern "C" fn atfork_child() {
    // The child has none of the parent's threads: forget the parent's
    // instance (its memory stays, untouched) and build a fresh one on the
    // first call. The parent's ops complete in the parent. Its rings and
    // eventfds are closed here, so the child keeps none of them (the
    // parent's copies are untouched). Async-signal-safe: atomics, close.
    GLOBAL.store(0, Ordering::Release);
    blockdev::fork_child();
    crate::ffi::reset_counters();
}

/// Records `aio_init`'s limits for the instance about to be built.
pub(crate) fn set_pending_config(cfg: Config) {
    *PENDING_CONFIG.lock() = Some(cfg);
}

/// The process-wide instance if it exists (never builds it: for the
/// async-signal-safe paths).
pub(crate) fn try_global() -> Option<&'static Aio> {
    let p = GLOBAL.load(Ordering::Acquire);
    // SAFETY: a published instance is never freed.
    (p != 0).then(|| unsafe { &*(p as *const Aio) })
}

/// The instance for a submission of `cb`, and the aiocb's descriptor if it
/// was closed before the instance had to be built: building it opens
/// rings and eventfds, which may take that very number, and the op must
/// still fail with `EBADF` as it would have a moment before.
///
/// # Safety
/// `cb` is NULL or points at a valid aiocb.
pub(crate) unsafe fn global_for(cb: *const RawAiocb) -> Result<(&'static Aio, Option<i32>)> {
    if let Some(aio) = try_global() {
        return Ok((aio, None));
    }
    let closed = (!cb.is_null() && (cb as usize).is_multiple_of(std::mem::align_of::<RawAiocb>()))
        .then(|| {
            // SAFETY: a valid, aligned aiocb (caller); one field, raw.
            let fd = unsafe { (&raw const (*cb).aio_fildes).read() };
            check_fd(fd).is_err().then_some(fd)
        })
        .flatten();
    Ok((global()?, closed))
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
        unsafe {
            libc::pthread_atfork(
                Some(atfork_prepare),
                Some(atfork_parent),
                Some(atfork_child),
            )
        };
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

#![doc = include_str!("uring.md")]

// Why this file is over ~450 lines of code: it is one engine whose parts
// (push, reap, cancel, teardown) share the slot table, and the memory-safety
// argument (uring.md, "Memory safety") is about all of them at once: what an
// SQE points at, and when a slot, its InFlight token and its iovec array may
// go. Splitting it would spread that argument over files.

use std::collections::VecDeque;
use std::fmt;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use aio_core::sync::Arc;
use aio_core::{
    CancelOutcome, Doorbell, Engine, EngineTicket, EngineWaker, Error, InFlight, OpKind, Result,
};
use io_uring::{IoUring, opcode, squeue, types};

use super::blocking::retry_blocking;
use super::shared::FileShared;
use crate::fdreg::FdReg;
use crate::iov;

const EVENTFD_UD: u64 = u64::MAX;
const CANCEL_UD: u64 = u64::MAX - 1;

/// An eventfd (blocking mode, so that the ring waits on its read),
/// registered for closing in a fork child (`fdreg`).
pub(crate) struct EventFd {
    _reg: FdReg,
    fd: OwnedFd,
}

impl EventFd {
    fn new() -> Result<EventFd> {
        // Through the fork gate until registered (fdreg.rs).
        let _gate = crate::fdreg::creating();
        // SAFETY: plain syscall, no pointers.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(Error::last_os_error());
        }
        let fd = crate::fdreg::lift(fd);
        // SAFETY: `fd` was just returned by eventfd and is owned by nobody else.
        let fd_owned = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(EventFd {
            _reg: FdReg::new(fd),
            fd: fd_owned,
        })
    }

    fn signal(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live local. A failure (counter
        // saturated) still leaves the eventfd readable, which is all a wake
        // needs.
        let _ = unsafe { libc::write(self.fd.as_raw_fd(), (&raw const one).cast(), 8) };
    }
}

/// The [`EngineWaker`] of a [`UringEngine`]: writes its eventfd.
struct UringWaker(Arc<EventFd>);

impl EngineWaker for UringWaker {
    fn wake(&self) {
        self.0.signal();
    }
}

/// What a device asks the ring to do for one op (see [`UringEngine::push`]).
pub(crate) struct Sqe {
    pub(crate) kind: OpKind,
    pub(crate) fd: RawFd,
    /// `u64::MAX` (-1): the descriptor's current position (streams).
    pub(crate) offset: u64,
    /// The transfer's length (at most the op's): the ring reads or writes
    /// the first `len` bytes of the op's segments.
    pub(crate) len: u32,
}

struct Slot {
    generation: u32,
    op: Option<InFlight>,
    keep: Option<Arc<FileShared>>,
    in_kernel: bool,
    /// We asked the kernel to cancel this op: an `-ECANCELED` is ours.
    cancel_sent: bool,
    /// What the SQE asked for, to redo it on the blocking path.
    kind: OpKind,
    offset: u64,
    len: u32,
    /// The `iovec`s of a `READV`/`WRITEV` (an op of two or more segments):
    /// the kernel reads them until the CQE, so they live here, in a
    /// vector the slot keeps (its heap block never moves while the slot
    /// is busy, even when `slots` grows) and reuses, so that a steady
    /// state allocates nothing.
    iov: Vec<libc::iovec>,
}

/// A servicing thread's io_uring: see the module docs.
pub struct UringEngine {
    /// The ring's descriptor, registered for closing in a fork child
    /// (dropped, so unregistered, before `ring` closes it).
    _ring_reg: FdReg,
    ring: IoUring,
    depth: usize,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Slots holding an op (in the backlog or in the kernel).
    busy: usize,
    /// Ops whose SQE is in the submission queue or the kernel.
    in_kernel: usize,
    /// SQEs waiting for room under `depth`.
    backlog: VecDeque<squeue::Entry>,
    efd: Arc<EventFd>,
    /// Where the armed eventfd read lands; boxed so the engine can move.
    efd_buf: Box<u64>,
    efd_armed: bool,
    closing: bool,
    bell: Arc<Doorbell>,
    cancel_res: Option<i32>,
    cqes: Vec<(u64, i32)>,
}

impl fmt::Debug for UringEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UringEngine")
            .field("depth", &self.depth)
            .field("busy", &self.busy)
            .field("in_kernel", &self.in_kernel)
            .field("tickets", &self.bell.outstanding())
            .finish()
    }
}

// SAFETY: the engine is used by one thread at a time (`&mut self`); the raw
// pointers inside queued SQEs point into op buffers whose `InFlight` tokens
// the engine owns, and those may move between threads.
unsafe impl Send for UringEngine {}

fn is_transient(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINTR) | Some(libc::EAGAIN) | Some(libc::EBUSY) | Some(libc::ETIME)
    )
}

impl UringEngine {
    /// A ring that keeps up to `depth` ops in the kernel (more wait in a
    /// backlog). Fails with the kernel's errno (`ENOSYS` without io_uring,
    /// `EPERM` under a seccomp filter or `io_uring_disabled`, `ENOMEM`).
    pub fn new(depth: u32) -> Result<UringEngine> {
        let depth = depth.clamp(1, 4096);
        // Two more entries than the depth: the eventfd read and a cancel.
        // COOP_TASKRUN: completions are run when this thread enters the
        // kernel anyway, instead of interrupting it (5.19+), and
        // TASKRUN_FLAG tells `poll` when it must enter to get them; SUBMIT_ALL:
        // one bad SQE does not stop the rest of a batch (5.18+). Older
        // kernels refuse the flags with EINVAL: retry without them.
        // Through the fork gate until the ring's descriptor is registered
        // (fdreg.rs).
        let gate = crate::fdreg::creating();
        let ring = IoUring::builder()
            .setup_cqsize((depth + 2) * 2)
            .setup_coop_taskrun()
            .setup_taskrun_flag()
            .setup_submit_all()
            .build(depth + 2)
            .or_else(|_| {
                IoUring::builder()
                    .setup_cqsize((depth + 2) * 2)
                    .build(depth + 2)
            })
            .map_err(Error::from)?;
        let ring = lift_ring(ring)?;
        let ring_reg = FdReg::new(ring.as_raw_fd());
        drop(gate);
        let efd = Arc::new(EventFd::new()?);
        let bell = Doorbell::with_waker(Box::new(UringWaker(Arc::clone(&efd))));
        let mut e = UringEngine {
            _ring_reg: ring_reg,
            ring,
            depth: depth as usize,
            slots: Vec::new(),
            free: Vec::new(),
            busy: 0,
            in_kernel: 0,
            backlog: VecDeque::new(),
            efd,
            efd_buf: Box::new(0),
            efd_armed: false,
            closing: false,
            bell,
            cancel_res: None,
            cqes: Vec::with_capacity(64),
        };
        e.arm_eventfd();
        e.submit_pending()?;
        Ok(e)
    }

    /// The queue depth: the most ops this engine keeps in the kernel.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Pushes one SQE, submitting the queue first if it is full.
    fn push_sqe(&mut self, e: &squeue::Entry) {
        loop {
            // SAFETY: every SQE we push points at memory that stays valid
            // until its CQE: an op buffer owned through the slot's InFlight
            // (and for READV/WRITEV the slot's `iov` array, left alone
            // until the slot is freed at the CQE), `efd_buf` (freed only
            // after the eventfd read's CQE), or nothing (cancel).
            let pushed = unsafe { self.ring.submission().push(e) }.is_ok();
            if pushed {
                return;
            }
            // The SQ is sized for `depth` + 2, so this only happens while a
            // batch is still unsubmitted: push it to the kernel.
            if let Err(err) = self.ring.submit()
                && !is_transient(&err)
            {
                // Nothing we can do but retry; the kernel will accept the
                // batch once it has room.
                aio_core::sync::thread::yield_now();
            }
        }
    }

    fn arm_eventfd(&mut self) {
        if self.efd_armed || self.closing {
            return;
        }
        let ptr: *mut u64 = &mut *self.efd_buf;
        let e = opcode::Read::new(types::Fd(self.efd.fd.as_raw_fd()), ptr.cast(), 8)
            .build()
            .user_data(EVENTFD_UD);
        self.push_sqe(&e);
        self.efd_armed = true;
    }

    /// Takes an op: the ring will do `sqe` for it, and `keep` (the device's
    /// descriptor) stays alive until its CQE.
    pub(crate) fn push(&mut self, op: InFlight, keep: Arc<FileShared>, sqe: Sqe) {
        let idx = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    op: None,
                    keep: None,
                    in_kernel: false,
                    cancel_sent: false,
                    kind: OpKind::Read,
                    offset: 0,
                    len: 0,
                    iov: Vec::new(),
                });
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[idx as usize];
        slot.generation = slot.generation.wrapping_add(1);
        slot.op = Some(op);
        slot.keep = Some(keep);
        slot.in_kernel = false;
        slot.cancel_sent = false;
        slot.kind = sqe.kind;
        slot.offset = sqe.offset;
        slot.len = sqe.len;
        let ud = (u64::from(slot.generation) << 32) | u64::from(idx);
        let fd = types::Fd(sqe.fd);
        // The transfer's memory: one segment (a contiguous buffer) as a
        // plain READ/WRITE, as always; two or more as READV/WRITEV over
        // the slot's copy of their iovecs.
        let (one, many) = match sqe.kind {
            OpKind::Read | OpKind::Write => {
                let f = slot.op.as_mut().expect("just stored");
                let mut segs = f.segments_mut();
                match iov::range(segs.as_iovecs(), 0, sqe.len as usize).as_slice() {
                    [one] => (*one, false),
                    v => {
                        slot.iov.clear();
                        slot.iov.extend_from_slice(v);
                        (slot.iov[0], true)
                    }
                }
            }
            OpKind::Fsync | OpKind::Fdatasync => (
                libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0,
                },
                false,
            ),
        };
        // What the SQE points at stays valid until its CQE: the op's
        // buffer is reserved to us by the InFlight token the slot holds
        // until then (and, for a segmented buffer, the memory the segments
        // point at is valid while the op is submitted: `IoBuf::from_segments`'s
        // contract), and `slot.iov` is neither touched nor freed while the
        // slot is busy (see `push_sqe`).
        let (iov_ptr, iov_n) = (slot.iov.as_ptr(), slot.iov.len() as u32);
        let entry = match sqe.kind {
            OpKind::Read if many => opcode::Readv::new(fd, iov_ptr, iov_n)
                .offset(sqe.offset)
                .build(),
            OpKind::Write if many => opcode::Writev::new(fd, iov_ptr, iov_n)
                .offset(sqe.offset)
                .build(),
            OpKind::Read => opcode::Read::new(fd, one.iov_base.cast(), one.iov_len as u32)
                .offset(sqe.offset)
                .build(),
            OpKind::Write => opcode::Write::new(fd, one.iov_base.cast(), one.iov_len as u32)
                .offset(sqe.offset)
                .build(),
            OpKind::Fsync => opcode::Fsync::new(fd).build(),
            OpKind::Fdatasync => opcode::Fsync::new(fd)
                .flags(types::FsyncFlags::DATASYNC)
                .build(),
        };
        self.busy += 1;
        self.backlog.push_back(entry.user_data(ud));
        self.fill();
    }

    /// Moves SQEs from the backlog into the submission queue while fewer
    /// than `depth` ops are in the kernel.
    fn fill(&mut self) {
        while self.in_kernel < self.depth {
            let Some(e) = self.backlog.pop_front() else {
                break;
            };
            let idx = (e.get_user_data() & 0xffff_ffff) as usize;
            self.slots[idx].in_kernel = true;
            self.in_kernel += 1;
            self.push_sqe(&e);
        }
    }

    /// Enters the kernel if there is anything to submit, or completions
    /// waiting to be run (TASKRUN), or an overflowed CQ to flush; the
    /// io-uring crate adds GETEVENTS for the last two.
    fn submit_pending(&mut self) -> Result<()> {
        let idle = {
            let sq = self.ring.submission();
            sq.is_empty() && !sq.taskrun() && !sq.cq_overflow()
        };
        if idle {
            return Ok(());
        }
        match self.ring.submit() {
            Ok(_) => Ok(()),
            Err(e) if is_transient(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Reaps up to `budget` op CQEs; returns how many ops it completed.
    fn reap(&mut self, budget: usize) -> usize {
        let mut done = 0;
        while done < budget {
            self.cqes.clear();
            {
                let cq = self.ring.completion();
                for cqe in cq.take(budget - done) {
                    self.cqes.push((cqe.user_data(), cqe.result()));
                }
            }
            if self.cqes.is_empty() {
                break;
            }
            let mut cqes = std::mem::take(&mut self.cqes);
            for &(ud, res) in &cqes {
                match ud {
                    EVENTFD_UD => {
                        self.efd_armed = false;
                        self.arm_eventfd();
                    }
                    CANCEL_UD => self.cancel_res = Some(res),
                    _ => {
                        if self.complete_slot(ud, res) {
                            done += 1;
                        }
                    }
                }
            }
            cqes.clear();
            self.cqes = cqes;
        }
        done
    }

    fn complete_slot(&mut self, ud: u64, res: i32) -> bool {
        let idx = (ud & 0xffff_ffff) as usize;
        let Some(slot) = self.slots.get_mut(idx) else {
            return false;
        };
        if u64::from(slot.generation) != ud >> 32 {
            return false;
        }
        let Some(op) = slot.op.take() else {
            return false;
        };
        let keep = slot.keep.take();
        slot.in_kernel = false;
        let (cancel_sent, kind, offset, len) = (slot.cancel_sent, slot.kind, slot.offset, slot.len);
        self.free.push(idx as u32);
        self.busy -= 1;
        self.in_kernel -= 1;
        // io-wq answers -ECANCELED (or -EAGAIN) for an op it punted and
        // could not start a worker for (RLIMIT_NPROC, a pids cgroup). That
        // is not a cancel anyone asked for, and ECANCELED must mean "a
        // cancel won": redo the op on the blocking path (a regular file or
        // block device: -EAGAIN there is never the descriptor's answer).
        let not_ours = (res == -libc::ECANCELED && !cancel_sent)
            || (res == -libc::EAGAIN && keep.as_ref().is_some_and(|k| k.is_seekable()));
        if not_ours
            && !self.closing
            && let Some(sh) = keep
        {
            let ticket = Doorbell::ticket(&self.bell);
            retry_blocking(sh, op, ticket, kind, offset, len as usize);
            return true;
        }
        // The CQE is posted: the kernel is done with the buffer, so the op
        // may go back to its owner. No lock is held here.
        op.complete(Error::check_res(i64::from(res)));
        drop(keep);
        true
    }

    /// Cancels the op with key `key` (see [`Strategy::cancel`](aio_core::Strategy::cancel)).
    /// An op still in the backlog is completed with `ECANCELED` at once; one
    /// in the kernel gets an `IORING_OP_ASYNC_CANCEL`, and this waits
    /// (briefly) for the cancel's own CQE to learn the outcome.
    pub(crate) fn cancel_op(&mut self, key: aio_core::OpKey) -> CancelOutcome {
        let found = self
            .slots
            .iter()
            .position(|s| s.op.as_ref().is_some_and(|op| op.key() == key));
        let Some(idx) = found else {
            return CancelOutcome::AlreadyDone;
        };
        let ud = (u64::from(self.slots[idx].generation) << 32) | idx as u64;
        if !self.slots[idx].in_kernel {
            self.backlog.retain(|e| e.get_user_data() != ud);
            let slot = &mut self.slots[idx];
            let op = slot.op.take();
            let keep = slot.keep.take();
            self.free.push(idx as u32);
            self.busy -= 1;
            if let Some(op) = op {
                op.complete(Err(Error::ECANCELED));
            }
            drop(keep);
            return CancelOutcome::Cancelled;
        }
        self.cancel_res = None;
        self.slots[idx].cancel_sent = true;
        let e = opcode::AsyncCancel::new(ud).build().user_data(CANCEL_UD);
        self.push_sqe(&e);
        let deadline = Instant::now() + Duration::from_secs(1);
        while self.cancel_res.is_none() && Instant::now() < deadline {
            let ts = types::Timespec::from(Duration::from_millis(10));
            let args = types::SubmitArgs::new().timespec(&ts);
            if let Err(e) = self.ring.submitter().submit_with_args(1, &args)
                && !is_transient(&e)
            {
                break;
            }
            self.reap(usize::MAX);
        }
        match self.cancel_res.take() {
            Some(0) => CancelOutcome::Cancelled,
            Some(r) if r == -libc::ENOENT => CancelOutcome::AlreadyDone,
            Some(r) if r == -libc::EALREADY => {
                // io-wq is running the op and was told to stop: it ends
                // soon, either cancelled or with its own result. Wait
                // (briefly) for its CQE, so the caller can answer from
                // what actually happened instead of "not cancelable"
                // followed by ECANCELED.
                let slot_gen = self.slots[idx].generation;
                let live = |e: &UringEngine| {
                    e.slots[idx].generation == slot_gen && e.slots[idx].op.is_some()
                };
                while live(self) && Instant::now() < deadline {
                    let ts = types::Timespec::from(Duration::from_millis(10));
                    let args = types::SubmitArgs::new().timespec(&ts);
                    if let Err(e) = self.ring.submitter().submit_with_args(1, &args)
                        && !is_transient(&e)
                    {
                        break;
                    }
                    self.reap(usize::MAX);
                }
                if live(self) {
                    CancelOutcome::InFlight
                } else {
                    CancelOutcome::AlreadyDone
                }
            }
            _ => CancelOutcome::InFlight,
        }
    }
}

impl Engine for UringEngine {
    fn poll(&mut self, budget: usize) -> Result<usize> {
        self.fill();
        self.submit_pending()?;
        let n = self.reap(budget);
        if n > 0 {
            self.fill();
            self.submit_pending()?;
        }
        Ok(n)
    }

    fn in_flight(&self) -> usize {
        self.busy + self.bell.outstanding()
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Result<()> {
        self.fill();
        if !self.ring.completion().is_empty() {
            return self.submit_pending();
        }
        self.arm_eventfd();
        let r = match timeout {
            Some(t) => {
                let ts = types::Timespec::from(t);
                let args = types::SubmitArgs::new().timespec(&ts);
                self.ring.submitter().submit_with_args(1, &args)
            }
            None => self.ring.submit_and_wait(1),
        };
        match r {
            Ok(_) => Ok(()),
            Err(e) if is_transient(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn waker(&self) -> Box<dyn EngineWaker> {
        Box::new(UringWaker(Arc::clone(&self.efd)))
    }

    fn ticket(&mut self) -> EngineTicket {
        Doorbell::ticket(&self.bell)
    }
}

impl Drop for UringEngine {
    fn drop(&mut self) {
        self.closing = true;
        // Ops that never reached the kernel: the kernel never saw their
        // buffers, so they can be handed back at once.
        while let Some(e) = self.backlog.pop_front() {
            let idx = (e.get_user_data() & 0xffff_ffff) as usize;
            let slot = &mut self.slots[idx];
            let op = slot.op.take();
            slot.keep = None;
            self.busy -= 1;
            if let Some(op) = op {
                op.complete(Err(Error::ECANCELED));
            }
        }
        // Everything in the kernel (ops and the eventfd read) is cancelled,
        // and we wait for every CQE: until then the kernel may still write
        // into the buffers.
        let uds: Vec<u64> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.op.is_some() && s.in_kernel)
            .map(|(i, s)| (u64::from(s.generation) << 32) | i as u64)
            .chain(self.efd_armed.then_some(EVENTFD_UD))
            .collect();
        for ud in uds {
            let e = opcode::AsyncCancel::new(ud).build().user_data(CANCEL_UD);
            self.push_sqe(&e);
        }
        while self.in_kernel > 0 || self.efd_armed {
            match self.ring.submit_and_wait(1) {
                Ok(_) => {}
                Err(e) if is_transient(&e) => {}
                Err(e) => {
                    // The ring is unusable. Leaking the slots (every op's
                    // in-flight token, so its owner never gets the buffer
                    // back, and the device state keeping the descriptor
                    // open) and the eventfd's read buffer is the only safe
                    // way out: never hand back a buffer the kernel may touch.
                    // The ring itself is dropped as usual below.
                    eprintln!(
                        "blockdev: io_uring teardown failed ({e}); leaking its in-flight ops"
                    );
                    let slots = std::mem::take(&mut self.slots);
                    std::mem::forget(slots);
                    let buf = std::mem::replace(&mut self.efd_buf, Box::new(0));
                    std::mem::forget(buf);
                    break;
                }
            }
            // Reaping completes the cancelled ops (ECANCELED, or their result
            // if they finished first) and, since we are closing, does not
            // re-arm the eventfd read.
            self.reap(usize::MAX);
        }
    }
}

/// `ring`, on a descriptor numbered [`FLOOR`](crate::fdreg::FLOOR) or
/// more if it was made below (see `fdreg::lift`): the same ring, mapped
/// again through a duplicate of its descriptor, the original closed; or
/// the original if no better number or no second mapping can be had.
/// (Through the fork gate, before registration.)
fn lift_ring(ring: IoUring) -> Result<IoUring> {
    let Some(d) = crate::fdreg::better_dup(ring.as_raw_fd()) else {
        return Ok(ring);
    };
    let params = ring.params().clone();
    // Mapped through the duplicate before the original is dropped: if
    // that fails (no address space left), `from_fd` has already closed
    // `d` (it owns it from the start), and the original ring still works.
    // SAFETY: `d` is ours and refers to the ring whose parameters these
    // are (the kernel filled them in when it made the ring).
    match unsafe { IoUring::from_fd(d, params) } {
        Ok(lifted) => {
            drop(ring);
            Ok(lifted)
        }
        Err(_) => Ok(ring),
    }
}

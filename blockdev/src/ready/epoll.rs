//! The real [`Poller`]: one epoll instance with one-shot entries, the
//! `RWF_NOWAIT` transfer attempt ([`attempt`]), and the process-wide
//! [`Readiness`] with its thread ([`global`]). The protocol these serve is
//! in the parent module ([`super`]); this file is only the operating
//! system's side of it, which the loom model replaces with a fake.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use aio_core::sync::Arc;
use aio_core::{Error, Result};

use super::lane::LaneOs;
use super::{Poller, Readiness, Try, Waiter};
use crate::iov;

/// epoll with one-shot entries keyed by descriptor number. Its
/// descriptor and the duplicates it watches are registered for closing
/// in a fork child (`fdreg`).
pub(crate) struct Epoll {
    _reg: crate::fdreg::FdReg,
    fd: OwnedFd,
}

impl Epoll {
    pub(crate) fn new() -> Result<Epoll> {
        // Through the fork gate until registered (fdreg.rs).
        let _gate = crate::fdreg::creating();
        // SAFETY: plain syscall.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(Error::last_os_error());
        }
        let fd = crate::fdreg::lift(fd);
        // SAFETY: just created, owned by nobody else.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Epoll {
            _reg: crate::fdreg::FdReg::new(fd),
            fd: owned,
        })
    }
}

impl Epoll {
    fn ctl(&self, op: libc::c_int, fd: RawFd, events: u32, key: usize) -> Result<()> {
        let mut ev = libc::epoll_event {
            events,
            u64: key as u64,
        };
        // SAFETY: valid epoll fd and pointer to a local.
        let r = unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut ev) };
        if r < 0 {
            Err(Error::last_os_error())
        } else {
            Ok(())
        }
    }
}

impl Poller for Epoll {
    fn watch(&self, fd: RawFd, key: usize) -> Result<RawFd> {
        let _gate = crate::fdreg::creating();
        // The duplicate is ours until `unwatch`.
        let dup = crate::fdreg::dup_high(fd);
        if dup < 0 {
            return Err(Error::last_os_error());
        }
        // Registered disarmed (a one-shot entry with no events); the
        // caller arms it once its op is queued.
        if let Err(e) = self.ctl(libc::EPOLL_CTL_ADD, dup, libc::EPOLLONESHOT as u32, key) {
            // SAFETY: our own duplicate, closed once.
            unsafe { libc::close(dup) };
            return Err(e);
        }
        crate::fdreg::add(dup);
        Ok(dup)
    }

    fn watch_reopen(&self, fd: RawFd, key: usize) -> Result<RawFd> {
        // SAFETY: plain syscall.
        let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if fl < 0 {
            return Err(Error::last_os_error());
        }
        // A pty master cannot be reopened: opening its path (/dev/ptmx)
        // makes a new pty. TIOCGPTN answers only on a master.
        let mut n: libc::c_uint = 0;
        // SAFETY: TIOCGPTN writes an unsigned int into the pointer.
        if unsafe { libc::ioctl(fd, libc::TIOCGPTN, &mut n) } == 0 {
            return Err(Error::EOPNOTSUPP);
        }
        let path = format!("/proc/self/fd/{fd}\0");
        let _gate = crate::fdreg::creating();
        let flags = (fl & libc::O_ACCMODE) | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
        // SAFETY: a NUL-terminated path; the new descriptor is ours
        // until `unwatch`.
        let dup = unsafe { libc::open(path.as_ptr().cast(), flags) };
        if dup < 0 {
            return Err(Error::last_os_error());
        }
        let dup = crate::fdreg::lift(dup);
        if let Err(e) = self.ctl(libc::EPOLL_CTL_ADD, dup, libc::EPOLLONESHOT as u32, key) {
            // SAFETY: our own descriptor, closed once.
            unsafe { libc::close(dup) };
            return Err(e);
        }
        crate::fdreg::add(dup);
        Ok(dup)
    }

    fn arm(&self, fd: RawFd, key: usize, read: bool, write: bool) -> Result<()> {
        let mut events = libc::EPOLLONESHOT as u32;
        if read {
            events |= libc::EPOLLIN as u32 | libc::EPOLLRDHUP as u32;
        }
        if write {
            events |= libc::EPOLLOUT as u32;
        }
        self.ctl(libc::EPOLL_CTL_MOD, fd, events, key)
    }

    fn unwatch(&self, fd: RawFd) {
        // Removed before the close: the program may hold other
        // descriptors of the same file, which would keep the entry
        // (and its events) alive.
        let _ = self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0);
        crate::fdreg::remove(fd);
        // SAFETY: our own duplicate (from `watch`), closed once.
        unsafe { libc::close(fd) };
    }

    fn wait(&self, out: &mut Vec<usize>) {
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 64];
        // SAFETY: valid epoll fd and buffer of 64 events.
        let n = unsafe { libc::epoll_wait(self.fd.as_raw_fd(), evs.as_mut_ptr(), 64, -1) };
        for ev in evs.iter().take(n.max(0) as usize) {
            out.push(ev.u64 as usize);
        }
    }
}

/// The non-blocking transfer of a stream op: `preadv2`/`pwritev2` at
/// the current position with `RWF_NOWAIT`.
pub(crate) fn attempt(w: &mut Waiter, fd: RawFd) -> Try {
    loop {
        let read = w.op.kind() == aio_core::OpKind::Read;
        // Bytes `done..len` of the op's segments (one for a contiguous
        // buffer): a short write continues in whichever segment it
        // stopped in, at the byte it stopped at.
        let n = if read {
            let mut segs = w.op.segments_mut();
            let iov = iov::range(segs.as_iovecs(), w.done, w.len - w.done);
            let (v, c) = (iov.as_slice().as_ptr(), iov.count());
            // SAFETY: the iovecs cover bytes of the op's buffer, ours
            // through the in-flight token.
            unsafe {
                if w.plain {
                    libc::readv(fd, v, c)
                } else {
                    libc::preadv2(fd, v, c, -1, libc::RWF_NOWAIT)
                }
            }
        } else {
            let segs = w.op.segments();
            let iov = iov::range(segs.as_iovecs(), w.done, w.len - w.done);
            let (v, c) = (iov.as_slice().as_ptr(), iov.count());
            // SAFETY: as above; the kernel only reads.
            unsafe {
                if w.plain {
                    libc::writev(fd, v, c)
                } else {
                    libc::pwritev2(fd, v, c, -1, libc::RWF_NOWAIT)
                }
            }
        };
        if n >= 0 {
            let n = n as usize;
            if read {
                return Try::Done(Ok(n));
            }
            w.done += n;
            if w.done >= w.len {
                return Try::Done(Ok(w.done));
            }
            if n == 0 {
                return Try::Wait;
            }
            if w.once {
                return Try::Done(Ok(w.done));
            }
            continue; // a short write: try the rest at once
        }
        let e = Error::last_os_error();
        if e == Error::EINTR {
            continue;
        }
        if e == Error::EAGAIN {
            return Try::Wait;
        }
        if e == Error::EOPNOTSUPP {
            return Try::Unsupported;
        }
        return Try::Done(if w.done > 0 { Ok(w.done) } else { Err(e) });
    }
}

/// The live waiter and the process it belongs to.
type Live = Option<(u32, Arc<Readiness>)>;
/// [`cell`]'s type.
type Cell = aio_core::sync::Mutex<Live>;
/// A hold on [`cell`] across `fork`.
type Hold = Option<aio_core::sync::MutexGuard<'static, Live>>;

/// [`global`]'s cell. Every stream op locks it for a moment, so a fork
/// could copy it locked into a child that has no thread to unlock it:
/// the forking thread holds it across `fork` ([`fork_prepare`]).
fn cell() -> &'static Cell {
    static CELL: aio_core::sync::OnceLock<Cell> = aio_core::sync::OnceLock::new();
    CELL.get_or_init(|| aio_core::sync::Mutex::ranked(crate::lock_order::READINESS_CELL, None))
}

std::thread_local! {
    /// The forking thread's hold on [`cell`] between the atfork handlers.
    static HELD: std::cell::RefCell<Hold> = const { std::cell::RefCell::new(None) };
}

/// Before `fork`: takes [`cell`], so that no other thread holds it across
/// the fork (it is released after, in the parent and in the child, by
/// [`fork_done`]). Taken before the descriptor gate closes: a thread
/// making the waiter holds the cell and then enters the gate.
pub(crate) fn fork_prepare() {
    let g = cell().lock();
    HELD.with(|h| *h.borrow_mut() = Some(g));
}

/// After `fork`, in the parent or the child: releases [`fork_prepare`]'s
/// hold (the child's copy of the cell is then free; its waiter is the
/// parent's, and the child's first stream op makes its own).
pub(crate) fn fork_done() {
    HELD.with(|h| drop(h.borrow_mut().take()));
}

/// The process's readiness waiter, made (epoll instance and thread) on
/// first use; `None` if either cannot be made (the caller then queues
/// the op on its lane). A fork child makes its own: the parent's thread does
/// not exist there, and its epoll instance is shared with the parent.
pub(crate) fn global(create: bool) -> Option<Arc<Readiness>> {
    let pid = std::process::id();
    let mut g = cell().lock();
    if let Some((p, r)) = &*g
        && *p == pid
    {
        return Some(Arc::clone(r));
    }
    if !create {
        return None;
    }
    let r = Arc::new(Readiness::new(Box::new(Epoll::new().ok()?)));
    let r2 = Arc::clone(&r);
    let stack = aio_core::sync::SERVICE_STACK;
    let spawned =
        aio_core::sync::thread::spawn_named_with_stack("blockdev-ready".into(), stack, move || {
            block_signals();
            r2.run();
        });
    if spawned.is_err() {
        return None;
    }
    if let Some(old) = g.replace((pid, Arc::clone(&r))) {
        // The parent's, inherited by fork: its thread is not here and
        // its ops belong to the parent. Never dropped (it may hold
        // tokens that must not be completed in this process).
        std::mem::forget(old);
    }
    Some(r)
}

/// The lanes' operating-system side (`lane.rs`): duplicates through the
/// fork gate, registered for closing in a fork child; threads with every
/// signal blocked.
pub(crate) static LANE_OS: LaneOs = LaneOs {
    dup: lane_dup,
    close: lane_close,
    spawn: lane_spawn,
};

/// How long a lane's idle thread waits for the next op (glibc's AIO
/// threads wait a second, too).
pub(crate) const LANE_LINGER: std::time::Duration = std::time::Duration::from_secs(1);

fn lane_dup(fd: RawFd) -> Option<RawFd> {
    let _gate = crate::fdreg::creating();
    // The duplicate is its lane entry's until the lane closes it (after
    // the op's transfer, or when the op is cancelled or cannot be queued).
    let d = crate::fdreg::dup_high(fd);
    if d < 0 {
        return None;
    }
    crate::fdreg::add(d);
    Some(d)
}

fn lane_close(fd: RawFd) {
    crate::fdreg::remove(fd);
    // SAFETY: the lane's own duplicate (from `lane_dup`), closed once.
    unsafe { libc::close(fd) };
}

fn lane_spawn(job: Box<dyn FnOnce() + Send>) -> bool {
    let stack = aio_core::sync::SERVICE_STACK;
    aio_core::sync::thread::spawn_named_with_stack("blockdev-lane".into(), stack, move || {
        block_signals();
        job();
    })
    .is_ok()
}

/// Blocks every signal on the calling thread, so that process-directed
/// signals reach the program's threads (and `SIGPIPE` from a write to
/// a closed pipe is left pending here, not fatal: the op gets `EPIPE`).
fn block_signals() {
    // SAFETY: plain libc calls on a local signal set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

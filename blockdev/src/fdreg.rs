//! The descriptors the library opens for itself (io_uring instances,
//! eventfds, the readiness waiter's epoll instance and the duplicates it
//! watches), so that a fork child can close its inherited copies.
//!
//! A child of `fork` inherits every descriptor, but none of the threads
//! that serve the library's rings; it builds a fresh instance on first use,
//! so the parent's rings and eventfds are dead weight in it (and, under
//! `ulimit -n`, take the program's descriptors). `close_inherited` runs in
//! the child (an atfork handler: async-signal-safe, so only atomics and
//! `close`) and closes them; the parent's copies are untouched.
//!
//! # The fork gate
//!
//! A descriptor is registered just after the system call that made it, so
//! a `fork` in between (another thread of the program forking while a
//! worker builds its ring) would leave the child one descriptor it does
//! not know of. So every creation passes a gate ([`ForkGate`]), one word
//! `creators << 1 | FORKING`: a creator counts itself in, with a CAS that
//! succeeds only while `FORKING` is clear, for the span from before the
//! system call to after the registration; the atfork *prepare* handler
//! sets `FORKING` (an RMW) and waits until no creator is counted, then the
//! fork happens with no creation half done. Both sides are RMWs on one
//! word, so they are totally ordered: either the creator's CAS comes first
//! (the preparer waits for it) or the preparer's (the CAS fails, and the
//! creator waits until the parent's handler clears `FORKING`; the child's
//! handler resets the word). Mutant `fork-gate-no-recheck` (test the flag,
//! then count in with a separate RMW) lets `loom_fork_gate` find a
//! creation in progress while the fork proceeds.
//!
//! A fixed table of atomics: no allocation, no lock. Registration is
//! best-effort: past [`SLOTS`] descriptors, the extra ones are simply not
//! closed in a child. The table is process-global state touched only at
//! descriptor creation and close and in the fork child; no protocol with
//! other threads is built on it, so the loom shim need not see it.

#![allow(clippy::disallowed_types)]
#![cfg_attr(loom, allow(dead_code))]

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};

use aio_core::sync::atomic::{AtomicUsize, Ordering as SyncOrdering};

/// Most descriptors tracked at once.
const SLOTS: usize = 512;

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: AtomicI32 = AtomicI32::new(-1);
static TABLE: [AtomicI32; SLOTS] = [EMPTY; SLOTS];

/// A registered descriptor: registered while this lives. Declare it before
/// the field that owns the descriptor, so it is dropped (unregistered)
/// before the descriptor is closed.
#[derive(Debug)]
pub(crate) struct FdReg(RawFd);

impl FdReg {
    /// Registers `fd`.
    pub(crate) fn new(fd: RawFd) -> FdReg {
        add(fd);
        FdReg(fd)
    }
}

impl Drop for FdReg {
    fn drop(&mut self) {
        remove(self.0);
    }
}

/// The lowest number the library's own descriptors take where the limit
/// allows: glibc opens none, so a program's `open` after an AIO call must
/// still get the number it would have (the daemon's `close(0..2)` then
/// `open("/dev/null")` three times, a test that checks a closed number is
/// reused). Below it only when `RLIMIT_NOFILE` is lower, and never 0, 1
/// or 2 while any other number is free.
pub(crate) const FLOOR: RawFd = 64;

/// A duplicate of `fd` (close-on-exec) numbered [`FLOOR`] or more, else
/// 3 or more, else `-1` with `errno` set, as `fcntl(F_DUPFD_CLOEXEC)`.
pub(crate) fn dup_high(fd: RawFd) -> RawFd {
    let mut d = -1;
    for min in [FLOOR, 3] {
        // SAFETY: plain syscall; the caller owns the duplicate.
        d = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) };
        if d >= 0 {
            break;
        }
    }
    d
}

/// A duplicate of `fd` numbered better than `fd` itself ([`FLOOR`] or
/// more, or at least 3 for a number below 3), or `None` if there is none
/// (an unhelpful duplicate is closed again). `fd` is left as it is.
pub(crate) fn better_dup(fd: RawFd) -> Option<RawFd> {
    if !(0..FLOOR).contains(&fd) {
        return None;
    }
    let d = dup_high(fd);
    if d < 0 || (d < FLOOR && fd >= 3) {
        if d >= 0 {
            // SAFETY: the duplicate just made, no better than `fd`.
            unsafe { libc::close(d) };
        }
        return None;
    }
    Some(d)
}

/// `fd` (one the library just made), moved to [`FLOOR`] or above if it
/// is below (the duplicate replaces it: `fd` is closed), or left where it
/// is if no better number can be had. Call it through the fork gate,
/// before registering the result.
pub(crate) fn lift(fd: RawFd) -> RawFd {
    let Some(d) = better_dup(fd) else {
        return fd;
    };
    // SAFETY: the library's own new descriptor, replaced by `d`.
    unsafe { libc::close(fd) };
    d
}

/// One past the highest slot ever used: [`is_registered`] looks no
/// further (the table fills from the front).
static USED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Registers a descriptor the library just opened for itself.
pub(crate) fn add(fd: RawFd) {
    for (i, s) in TABLE.iter().enumerate() {
        if s.compare_exchange(-1, fd, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            USED.fetch_max(i + 1, Ordering::AcqRel);
            break;
        }
    }
}

/// Whether `fd` is a descriptor the library opened for itself and still
/// holds (a ring, an eventfd, the readiness waiter's epoll instance or a
/// duplicate it or a lane uses): a program can only name one by mistake,
/// with a number it closed that the library has since reused. The number
/// is registered from just after its creation until just before its
/// close, so a `true` is never stale by more than that close.
pub(crate) fn is_registered(fd: RawFd) -> bool {
    fd >= 0
        && TABLE[..USED.load(Ordering::Acquire)]
            .iter()
            .any(|s| s.load(Ordering::Acquire) == fd)
}

/// Unregisters it; call before closing it.
pub(crate) fn remove(fd: RawFd) {
    for s in TABLE.iter() {
        if s.compare_exchange(fd, -1, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            break;
        }
    }
}

/// Closes every registered descriptor and empties the table. For a fork
/// child only (async-signal-safe: atomics and `close`): the parent's
/// instance, whose descriptors these are, is never used again there.
pub(crate) fn close_inherited() {
    for s in TABLE.iter() {
        let fd = s.swap(-1, Ordering::AcqRel);
        if fd >= 0 {
            // SAFETY: a descriptor the library opened for itself in the
            // parent; in the child nothing of the library uses it again.
            unsafe { libc::close(fd) };
        }
    }
}

/// The gate between descriptor creation and `fork` (module docs): one
/// word, `creators << 1 | FORKING`, so that both sides are RMWs on it and
/// totally ordered.
#[derive(Debug)]
pub(crate) struct ForkGate {
    word: AtomicUsize,
}

/// A fork is being prepared.
const FORKING: usize = 1;
/// One creator counted in.
const ONE: usize = 2;

impl ForkGate {
    /// An open gate.
    #[cfg(not(loom))]
    pub(crate) const fn new() -> ForkGate {
        ForkGate {
            word: AtomicUsize::new(0),
        }
    }

    /// An open gate (loom's atomics are not `const`).
    #[cfg(loom)]
    pub(crate) fn new() -> ForkGate {
        ForkGate {
            word: AtomicUsize::new(0),
        }
    }

    /// Counts a creator in, waiting while a fork is being prepared; the
    /// guard counts it out.
    pub(crate) fn enter(&self) -> Creating<'_> {
        if aio_core::sync::mutant(aio_core::sync::Mutant::ForkGateNoRecheck) {
            // Mutant: test the flag, then count in with a separate RMW; a
            // fork prepared in between finds no creator and goes ahead.
            while self.word.load(SyncOrdering::Acquire) & FORKING != 0 {
                aio_core::sync::thread::yield_now();
            }
            self.word.fetch_add(ONE, SyncOrdering::AcqRel);
            return Creating(self);
        }
        let mut w = self.word.load(SyncOrdering::Relaxed);
        loop {
            if w & FORKING != 0 {
                aio_core::sync::thread::yield_now();
                w = self.word.load(SyncOrdering::Relaxed);
                continue;
            }
            // Counted in only if no fork began meanwhile (the CAS fails
            // on the changed word).
            match self.word.compare_exchange_weak(
                w,
                w + ONE,
                SyncOrdering::AcqRel,
                SyncOrdering::Relaxed,
            ) {
                Ok(_) => return Creating(self),
                Err(cur) => w = cur,
            }
        }
    }

    /// Before `fork`: no creation may be half done across it.
    pub(crate) fn prepare(&self) {
        self.word.fetch_or(FORKING, SyncOrdering::AcqRel);
        while self.word.load(SyncOrdering::Acquire) >> 1 != 0 {
            aio_core::sync::thread::yield_now();
        }
    }

    /// After `fork`, in the parent: creations go on.
    pub(crate) fn parent(&self) {
        self.word.fetch_and(!FORKING, SyncOrdering::AcqRel);
    }

    /// After `fork`, in the child (alone: no creator is counted).
    pub(crate) fn child(&self) {
        self.word.store(0, SyncOrdering::Release);
    }

    /// Whether a creation is counted in (the model's check).
    #[cfg(loom)]
    pub(crate) fn busy(&self) -> bool {
        self.word.load(SyncOrdering::Acquire) >> 1 != 0
    }
}

/// A creator counted in at the gate, from before its system call to after
/// its registration.
pub(crate) struct Creating<'a>(&'a ForkGate);

impl Drop for Creating<'_> {
    fn drop(&mut self) {
        self.0.word.fetch_sub(ONE, SyncOrdering::AcqRel);
    }
}

#[cfg(not(loom))]
static GATE: ForkGate = ForkGate::new();

/// Enter before creating a descriptor to register; hold the guard until it
/// is registered.
#[cfg(not(loom))]
pub(crate) fn creating() -> Creating<'static> {
    GATE.enter()
}

/// The atfork *prepare* handler's part (the caller of `fork`, before it).
#[cfg(not(loom))]
pub(crate) fn fork_prepare() {
    GATE.prepare();
}

/// The atfork *parent* handler's part.
#[cfg(not(loom))]
pub(crate) fn fork_parent() {
    GATE.parent();
}

/// The atfork *child* handler's part: reopen the gate and close the
/// inherited descriptors (async-signal-safe: atomics and `close`).
#[cfg(not(loom))]
pub(crate) fn fork_child() {
    GATE.child();
    close_inherited();
}

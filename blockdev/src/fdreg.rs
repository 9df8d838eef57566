//! The descriptors the library opens for itself (io_uring instances,
//! eventfds), so that a fork child can close its inherited copies.
//!
//! A child of `fork` inherits every descriptor, but none of the threads
//! that serve the library's rings; it builds a fresh instance on first use,
//! so the parent's rings and eventfds are dead weight in it (and, under
//! `ulimit -n`, take the program's descriptors). `close_inherited` runs in
//! the child (an atfork handler: async-signal-safe, so only atomics and
//! `close`) and closes them; the parent's copies are untouched.
//!
//! A fixed table of atomics: no allocation, no lock. Registration is
//! best-effort: past [`SLOTS`] descriptors, the extra ones are simply not
//! closed in a child. The table is process-global state touched only at
//! descriptor creation and close and in the fork child; no protocol with
//! other threads is built on it, so the loom shim need not see it.

#![allow(clippy::disallowed_types)]

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};

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

/// Registers a descriptor the library just opened for itself.
pub(crate) fn add(fd: RawFd) {
    for s in TABLE.iter() {
        if s.compare_exchange(-1, fd, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            break;
        }
    }
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
pub fn close_inherited() {
    for s in TABLE.iter() {
        let fd = s.swap(-1, Ordering::AcqRel);
        if fd >= 0 {
            // SAFETY: a descriptor the library opened for itself in the
            // parent; in the child nothing of the library uses it again.
            unsafe { libc::close(fd) };
        }
    }
}

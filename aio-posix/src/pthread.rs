//! The few glibc functions the library calls with the `C-unwind` ABI:
//! thread cancellation, and the raw `syscall` that `aio_suspend` sleeps in
//! with asynchronous cancellation enabled. Cancellation (and
//! `pthread_exit`) unwinds by a forced unwind, which may leave these
//! functions; declaring them `C-unwind` is what makes that defined in Rust
//! (the frames it then crosses hold nothing to drop, see the callers).
//! One declaration each, for the whole crate.

/// glibc's `PTHREAD_CANCEL_ENABLE` (not in the libc crate).
pub(crate) const PTHREAD_CANCEL_ENABLE: libc::c_int = 0;
/// glibc's `PTHREAD_CANCEL_DISABLE`.
pub(crate) const PTHREAD_CANCEL_DISABLE: libc::c_int = 1;
/// glibc's `PTHREAD_CANCEL_DEFERRED`.
pub(crate) const PTHREAD_CANCEL_DEFERRED: libc::c_int = 0;
/// glibc's `PTHREAD_CANCEL_ASYNCHRONOUS`.
pub(crate) const PTHREAD_CANCEL_ASYNCHRONOUS: libc::c_int = 1;

// SAFETY (of the declarations): the signatures are glibc's, from
// <pthread.h> and <unistd.h>; only the ABI string differs from the libc
// crate's, to let a forced unwind pass.
unsafe extern "C-unwind" {
    /// POSIX: acts on a pending cancellation request (may not return).
    pub(crate) fn pthread_testcancel();
    /// POSIX: sets the cancellation state.
    pub(crate) fn pthread_setcancelstate(state: libc::c_int, old: *mut libc::c_int) -> libc::c_int;
    /// POSIX: sets the cancellation type (async-cancel-safe; may act on a
    /// pending request when it becomes asynchronous).
    pub(crate) fn pthread_setcanceltype(ty: libc::c_int, old: *mut libc::c_int) -> libc::c_int;
    /// glibc's `syscall`, declared so that an asynchronous cancellation
    /// may unwind out of it.
    #[link_name = "syscall"]
    pub(crate) fn syscall(num: libc::c_long, ...) -> libc::c_long;
}

/// Thread cancellation disabled on demand: from the first [`NoCancel::off`]
/// until the guard is dropped, when the caller's state comes back. A
/// submission's inline read runs before any `off` (its code has no
/// cancellation point: raw system calls, futexes), so the common case
/// pays for no `pthread_setcancelstate` pair; everything after it
/// (routing, the pools, notifications, building the instance) calls
/// `off` first. See `ffi::imp::guard_nocancel` for why.
pub(crate) struct NoCancel {
    /// The caller's state, once `off` changed it.
    old: Option<libc::c_int>,
    /// The caller keeps cancellation disabled itself: `off` does nothing.
    held: bool,
}

impl NoCancel {
    /// Nothing disabled yet.
    pub(crate) const fn new() -> NoCancel {
        NoCancel {
            old: None,
            held: false,
        }
    }

    /// For a caller that already runs with cancellation disabled.
    pub(crate) const fn held() -> NoCancel {
        NoCancel {
            old: None,
            held: true,
        }
    }

    /// Disables cancellation for the rest of the guard's life (once).
    #[inline]
    pub(crate) fn off(&mut self) {
        if self.held || self.old.is_some() {
            return;
        }
        let mut old = PTHREAD_CANCEL_ENABLE;
        // SAFETY: a plain libc call on this thread's own state (not a
        // cancellation point).
        unsafe { pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &mut old) };
        self.old = Some(old);
    }
}

impl Drop for NoCancel {
    fn drop(&mut self) {
        if let Some(old) = self.old {
            let mut was = 0;
            // SAFETY: as in `off`; restores the caller's state (no
            // cancellation is acted on here: not a cancellation point).
            unsafe { pthread_setcancelstate(old, &mut was) };
        }
    }
}

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

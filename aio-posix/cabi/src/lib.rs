//! `libaio_posix.so`: the `#[no_mangle]` exports of the C ABI, each a call
//! of the Rust function of the same name in `aio_posix::ffi` (which
//! documents them, with the errno table in `aio-posix/README.md`).
//!
//! Each entry point is exported under its POSIX name and its `*64` twin
//! (the names a program built with `_FILE_OFFSET_BITS=64` imports; the
//! layouts are identical on LP64). None carries a symbol version, so under
//! `LD_PRELOAD` the dynamic linker binds a program's unversioned or
//! `GLIBC_2.x`-versioned references to these definitions first.
//!
//! The exports live in this cdylib-only package, not in aio-posix, so
//! that Rust binaries linking aio-posix's Rust API (aio-bench, the tests,
//! the fuzzers) do not export `aio_read` & co. and interpose glibc's AIO
//! in themselves. cbindgen reads this file (with `../cbindgen.toml`) to
//! generate `include/aio_posix.h`; the POSIX names are excluded there.
//!
//! Empty under `--cfg loom`: aio-posix's loom models build this package
//! as a dev-dependency, and the C ABI (`ffi`) does not exist there.

#![cfg(not(loom))]

use std::ffi::{c_char, c_int};

use posix::ffi;

macro_rules! twin {
    ($(#[$m:meta])* fn $name:ident / $name64:ident ($($a:ident : $t:ty),*) -> $r:ty) => {
        $(#[$m])*
        ///
        /// # Safety
        #[doc = concat!("As for `aio_posix::ffi::", stringify!($name), "`.")]
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name($($a: $t),*) -> $r {
            // SAFETY: same contract as this function's.
            unsafe { ffi::$name($($a),*) }
        }

        #[doc = concat!("The `_FILE_OFFSET_BITS=64` name of [`", stringify!($name), "`] (same layout on LP64).")]
        ///
        /// # Safety
        #[doc = concat!("As for [`", stringify!($name), "`].")]
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name64($($a: $t),*) -> $r {
            // SAFETY: same contract as this function's.
            unsafe { ffi::$name($($a),*) }
        }
    };
}

twin! {
    /// `aio_read`: see `aio_posix::ffi::aio_read`.
    fn aio_read / aio_read64 (aiocbp: *mut libc::aiocb) -> c_int
}
twin! {
    /// `aio_write`: see `aio_posix::ffi::aio_write`.
    fn aio_write / aio_write64 (aiocbp: *mut libc::aiocb) -> c_int
}
twin! {
    /// `aio_fsync`: see `aio_posix::ffi::aio_fsync`.
    fn aio_fsync / aio_fsync64 (op: c_int, aiocbp: *mut libc::aiocb) -> c_int
}
twin! {
    /// `aio_error`: see `aio_posix::ffi::aio_error`.
    fn aio_error / aio_error64 (aiocbp: *const libc::aiocb) -> c_int
}
twin! {
    /// `aio_return`: see `aio_posix::ffi::aio_return`.
    fn aio_return / aio_return64 (aiocbp: *mut libc::aiocb) -> libc::ssize_t
}
twin! {
    /// `aio_cancel`: see `aio_posix::ffi::aio_cancel`.
    fn aio_cancel / aio_cancel64 (fildes: c_int, aiocbp: *mut libc::aiocb) -> c_int
}
twin! {
    /// `lio_listio`: see `aio_posix::ffi::lio_listio`.
    fn lio_listio / lio_listio64 (mode: c_int, list: *const *mut libc::aiocb, nent: c_int, sig: *mut libc::sigevent) -> c_int
}

// --- aio_readv / aio_writev (extension, FreeBSD) --------------------------
// One name each: FreeBSD has no `*64` twin, and `<aio_posix.h>` declares
// these without a `_FILE_OFFSET_BITS=64` rename.

/// Extension (FreeBSD): a vectored `aio_read`, the `iovec` array in
/// `aio_iov` (`aio_buf`), its length in `aio_iovcnt` (`aio_nbytes`); the
/// array is copied in by the call. 0, or -1 and `errno` (`EINVAL`: count 0
/// or above `IOV_MAX`; `EFAULT`: bad array; otherwise as `aio_read`). See
/// `aio_posix::ffi::aio_readv`.
///
/// # Safety
/// As for `aio_posix::ffi::aio_readv`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aio_readv(aiocbp: *mut libc::aiocb) -> c_int {
    // SAFETY: same contract.
    unsafe { ffi::aio_readv(aiocbp) }
}

/// Extension (FreeBSD): a vectored `aio_write`, as `aio_readv`. See
/// `aio_posix::ffi::aio_writev`.
///
/// # Safety
/// As for `aio_posix::ffi::aio_writev`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aio_writev(aiocbp: *mut libc::aiocb) -> c_int {
    // SAFETY: same contract.
    unsafe { ffi::aio_writev(aiocbp) }
}

/// Extension (FreeBSD's value): the `lio_listio` opcode of a vectored
/// read (as `aio_readv`). Collides with none of glibc's `LIO_*` values.
pub const LIO_READV: c_int = 6;
/// Extension (FreeBSD's value): the `lio_listio` opcode of a vectored
/// write (as `aio_writev`).
pub const LIO_WRITEV: c_int = 5;

const _: () = assert!(LIO_READV == posix::abi::LIO_READV && LIO_WRITEV == posix::abi::LIO_WRITEV);

// --- end aio_readv / aio_writev --------------------------------------------

// --- aio_waitcomplete and the completion descriptor (extensions) ---------

/// Extension (FreeBSD): takes the next completed op, sets `*iocbp` to its
/// aiocb and returns its result (it serves as that op's `aio_return`);
/// sleeps until one completes, `timeout` passes (NULL: no limit; zero:
/// poll) or a signal handler runs. -1 and `errno` on failure (`*iocbp`
/// NULL): `EINPROGRESS` time limit passed, `EAGAIN` nothing submitted and
/// not yet reaped, `EINVAL` bad timeout, `EINTR`, `EFAULT` NULL `iocbp`;
/// a reaped op that failed gives -1 with its error and `*iocbp` set. A
/// cancellation point. See `aio_posix::ffi::aio_waitcomplete`.
///
/// # Safety
/// As for `aio_posix::ffi::aio_waitcomplete`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn aio_waitcomplete(
    iocbp: *mut *mut libc::aiocb,
    timeout: *mut libc::timespec,
) -> libc::ssize_t {
    // SAFETY: same contract (FreeBSD's prototype has no const; the
    // timespec is only read).
    unsafe { ffi::aio_waitcomplete(iocbp, timeout) }
}

/// Extension: a descriptor (eventfd; the library's, never closed by the
/// program) that polls readable whenever a completed op waits to be
/// reaped with `aio_waitcomplete`. -1 and `errno` on failure. See
/// `aio_posix::ffi::aio_posix_completion_fd`.
#[unsafe(no_mangle)]
pub extern "C" fn aio_posix_completion_fd() -> c_int {
    ffi::aio_posix_completion_fd()
}

// --- end aio_waitcomplete ---------------------------------------------------

/// `aio_suspend`: see `aio_posix::ffi::aio_suspend`. A cancellation
/// point: `pthread_cancel`'s forced unwind passes through it, hence
/// `"C-unwind"`.
///
/// # Safety
/// As for `aio_posix::ffi::aio_suspend`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn aio_suspend(
    list: *const *const libc::aiocb,
    nent: c_int,
    timeout: *const libc::timespec,
) -> c_int {
    // SAFETY: same contract.
    unsafe { ffi::aio_suspend(list, nent, timeout) }
}

/// The `_FILE_OFFSET_BITS=64` name of [`aio_suspend`].
///
/// # Safety
/// As for [`aio_suspend`].
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn aio_suspend64(
    list: *const *const libc::aiocb,
    nent: c_int,
    timeout: *const libc::timespec,
) -> c_int {
    // SAFETY: same contract.
    unsafe { ffi::aio_suspend(list, nent, timeout) }
}

/// `aio_init` (GNU): see `aio_posix::ffi::aio_init`.
///
/// # Safety
/// `init` is NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aio_init(init: *const ffi::AioInit) {
    // SAFETY: same contract.
    unsafe { ffi::aio_init(init) }
}

/// Extension: calls of the entry point `name` (e.g. `"aio_read"`, both
/// names counted together) made in this process; 0 for an unknown name.
/// Lets a program check that this library, not glibc, serves it.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aio_posix_calls(name: *const c_char) -> u64 {
    // SAFETY: same contract.
    unsafe { ffi::aio_posix_calls(name) }
}

//! The C ABI's entry points, on glibc's `struct aiocb`, as Rust functions.
//!
//! This crate exports no C symbol: the package `aio-posix-cabi`
//! (`aio-posix/cabi/`) builds `libaio_posix.so`, whose `#[no_mangle]`
//! exports each call the function of the same name here, so that Rust
//! binaries linking this crate (aio-bench, the tests, the fuzzers) do not
//! interpose glibc's `aio_read` & co. in themselves. Each entry point is
//! exported under its POSIX name and its `*64` twin (the names a program
//! built with `_FILE_OFFSET_BITS=64` imports; the layouts are identical on
//! LP64), both counted under the POSIX name. None carries a symbol
//! version, so under `LD_PRELOAD` the dynamic linker binds a program's
//! unversioned or `GLIBC_2.x`-versioned references to these definitions
//! first. [`aio_suspend`] and [`aio_waitcomplete`] may unwind (a forced
//! unwind when a thread is cancelled in them, cancellation points): their
//! exports are `extern "C-unwind"`.
//!
//! Every entry point catches panics (`guard`) and turns every failure
//! into `-1` and `errno` in that one place (`set_errno`); nothing
//! unwinds into C.
//!
//! # Entry points
//!
//! `aio-posix/README.md` has the errno table (what fails the call, what
//! the op reports through `aio_error`) and the differences from glibc;
//! each function below has its manual page. In short: the call fails only
//! for what it can tell by itself (a NULL, misaligned or in-flight aiocb,
//! a bad `aio_reqprio` or sigevent, no room; for `aio_fsync` a bad `op` or
//! a closed descriptor); everything about the transfer (a closed or
//! wrong-mode descriptor, a bad offset, a NULL buffer) is the op's result,
//! as glibc reports it.

use std::ffi::{CStr, c_char, c_int};

use aio_core::OpKind;

use crate::config::Config;
use crate::instance;
use crate::trace::{calls, count};

/// glibc's `struct aioinit` (`aio_init`'s argument).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct AioInit {
    /// Maximum number of threads (here: service pools per class).
    pub aio_threads: c_int,
    /// Number of expected simultaneous requests (here: the slab size).
    pub aio_num: c_int,
    /// Unused.
    pub aio_locks: c_int,
    /// Unused.
    pub aio_usedba: c_int,
    /// Unused.
    pub aio_debug: c_int,
    /// Unused.
    pub aio_numusers: c_int,
    /// Unused (glibc: seconds before an idle thread exits).
    pub aio_idle_time: c_int,
    /// Unused.
    pub aio_reserved: c_int,
}

mod imp;

use imp::{
    completion_fd_imp, do_cancel, do_error, do_fsync, do_listio, do_return, do_submit, do_submitv,
    guard, suspend_entry, waitcomplete_entry,
};

// ---------------------------------------------------------------------------
// The entry points (exported by aio-posix/cabi/src/lib.rs).
// ---------------------------------------------------------------------------

macro_rules! entry {
    ($(#[$m:meta])* fn $name:ident ($($a:ident : $t:ty),*) -> $r:ty = $imp:ident, $idx:expr) => {
        $(#[$m])*
        pub unsafe fn $name($($a: $t),*) -> $r {
            count($idx);
            // SAFETY: same contract as this function's.
            unsafe { $imp($($a),*) }
        }
    };
}

entry! {
    /// `aio_read`: queues a read of `aio_nbytes` bytes at `aio_offset` of
    /// `aio_fildes` into `aio_buf`.
    ///
    /// # SYNOPSIS
    /// `int aio_read(struct aiocb *aiocbp);`
    ///
    /// # DESCRIPTION
    /// A read of up to `AIO_POSIX_INLINE_MAX` bytes of a regular file
    /// whose data is in the page cache is done in the calling thread, and
    /// has completed (its notification sent) when this returns; any other
    /// read runs on the service pools. `aio_error` answers `EINPROGRESS`
    /// until it completes, then the notification in `aio_sigevent` is
    /// sent. On a non-seekable descriptor (pipe, FIFO,
    /// socket, pty) `aio_offset` is ignored and reads on one descriptor
    /// complete in the order they were queued; a read waiting for data
    /// never holds up a write on the same descriptor, and can be cancelled.
    /// Reads at positions of a regular file run in parallel.
    ///
    /// # RETURN VALUES
    /// 0 if the read was queued; -1 and `errno` otherwise (nothing queued,
    /// no notification).
    ///
    /// # ERRORS
    /// `EINVAL`: NULL or misaligned `aiocbp`, `aiocbp` still in flight,
    /// `aio_reqprio` outside 0..=20 (the aiocb's status then says `EINVAL`
    /// too, as in glibc), or a bad `aio_sigevent` (unknown `sigev_notify`,
    /// signal above `SIGRTMAX`; signal 0 is valid and sends nothing).
    /// `EAGAIN`: too many ops in flight (`AIO_POSIX_MAX_OPS`), the queues
    /// are full, or the `SIGEV_THREAD` backlog is. Everything about the
    /// transfer is the op's result, from `aio_error`: `EBADF` (descriptor
    /// not open, or not for reading), `EINVAL` (negative offset, end past
    /// `OFF_MAX`), `EFAULT` (bad buffer, `aio_nbytes` > `SSIZE_MAX`),
    /// `EISDIR`, `EIO`, ...
    ///
    /// # Safety
    /// `aiocbp` is NULL or a valid aiocb; it and its buffer stay valid and
    /// untouched until `aio_error` no longer answers `EINPROGRESS`.
    fn aio_read (aiocbp: *mut libc::aiocb) -> c_int = read_imp, 0
}

unsafe fn read_imp(cb: *mut libc::aiocb) -> c_int {
    // SAFETY: forwarded.
    unsafe { do_submit(cb, OpKind::Read) }
}

unsafe fn write_imp(cb: *mut libc::aiocb) -> c_int {
    // SAFETY: forwarded.
    unsafe { do_submit(cb, OpKind::Write) }
}

entry! {
    /// `aio_write`: queues a write of `aio_nbytes` bytes from `aio_buf` at
    /// `aio_offset` of `aio_fildes`.
    ///
    /// # SYNOPSIS
    /// `int aio_write(struct aiocb *aiocbp);`
    ///
    /// # DESCRIPTION
    /// As [`aio_read`], in the other direction. With `O_APPEND`, or on a
    /// non-seekable descriptor, writes are done one at a time in the order
    /// they were queued.
    ///
    /// # RETURN VALUES
    /// 0 if queued; -1 and `errno` otherwise.
    ///
    /// # ERRORS
    /// As [`aio_read`].
    ///
    /// # Safety
    /// As for [`aio_read`].
    fn aio_write (aiocbp: *mut libc::aiocb) -> c_int = write_imp, 1
}

// ---------------------------------------------------------------------------
// aio_readv / aio_writev (extension: FreeBSD's names and semantics).
// ---------------------------------------------------------------------------

unsafe fn readv_imp(cb: *mut libc::aiocb) -> c_int {
    // SAFETY: forwarded.
    unsafe { do_submitv(cb, OpKind::Read) }
}

unsafe fn writev_imp(cb: *mut libc::aiocb) -> c_int {
    // SAFETY: forwarded.
    unsafe { do_submitv(cb, OpKind::Write) }
}

entry! {
    /// `aio_readv` (extension, FreeBSD): queues a vectored read, as
    /// `preadv(2)` at `aio_offset` of `aio_fildes` into the `aio_iovcnt`
    /// buffers of the `iovec` array `aio_iov`.
    ///
    /// # SYNOPSIS
    /// `#include <aio_posix.h>`
    ///
    /// `int aio_readv(struct aiocb *aiocbp);`
    ///
    /// # DESCRIPTION
    /// As in FreeBSD, `aio_iov` and `aio_iovcnt` are `aio_buf` and
    /// `aio_nbytes` under other names (`<aio_posix.h>` defines them).
    /// The array is copied in by the call: the program may reuse or free it
    /// once the call returned; the buffers it points at belong to the op
    /// until it completes. The read is one request of the segments' total
    /// length (one `preadv2` or io_uring `READV`), filling them in order;
    /// `aio_return` gives its byte count. Offset, ordering (a non-seekable
    /// descriptor's reads complete in the order queued), cancellation,
    /// `aio_reqprio` and the notification are exactly as for [`aio_read`].
    /// `lio_listio` takes the same op as `LIO_READV`.
    ///
    /// # RETURN VALUES
    /// 0 if the read was queued; -1 and `errno` otherwise.
    ///
    /// # ERRORS
    /// As [`aio_read`], and (failing the call, with the aiocb's status
    /// saying so too, as FreeBSD): `EINVAL`: `aio_iovcnt` is 0 or above
    /// `IOV_MAX` (1024), or the lengths add up to more than `SSIZE_MAX`.
    /// `EFAULT`: `aio_iov` is NULL or not readable memory (checked by the
    /// kernel: no crash). A segment's own bad buffer (a NULL `iov_base`
    /// with a length) is the op's result, as `preadv(2)` gives it: `EFAULT`
    /// if nothing was transferred, else the bytes before it.
    ///
    /// # Safety
    /// `aiocbp` is NULL or a valid aiocb; it and every segment's memory stay
    /// valid and untouched until `aio_error` no longer answers
    /// `EINPROGRESS` (the array itself need not).
    fn aio_readv (aiocbp: *mut libc::aiocb) -> c_int = readv_imp, 9
}

entry! {
    /// `aio_writev` (extension, FreeBSD): queues a vectored write, as
    /// `pwritev(2)` at `aio_offset` of `aio_fildes` from the `aio_iovcnt`
    /// buffers of the `iovec` array `aio_iov`.
    ///
    /// # SYNOPSIS
    /// `#include <aio_posix.h>`
    ///
    /// `int aio_writev(struct aiocb *aiocbp);`
    ///
    /// # DESCRIPTION
    /// As [`aio_readv`], in the other direction; with `O_APPEND`, or on a
    /// non-seekable descriptor, writes (vectored or not) are done one at a
    /// time in the order queued, each as one `pwritev`, so the segments of
    /// one write are never interleaved with another's. `lio_listio` takes
    /// the same op as `LIO_WRITEV`.
    ///
    /// # RETURN VALUES
    /// 0 if queued; -1 and `errno` otherwise.
    ///
    /// # ERRORS
    /// As [`aio_readv`].
    ///
    /// # Safety
    /// As for [`aio_readv`].
    fn aio_writev (aiocbp: *mut libc::aiocb) -> c_int = writev_imp, 10
}

// --- end aio_readv / aio_writev --------------------------------------------

entry! {
    /// `aio_fsync`: queues an `fsync` (`O_SYNC`) or `fdatasync`
    /// (`O_DSYNC`) of `aio_fildes` that completes after every write queued
    /// on that descriptor before it.
    ///
    /// # SYNOPSIS
    /// `int aio_fsync(int op, struct aiocb *aiocbp);`
    ///
    /// # DESCRIPTION
    /// Only `aio_fildes` and `aio_sigevent` of `aiocbp` are used.
    ///
    /// # RETURN VALUES
    /// 0 if queued; -1 and `errno` otherwise.
    ///
    /// # ERRORS
    /// `EINVAL`: `op` is neither `O_SYNC` nor `O_DSYNC` (checked first), a
    /// NULL, misaligned or in-flight `aiocbp`, or a bad `aio_sigevent`.
    /// `EBADF`: `aio_fildes` is not open. `EAGAIN`: as for [`aio_read`].
    /// Every other field (`aio_reqprio`, buffer, length, offset) is
    /// ignored, as POSIX says.
    ///
    /// # Safety
    /// As for [`aio_read`].
    fn aio_fsync (op: c_int, aiocbp: *mut libc::aiocb) -> c_int = do_fsync, 2
}

entry! {
    /// `aio_error`: the status of an op.
    ///
    /// # SYNOPSIS
    /// `int aio_error(const struct aiocb *aiocbp);`
    ///
    /// # DESCRIPTION
    /// A lock-free load of the aiocb's error code.
    ///
    /// # RETURN VALUES
    /// `EINPROGRESS` while the op runs; then 0 on success, `ECANCELED` if
    /// it was cancelled, or the op's errno. -1 and `errno` on failure.
    ///
    /// # ERRORS
    /// `EINVAL`: NULL, misaligned, or never submitted. After `aio_return`
    /// it still answers the op's final status (as glibc).
    /// Async-signal-safe: two atomic loads, nothing lazy.
    ///
    /// # Safety
    /// `aiocbp` is NULL or a valid aiocb.
    fn aio_error (aiocbp: *const libc::aiocb) -> c_int = do_error, 3
}

entry! {
    /// `aio_return`: the result of a completed op, once.
    ///
    /// # SYNOPSIS
    /// `ssize_t aio_return(struct aiocb *aiocbp);`
    ///
    /// # DESCRIPTION
    /// Hands out the op's result and frees the aiocb for reuse; a second
    /// call fails. Nothing is kept per op whether or not it is called.
    ///
    /// # RETURN VALUES
    /// What `read`, `write` or `fsync` would have returned (-1 if the op
    /// failed; `aio_error` said why). -1 and `errno` on failure.
    ///
    /// # ERRORS
    /// `EINVAL`: NULL, misaligned, never submitted, or already returned.
    /// `EINPROGRESS`: the op has not completed. Async-signal-safe.
    ///
    /// # Safety
    /// `aiocbp` is NULL or a valid aiocb.
    fn aio_return (aiocbp: *mut libc::aiocb) -> libc::ssize_t = do_return, 4
}

entry! {
    /// `aio_cancel`: cancels one op, or every op of a descriptor.
    ///
    /// # SYNOPSIS
    /// `int aio_cancel(int fildes, struct aiocb *aiocbp);`
    ///
    /// # DESCRIPTION
    /// An op still queued, or waiting for its resource (a read of an empty
    /// pipe, FIFO or socket, a write to a full pipe), is cancelled: it
    /// completes with `ECANCELED` (before this returns) and still sends its
    /// notification. An op the kernel is already transferring cannot be.
    ///
    /// # RETURN VALUES
    /// `AIO_CANCELED`, `AIO_NOTCANCELED` (at least one could not be),
    /// `AIO_ALLDONE`; -1 and `errno` on failure.
    ///
    /// # ERRORS
    /// `EBADF`: `fildes` is not open. `EINVAL`: `aiocbp->aio_fildes` is not
    /// `fildes`.
    ///
    /// # Safety
    /// `aiocbp` is NULL or a valid aiocb.
    fn aio_cancel (fildes: c_int, aiocbp: *mut libc::aiocb) -> c_int = do_cancel, 6
}

entry! {
    /// `lio_listio`: queues a list of reads and writes.
    ///
    /// # SYNOPSIS
    /// `int lio_listio(int mode, struct aiocb *const list[], int nent, struct sigevent *sig);`
    ///
    /// # DESCRIPTION
    /// Entries with `LIO_READ` or `LIO_WRITE` are queued as by `aio_read`
    /// and `aio_write` (their own `aio_sigevent` is honoured), those with
    /// the extension opcodes `LIO_READV` and `LIO_WRITEV` (`<aio_posix.h>`)
    /// as by [`aio_readv`] and [`aio_writev`]; `LIO_NOP`
    /// and NULL entries are skipped. `LIO_WAIT` returns when every queued
    /// entry completed (`sig` is ignored); `LIO_NOWAIT` returns at once and
    /// sends `sig` (if not NULL) once they all completed, at once for an
    /// empty list. An entry that cannot be queued gets its error in its own
    /// aiocb (`aio_error`, and `aio_return` -1).
    ///
    /// # RETURN VALUES
    /// 0, or -1 and `errno`.
    ///
    /// # ERRORS
    /// `EINVAL`: bad `mode`, NULL `list` with entries, bad `sig`. A list
    /// may have any length (a negative `nent` is an empty list, as in
    /// glibc); an entry with an unknown `aio_lio_opcode` is accepted and
    /// fails with `EINVAL`. `EAGAIN`: an entry could not be queued for lack
    /// of resources. `EIO`: an entry failed (with `LIO_WAIT`, also at
    /// completion). `EINTR`: a signal interrupted `LIO_WAIT` (the queued
    /// ops go on).
    ///
    /// # Safety
    /// `list` holds `nent` pointers, each NULL or a valid aiocb that, with
    /// its buffer, stays valid until its op completes; `sig` is NULL or
    /// valid.
    fn lio_listio (mode: c_int, list: *const *mut libc::aiocb, nent: c_int, sig: *mut libc::sigevent) -> c_int = do_listio, 7
}

/// `aio_suspend`: waits for one of a list of ops.
///
/// # SYNOPSIS
/// `int aio_suspend(const struct aiocb *const list[], int nent, const struct timespec *timeout);`
///
/// # DESCRIPTION
/// Sleeps (in the kernel: no polling) until one of the listed ops is
/// complete, `timeout` (relative; NULL: none) passes, or a signal handler
/// runs. NULL entries are ignored; a list without an op returns at once,
/// as does one with an op already complete. A cancellation point.
///
/// # RETURN VALUES
/// 0, or -1 and `errno`.
///
/// # ERRORS
/// `EAGAIN`: the timeout passed (a negative one has). `EINTR`: a signal
/// handler ran. `EINVAL`: `nent` < 0, or `tv_nsec` ≥ 10⁹.
///
/// # Safety
/// `list` holds `nent` pointers, each NULL or a valid aiocb; `timeout` is
/// NULL or valid.
pub unsafe fn aio_suspend(
    list: *const *const libc::aiocb,
    nent: c_int,
    timeout: *const libc::timespec,
) -> c_int {
    count(5);
    // SAFETY: same contract.
    unsafe { suspend_entry(list, nent, timeout) }
}

/// Extension (FreeBSD): `aio_waitcomplete`, the next completed op.
///
/// # SYNOPSIS
/// `ssize_t aio_waitcomplete(struct aiocb **iocbp, struct timespec *timeout);`
///
/// # DESCRIPTION
/// Takes the oldest completed op whose result nobody has taken, sets
/// `*iocbp` to its aiocb and returns its result: it serves as that op's
/// `aio_return` (a later `aio_return` on it fails with `EINVAL`). If none
/// is complete it sleeps until one is, `timeout` (relative) passes, or a
/// signal handler runs; a NULL `timeout` waits without limit, a zero one
/// polls. Reaping is O(1) per op and never scans the program's aiocbs: it
/// takes the slab's completed list, fed by its lock-free completion ring.
///
/// The rule for mixing it with `aio_error`/`aio_suspend`/`aio_return`
/// (`aio-posix/README.md`, "aio_waitcomplete"): every op's result is
/// taken exactly once, by whichever of `aio_return` and
/// `aio_waitcomplete` comes first. Once a process has called
/// `aio_waitcomplete` (or [`aio_posix_completion_fd`]), a completed op
/// keeps its slot until its result is taken, as in FreeBSD's kernel, so
/// its aiocb must stay valid until then; before that first call nothing is
/// kept per completed op. A cancellation point, like `aio_suspend`; not
/// async-signal-safe (it takes a lock).
///
/// # RETURN VALUES
/// The op's result (bytes, or 0 for a sync). If the op failed: -1 with
/// `errno` the op's error and `*iocbp` its aiocb (FreeBSD). If the call
/// fails: -1, `*iocbp` NULL, and `errno`.
///
/// # ERRORS
/// `EINVAL`: a negative or non-normalized `timeout`. `EINPROGRESS`: the
/// time limit passed before an op completed (FreeBSD's kernel says
/// `EWOULDBLOCK` here, which on Linux is `EAGAIN`; ours keeps it apart
/// from the next case). `EAGAIN`: nothing can complete: no op of this
/// process is submitted and not yet reaped or returned (FreeBSD: "has not
/// yet called aio_read() or aio_write()"; it would sleep instead).
/// `EINTR`: a signal handler ran. `EFAULT`: `iocbp` is NULL or misaligned
/// (nothing is reaped).
///
/// # Safety
/// `iocbp` is NULL or valid for a write; `timeout` is NULL or valid; the
/// aiocb of every op not yet reaped or returned is still valid.
pub unsafe fn aio_waitcomplete(
    iocbp: *mut *mut libc::aiocb,
    timeout: *const libc::timespec,
) -> libc::ssize_t {
    count(11);
    // SAFETY: same contract.
    unsafe { waitcomplete_entry(iocbp, timeout) }
}

/// Extension: the completion descriptor, for event loops.
///
/// # SYNOPSIS
/// `int aio_posix_completion_fd(void);`
///
/// # DESCRIPTION
/// A descriptor (an eventfd, non-blocking, close-on-exec; the same one on
/// every call) that polls readable whenever a completed op's result is
/// untaken, so an `epoll`/`poll` loop waits for AIO and sockets together
/// and then drains the completions with `aio_waitcomplete` and a zero
/// timeout until it fails with `EINPROGRESS` (or `EAGAIN`). It may also be
/// readable with nothing to take (a spurious wake-up: the next drain
/// finds none and clears it). The program reads nothing from it and must
/// not close it. Calling it switches the process to reaping, as the first
/// `aio_waitcomplete` does. In a fork child the parent's descriptor is
/// closed; the child calls this again for its own.
///
/// # RETURN VALUES
/// The descriptor, or -1 and `errno` (`EMFILE`, `ENFILE`, `ENOMEM` from
/// `eventfd`, or the library's start-up errors).
pub fn aio_posix_completion_fd() -> c_int {
    count(12);
    completion_fd_imp()
}

/// `aio_init` (GNU): sets limits before the first submission.
///
/// # SYNOPSIS
/// `void aio_init(const struct aioinit *init);`
///
/// # DESCRIPTION
/// A sizing hint, as in glibc: `aio_threads` > 0 sets the service pools
/// per class; `aio_num` may raise the number of ops in flight at once,
/// never lower it below the default. Environment variables (see
/// `config.rs`) override it; ignored once the library has started.
///
/// # Safety
/// `init` is NULL or valid.
pub unsafe fn aio_init(init: *const AioInit) {
    count(8);
    guard((), || {
        if init.is_null() {
            return Ok(());
        }
        // SAFETY: valid (caller).
        let i = unsafe { *init };
        let mut c = Config::default();
        if i.aio_threads > 0 {
            c.threads = Some(i.aio_threads as usize);
        }
        if i.aio_num > 0 {
            // A sizing hint, as in glibc: it may raise the budget, never
            // make it smaller than what ordinary programs get.
            c.max_ops = c.max_ops.max((i.aio_num as usize).min(1 << 20));
        }
        c.apply_env();
        instance::set_pending_config(c);
        Ok(())
    });
}

/// Extension: calls of the entry point `name` (e.g. `"aio_read"`, both
/// names counted together) made in this process; 0 for an unknown name.
/// Lets a program check that this library, not glibc, serves it.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string.
pub unsafe fn aio_posix_calls(name: *const c_char) -> u64 {
    guard(0, || {
        if name.is_null() {
            return Ok(0);
        }
        // SAFETY: NUL-terminated (caller).
        let n = unsafe { CStr::from_ptr(name) };
        Ok(calls(n.to_str().unwrap_or("")))
    })
}

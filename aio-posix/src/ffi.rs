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
//! first. [`aio_suspend`] may unwind (a forced unwind when a thread is
//! cancelled in it, a cancellation point): its export is `extern "C-unwind"`.
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
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use aio_core::{Error, OpKind, Result};

use crate::abi::RawAiocb;
use crate::config::Config;
use crate::instance;
use crate::notify::Notification;
use crate::pthread::pthread_testcancel;
use crate::suspend::Wake;
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

// ---------------------------------------------------------------------------
// errno, panics (the call counters and AIO_POSIX_TRACE are in `trace`).
// ---------------------------------------------------------------------------

/// Sets `errno`: the one place the C ABI converts an [`Error`].
fn set_errno(e: Error) {
    // SAFETY: `__errno_location` returns this thread's errno.
    unsafe { *libc::__errno_location() = e.errno() };
}

/// Runs `f`, turning an error or a panic into `fail` and `errno`.
fn guard<T>(fail: T, f: impl FnOnce() -> Result<T>) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            set_errno(e);
            fail
        }
        Err(_) => {
            set_errno(Error::EIO);
            fail
        }
    }
}

// ---------------------------------------------------------------------------
// The implementations, shared by both names of each entry point.
// ---------------------------------------------------------------------------

unsafe fn do_submit(cb: *mut libc::aiocb, kind: OpKind) -> c_int {
    guard(-1, || {
        // SAFETY: forwarded from the entry point's contract.
        let (aio, closed) = unsafe { instance::global_for(cb.cast::<RawAiocb>())? };
        let mut inline_left = aio.cfg.inline_max;
        // SAFETY: forwarded from the entry point's contract.
        unsafe { aio.submit(cb.cast::<RawAiocb>(), kind, None, &mut inline_left, closed)? };
        Ok(0)
    })
}

unsafe fn do_fsync(op: c_int, cb: *mut libc::aiocb) -> c_int {
    guard(-1, || {
        let kind = match op {
            libc::O_SYNC => OpKind::Fsync,
            libc::O_DSYNC => OpKind::Fdatasync,
            _ => return Err(Error::EINVAL),
        };
        // SAFETY: forwarded from the entry point's contract.
        let (aio, closed) = unsafe { instance::global_for(cb.cast::<RawAiocb>())? };
        // SAFETY: forwarded from the entry point's contract.
        unsafe { aio.submit(cb.cast::<RawAiocb>(), kind, None, &mut 0, closed)? };
        Ok(0)
    })
}

unsafe fn do_error(cb: *const libc::aiocb) -> c_int {
    // SAFETY: forwarded from the entry point's contract.
    guard(-1, || unsafe { instance::error_of(cb.cast::<RawAiocb>()) })
}

unsafe fn do_return(cb: *mut libc::aiocb) -> libc::ssize_t {
    // SAFETY: forwarded from the entry point's contract.
    guard(-1, || unsafe { instance::return_of(cb.cast::<RawAiocb>()) })
}

fn deadline_of(timeout: *const libc::timespec) -> Result<Option<Instant>> {
    if timeout.is_null() {
        return Ok(None);
    }
    // SAFETY: a non-null timeout points at a timespec (caller's contract).
    let ts = unsafe { timeout.read() };
    if ts.tv_nsec >= 1_000_000_000 {
        return Err(Error::EINVAL);
    }
    if ts.tv_sec < 0 || ts.tv_nsec < 0 {
        // Already expired (glibc: EAGAIN unless an entry is complete).
        return Ok(Some(Instant::now()));
    }
    let d = Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
    Ok(Some(Instant::now().checked_add(d).unwrap_or_else(|| {
        Instant::now() + Duration::from_secs(86400 * 365 * 100)
    })))
}

/// One step of `aio_suspend`, computed inside [`guard`]; the sleep itself
/// happens in the entry point's own frame.
#[derive(Clone, Copy)]
enum Step {
    /// An entry is complete (or there is none).
    Ready,
    /// Sleep on the event word at `addr` while it holds `expected`.
    Sleep { addr: usize, expected: u32 },
    /// A completion happened meanwhile: check again.
    Again,
    /// An entry is complete but its notification is being sent (or is
    /// held by a `lio_listio` still running): check again shortly.
    Unsent,
}

unsafe fn suspend_step(list: *const *const libc::aiocb, nent: c_int) -> Result<Step> {
    if nent < 0 || (list.is_null() && nent > 0) {
        return Err(Error::EINVAL);
    }
    let entries: &[*const libc::aiocb] = if nent == 0 {
        &[]
    } else {
        // SAFETY: `list` holds `nent` entries (caller's contract).
        unsafe { std::slice::from_raw_parts(list, nent as usize) }
    };
    if entries.iter().all(|p| p.is_null()) {
        return Ok(Step::Ready); // nothing to wait for
    }
    // Never builds the instance (async-signal-safe from the first call):
    // without one nothing can complete, so the sleep is on a quiet word.
    let Some(aio) = instance::try_global() else {
        let ready = entries.iter().any(|&cb| {
            // SAFETY: non-null entries are valid aiocbs (caller); aligned
            // ones only are read.
            !cb.is_null()
                && (cb as usize).is_multiple_of(std::mem::align_of::<RawAiocb>())
                && unsafe { instance::is_settled(cb.cast::<RawAiocb>()) }
        });
        return Ok(if ready {
            Step::Ready
        } else {
            Step::Sleep {
                addr: (&raw const crate::suspend::QUIET) as usize,
                expected: 0,
            }
        });
    };
    let ev = &aio.core.events;
    // The ticket first, then the check: a completion in between moves the
    // word, and `arm` (or the futex) sees it.
    let ticket = ev.ticket();
    let ready = entries.iter().copied().find(|&cb| {
        // SAFETY: non-null entries are valid aiocbs (caller); a misaligned
        // one is not touched (it is never complete).
        !cb.is_null()
            && (cb as usize).is_multiple_of(std::mem::align_of::<RawAiocb>())
            && unsafe { instance::is_settled(cb.cast::<RawAiocb>()) }
    });
    if let Some(cb) = ready {
        let cb = cb.cast::<RawAiocb>();
        // Return once its notification is sent too, as glibc does: a
        // program woken here finds its signal handler already run.
        // SAFETY: a valid, aligned aiocb (checked above).
        if !unsafe { instance::notification_sent(aio, cb) } {
            return Ok(Step::Unsent);
        }
        // SAFETY: as above.
        if unsafe { instance::wants_signal(cb) } {
            // A system call, so that a signal queued to this process is
            // delivered (its handler run) before we return.
            // SAFETY: plain syscall without arguments.
            unsafe { libc::syscall(libc::SYS_getpid) };
        }
        return Ok(Step::Ready);
    }
    Ok(match ev.arm(ticket) {
        None => Step::Again,
        Some(expected) => Step::Sleep {
            addr: ev.word_addr(),
            expected,
        },
    })
}

/// The body of `aio_suspend`. A cancellation point (POSIX): a pending
/// request is acted on before sleeping, and the futex system call itself
/// runs with asynchronous cancellation enabled (nothing else does: see
/// `suspend::sleep_cancellable`), so `pthread_cancel` ends the sleep.
/// Cancellation unwinds only through this frame, which holds nothing that
/// needs dropping; the Rust work (checks, registration, deadline) runs
/// inside [`guard`] with cancellation deferred. Async-signal-safe: it
/// never builds the instance, allocates nothing and takes no lock.
#[inline(always)]
unsafe fn suspend_entry(
    list: *const *const libc::aiocb,
    nent: c_int,
    timeout: *const libc::timespec,
) -> c_int {
    // SAFETY: plain libc call.
    unsafe { pthread_testcancel() };
    let deadline = match guard(Err(Error::EIO), || Ok(deadline_of(timeout))) {
        Ok(d) => d,
        Err(e) => {
            set_errno(e);
            return -1;
        }
    };
    // How long to wait for a completed entry's notification: microseconds
    // normally; bounded, because a held one waits for its lio_listio, which
    // a signal handler calling aio_suspend may have interrupted.
    let mut unsent_rounds = 0u32;
    loop {
        // SAFETY: forwarded from the entry point's contract.
        let step = guard(Err(Error::EIO), || Ok(unsafe { suspend_step(list, nent) }));
        let (addr, expected) = match step {
            Ok(Step::Ready) => return 0,
            Ok(Step::Again) => continue,
            Ok(Step::Unsent) if unsent_rounds >= 20_000 => return 0,
            Ok(Step::Unsent) => {
                unsent_rounds += 1;
                // SAFETY: plain syscall (async-signal-safe).
                unsafe { libc::sched_yield() };
                continue;
            }
            Ok(Step::Sleep { addr, expected }) => (addr, expected),
            Err(e) => {
                set_errno(e);
                return -1;
            }
        };
        // SAFETY: `addr` is a live event word; this frame holds nothing
        // that needs dropping (see the function docs).
        let wake = unsafe { crate::suspend::sleep_cancellable(addr, expected, deadline) };
        match wake {
            Wake::Changed => {}
            Wake::TimedOut => {
                set_errno(Error::EAGAIN);
                return -1;
            }
            Wake::Interrupted => {
                // SAFETY: plain libc call.
                unsafe { pthread_testcancel() };
                set_errno(Error::EINTR);
                return -1;
            }
        }
    }
}

unsafe fn do_cancel(fd: c_int, cb: *mut libc::aiocb) -> c_int {
    guard(-1, || {
        let aio = instance::global()?;
        let st = if cb.is_null() {
            aio.cancel_fd(fd)?
        } else {
            // SAFETY: forwarded from the entry point's contract.
            unsafe { aio.cancel_one(fd, cb.cast::<RawAiocb>())? }
        };
        Ok(st.to_c())
    })
}

unsafe fn do_listio(
    mode: c_int,
    list: *const *mut libc::aiocb,
    nent: c_int,
    sig: *mut libc::sigevent,
) -> c_int {
    guard(-1, || {
        let wait = match mode {
            libc::LIO_WAIT => true,
            libc::LIO_NOWAIT => false,
            _ => return Err(Error::EINVAL),
        };
        let aio = instance::global()?;
        // Any length (glibc's sysconf(_SC_AIO_LISTIO_MAX) says "no limit");
        // entries past the op budget fail with EAGAIN.
        // A negative count is an empty list, as in glibc.
        let nent = nent.max(0);
        if list.is_null() && nent > 0 {
            return Err(Error::EINVAL);
        }
        let notify = if sig.is_null() || wait {
            Notification::None
        } else {
            // SAFETY: a non-null sigevent is valid (caller); same layout.
            Notification::from_raw(unsafe { &*sig.cast::<crate::abi::RawSigevent>() })?
        };
        let entries: &[*mut RawAiocb] = if nent == 0 {
            &[]
        } else {
            // SAFETY: `list` holds `nent` entries (caller's contract).
            unsafe { std::slice::from_raw_parts(list.cast::<*mut RawAiocb>(), nent as usize) }
        };
        // SAFETY: forwarded from the entry point's contract.
        unsafe { aio.listio(wait, entries, notify)? };
        Ok(0)
    })
}

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
    /// The read runs on the service pools; `aio_error` answers
    /// `EINPROGRESS` until it completes, then the notification in
    /// `aio_sigevent` is sent. On a non-seekable descriptor (pipe, FIFO,
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
    /// and `aio_write` (their own `aio_sigevent` is honoured); `LIO_NOP`
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

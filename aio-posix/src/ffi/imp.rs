//! The implementations behind the entry points of [`ffi`](super), shared
//! by both names of each: errno and the panic guard, then one function per
//! entry point. Uses nothing of `ffi` itself (no import cycle).

use std::ffi::c_int;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use aio_core::{Error, OpKind, Result};

use crate::abi::RawAiocb;
use crate::instance;
use crate::notify::Notification;
use crate::pthread::{NoCancel, pthread_testcancel};
use crate::suspend::Wake;

// ---------------------------------------------------------------------------
// errno, panics (the call counters and AIO_POSIX_TRACE are in `trace`).
// ---------------------------------------------------------------------------

/// Sets `errno`: the one place the C ABI converts an [`Error`].
fn set_errno(e: Error) {
    // SAFETY: `__errno_location` returns this thread's errno.
    unsafe { *libc::__errno_location() = e.errno() };
}

/// Runs `f`, turning an error or a panic into `fail` and `errno`.
pub(super) fn guard<T>(fail: T, f: impl FnOnce() -> Result<T>) -> T {
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

/// [`guard`] with thread cancellation disabled while `f` runs: for the
/// entry points that are not cancellation points (POSIX lists none of
/// `aio_read`, `aio_write`, `aio_fsync`, `aio_cancel`, `lio_listio`'s
/// submission among the points, and glibc's never act on a pending
/// request). What they call may be one in glibc (`preadv2` for the inline
/// read, `getrandom` and `write` while the instance is built, `open` and
/// `write` of the trace file): without this, a thread with a cancellation
/// pending would be unwound out of the middle of a submission, and the
/// unwind caught by [`guard`] (glibc then aborts the process: "exception
/// not rethrown"). The request stays pending, to be acted on at the
/// thread's next cancellation point, as with glibc.
pub(super) fn guard_nocancel<T>(fail: T, f: impl FnOnce() -> Result<T>) -> T {
    let mut nc = NoCancel::new();
    nc.off();
    guard(fail, f)
}

/// [`guard_nocancel`] for a submission: cancellation is disabled only
/// from where the submission leaves its inline read (see [`NoCancel`]),
/// or at once when the instance must be built first.
fn guard_submit<T>(fail: T, f: impl FnOnce(&mut NoCancel) -> Result<T>) -> T {
    let mut nc = NoCancel::new();
    if instance::try_global().is_none() {
        nc.off();
    }
    guard(fail, || f(&mut nc))
}

// ---------------------------------------------------------------------------
// The implementations, shared by both names of each entry point.
// ---------------------------------------------------------------------------

pub(super) unsafe fn do_submit(cb: *mut libc::aiocb, kind: OpKind) -> c_int {
    guard_submit(-1, |nc| {
        // SAFETY: forwarded from the entry point's contract.
        let (aio, closed) = unsafe { instance::global_for(cb.cast::<RawAiocb>())? };
        let mut inline_left = aio.cfg.inline_max;
        // SAFETY: forwarded from the entry point's contract.
        unsafe {
            aio.submit(
                cb.cast::<RawAiocb>(),
                kind,
                None,
                &mut inline_left,
                closed,
                false,
                nc,
            )?
        };
        Ok(0)
    })
}

// --- aio_readv / aio_writev (extension, FreeBSD) -------------------------

pub(super) unsafe fn do_submitv(cb: *mut libc::aiocb, kind: OpKind) -> c_int {
    guard_submit(-1, |nc| {
        // SAFETY: forwarded from the entry point's contract.
        let (aio, closed) = unsafe { instance::global_for(cb.cast::<RawAiocb>())? };
        let mut inline_left = aio.cfg.inline_max;
        // SAFETY: forwarded from the entry point's contract.
        unsafe {
            aio.submit(
                cb.cast::<RawAiocb>(),
                kind,
                None,
                &mut inline_left,
                closed,
                true,
                nc,
            )?
        };
        Ok(0)
    })
}

// --- end aio_readv / aio_writev --------------------------------------------

pub(super) unsafe fn do_fsync(op: c_int, cb: *mut libc::aiocb) -> c_int {
    guard_submit(-1, |nc| {
        let kind = match op {
            libc::O_SYNC => OpKind::Fsync,
            libc::O_DSYNC => OpKind::Fdatasync,
            _ => return Err(Error::EINVAL),
        };
        // SAFETY: forwarded from the entry point's contract.
        let (aio, closed) = unsafe { instance::global_for(cb.cast::<RawAiocb>())? };
        // SAFETY: forwarded from the entry point's contract.
        unsafe { aio.submit(cb.cast::<RawAiocb>(), kind, None, &mut 0, closed, false, nc)? };
        Ok(0)
    })
}

pub(super) unsafe fn do_error(cb: *const libc::aiocb) -> c_int {
    // SAFETY: forwarded from the entry point's contract.
    guard(-1, || unsafe {
        instance::status::error_of(cb.cast::<RawAiocb>())
    })
}

pub(super) unsafe fn do_return(cb: *mut libc::aiocb) -> libc::ssize_t {
    // SAFETY: forwarded from the entry point's contract.
    guard(-1, || unsafe {
        instance::status::return_of(cb.cast::<RawAiocb>())
    })
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
                && unsafe { instance::status::is_settled(cb.cast::<RawAiocb>()) }
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
            && unsafe { instance::status::is_settled(cb.cast::<RawAiocb>()) }
    });
    if let Some(cb) = ready {
        let cb = cb.cast::<RawAiocb>();
        // Return once its notification is sent too, as glibc does: a
        // program woken here finds its signal handler already run.
        // SAFETY: a valid, aligned aiocb (checked above).
        if !unsafe { instance::status::notification_sent(aio, cb) } {
            return Ok(Step::Unsent);
        }
        // SAFETY: as above.
        if unsafe { instance::status::wants_signal(cb) } {
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
pub(super) unsafe fn suspend_entry(
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
                // Often the handler that ran is the awaited op's own
                // notification, sent just before the wake-up. If an entry
                // is complete now (and its notification sent), that is
                // the answer, as glibc's aio_suspend almost always gives
                // then; POSIX allows either (its EINTR text names this
                // very case). Otherwise EINTR.
                // (Its sent mark may trail the handler by a moment: the
                // completer marks it after the signal is queued.)
                for _ in 0..20_000 {
                    // SAFETY: forwarded from the entry point's contract.
                    match guard(Err(Error::EIO), || Ok(unsafe { suspend_step(list, nent) })) {
                        Ok(Step::Ready) => return 0,
                        // SAFETY: plain syscall (async-signal-safe).
                        Ok(Step::Unsent) => unsafe {
                            libc::sched_yield();
                        },
                        _ => break,
                    }
                }
                set_errno(Error::EINTR);
                return -1;
            }
        }
    }
}

pub(super) unsafe fn do_cancel(fd: c_int, cb: *mut libc::aiocb) -> c_int {
    guard_nocancel(-1, || {
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

pub(super) unsafe fn do_listio(
    mode: c_int,
    list: *const *mut libc::aiocb,
    nent: c_int,
    sig: *mut libc::sigevent,
) -> c_int {
    guard_nocancel(-1, || {
        let wait = match mode {
            libc::LIO_WAIT => true,
            libc::LIO_NOWAIT => false,
            _ => return Err(Error::EINVAL),
        };
        let aio = instance::global()?;
        // Any length (glibc's sysconf(_SC_AIO_LISTIO_MAX) says "no limit");
        // entries past the op budget fail with EAGAIN.
        // A negative count is an empty list (its LIO_NOWAIT notification
        // is sent), as glibc does (clauses lio_listio/nent_negative_*;
        // glibc sizes an array by the count, so what it does there is
        // undefined: one program saw no signal where these clauses see it).
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

/// `aio_waitcomplete`'s deadline: NULL waits (None), a zero timespec
/// polls, a negative or non-normalized one is `EINVAL` (FreeBSD's
/// `itimerfix`).
fn waitcomplete_deadline(timeout: *const libc::timespec) -> Result<Option<Instant>> {
    if timeout.is_null() {
        return Ok(None);
    }
    // SAFETY: a non-null timeout points at a timespec (caller's contract).
    let ts = unsafe { timeout.read() };
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return Err(Error::EINVAL);
    }
    let d = Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
    Ok(Some(Instant::now().checked_add(d).unwrap_or_else(|| {
        Instant::now() + Duration::from_secs(86400 * 365 * 100)
    })))
}

/// One step of `aio_waitcomplete`, inside [`guard`].
#[derive(Clone, Copy)]
enum ReapStep {
    /// An op reaped: its aiocb and result.
    Op(*mut RawAiocb, std::result::Result<usize, Error>),
    /// Sleep on the event word at `addr` while it holds `expected`.
    Sleep { addr: usize, expected: u32 },
    /// A completion happened meanwhile: look again.
    Again,
}

fn reap_step() -> Result<ReapStep> {
    // Nothing was ever submitted in this process (or since fork); the
    // instance built later reaps from the start.
    let Some(aio) = instance::try_global() else {
        instance::reap::process_reaps();
        return Err(Error::EAGAIN);
    };
    let ev = &aio.core.events;
    // The ticket first, then the look: a completion in between moves the
    // word (K5 follows K2..K3b), and `arm` or the futex sees it.
    let ticket = ev.ticket();
    Ok(match aio.reap_one()? {
        instance::reap::Reaped::Op(cb, r) => ReapStep::Op(cb, r),
        instance::reap::Reaped::Wait => match ev.arm(ticket) {
            None => ReapStep::Again,
            Some(expected) => ReapStep::Sleep {
                addr: ev.word_addr(),
                expected,
            },
        },
    })
}

/// The body of `aio_waitcomplete`: a cancellation point, like
/// `aio_suspend` (the futex system call alone runs with asynchronous
/// cancellation; this frame holds nothing that needs dropping, and no lock
/// is held while it sleeps).
#[inline(always)]
pub(super) unsafe fn waitcomplete_entry(
    iocbp: *mut *mut libc::aiocb,
    timeout: *const libc::timespec,
) -> libc::ssize_t {
    // SAFETY: plain libc call.
    unsafe { pthread_testcancel() };
    let fail = |e: Error| -> libc::ssize_t {
        if !iocbp.is_null() {
            // SAFETY: a non-null iocbp points at a pointer (caller).
            unsafe { iocbp.write(std::ptr::null_mut()) };
        }
        set_errno(e);
        -1
    };
    if iocbp.is_null() || !(iocbp as usize).is_multiple_of(std::mem::align_of::<*mut u8>()) {
        // Checked before anything is reaped: a result handed to nowhere
        // would be lost (FreeBSD's copyout fails with EFAULT after it).
        set_errno(Error::from_errno(libc::EFAULT));
        return -1;
    }
    let deadline = match guard(Err(Error::EIO), || Ok(waitcomplete_deadline(timeout))) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    loop {
        let step = guard(Err(Error::EIO), || Ok(reap_step()));
        let (addr, expected) = match step {
            Ok(ReapStep::Op(cb, r)) => {
                // SAFETY: checked non-null and aligned above.
                unsafe { iocbp.write(cb.cast::<libc::aiocb>()) };
                return match r {
                    Ok(n) => n as libc::ssize_t,
                    // As FreeBSD: -1 with the op's error, *iocbp its aiocb.
                    Err(e) => {
                        set_errno(e);
                        -1
                    }
                };
            }
            Ok(ReapStep::Again) => continue,
            Ok(ReapStep::Sleep { addr, expected }) => (addr, expected),
            Err(e) => return fail(e),
        };
        // SAFETY: `addr` is the live event word; this frame holds nothing
        // that needs dropping (see the function docs).
        match unsafe { crate::suspend::sleep_cancellable(addr, expected, deadline) } {
            Wake::Changed => {}
            Wake::TimedOut => return fail(Error::EINPROGRESS),
            Wake::Interrupted => {
                // SAFETY: plain libc call.
                unsafe { pthread_testcancel() };
                return fail(Error::EINTR);
            }
        }
    }
}

pub(super) fn completion_fd_imp() -> c_int {
    guard_nocancel(-1, || instance::global()?.completion_fd())
}

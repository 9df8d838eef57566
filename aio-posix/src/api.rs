//! The Rust API: POSIX AIO with owned buffers.
//!
//! A [`Request`] owns its control block and its buffer; submitting it
//! ([`aio_read`], [`aio_write`], [`aio_fsync`], [`lio_listio`]) moves it
//! into an [`InProgress`], which gives it back, with the result, once the
//! op completed ([`InProgress::try_return`], [`InProgress::wait`]). The
//! buffer therefore cannot be touched, moved or freed while the kernel may
//! use it, and dropping an `InProgress` cancels the op and waits for it.
//! Errors are [`aio_core::Error`] (an errno).
//!
//! ```
//! use std::os::fd::AsRawFd;
//! use aio_posix::{Request, aio_write, aio_read};
//!
//! let f = tempfile_like();
//! let w = aio_write(Request::write(f.as_raw_fd(), 0, b"hello".to_vec())).unwrap();
//! let (_, r) = w.wait(None).unwrap();
//! assert_eq!(r, Ok(5));
//! let rd = aio_read(Request::read(f.as_raw_fd(), 0, 5)).unwrap();
//! let (req, r) = rd.wait(None).unwrap();
//! assert_eq!((r, req.buf()), (Ok(5), &b"hello"[..]));
//! # fn tempfile_like() -> std::fs::File {
//! #     let p = std::env::temp_dir().join(format!("aio-posix-doc-{}", std::process::id()));
//! #     let f = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&p).unwrap();
//! #     std::fs::remove_file(&p).unwrap();
//! #     f
//! # }
//! ```
//!
//! The buffer cannot be reached while the op is in flight:
//!
//! ```compile_fail,E0382
//! use aio_posix::{Request, aio_read};
//! let req = Request::read(0, 0, 16);
//! let op = aio_read(req);
//! let _ = req.buf(); // error: `req` was moved into the submission
//! ```

use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use aio_core::sync::atomic::Ordering;
use aio_core::{Error, OpKind, Result};

use crate::abi::{RawAiocb, RawSigevent, SigevUnion, field};
use crate::instance::{self, CancelStatus, SuspendEnd, status};
use crate::notify::Notification;
use crate::pthread::NoCancel;

/// An operation to submit: its control block (a glibc `struct aiocb` on
/// the heap, so its address is stable) and its buffer.
///
/// The control block is owned through a raw pointer, never a `Box` or a
/// reference: while the op is in flight a completer writes its status
/// fields, and moving a `Box` (into an [`InProgress`], out of a
/// [`Refused`]) would assert unique access to memory another thread
/// writes. Request fields are written only while no op is in flight.
pub struct Request {
    cb: std::ptr::NonNull<RawAiocb>,
    buf: Vec<u8>,
    kind: OpKind,
}

impl Drop for Request {
    fn drop(&mut self) {
        // SAFETY: allocated by `Box::into_raw` in `Request::new`, freed
        // only here; a Request is dropped only when no op uses it (an
        // InProgress waits for its op before dropping its Request).
        drop(unsafe { Box::from_raw(self.cb.as_ptr()) });
    }
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // SAFETY: request fields, written only while no op is in flight.
        let (fd, offset) = unsafe {
            (
                (&raw const (*self.cb.as_ptr()).aio_fildes).read(),
                (&raw const (*self.cb.as_ptr()).aio_offset).read(),
            )
        };
        f.debug_struct("Request")
            .field("fd", &fd)
            .field("kind", &self.kind)
            .field("offset", &offset)
            .field("len", &self.buf.len())
            .finish()
    }
}

fn sigevent_of(n: Notification) -> RawSigevent {
    let mut ev = RawSigevent {
        sigev_value: 0,
        sigev_signo: 0,
        sigev_notify: libc::SIGEV_NONE,
        un: SigevUnion { pad: [0; 12] },
    };
    match n {
        Notification::None => {}
        Notification::Signal { signo, value } => {
            ev.sigev_notify = libc::SIGEV_SIGNAL;
            ev.sigev_signo = signo;
            ev.sigev_value = value;
        }
        Notification::ThreadId { signo, value, tid } => {
            ev.sigev_notify = libc::SIGEV_THREAD_ID;
            ev.sigev_signo = signo;
            ev.sigev_value = value;
            ev.un.tid = tid;
        }
        Notification::Thread {
            function, value, ..
        } => {
            ev.sigev_notify = libc::SIGEV_THREAD;
            ev.sigev_value = value;
            ev.un.thread = crate::abi::SigevThread {
                // SAFETY: a safe `extern "C" fn` is a valid `unsafe` one.
                function: Some(function),
                attributes: std::ptr::null_mut(),
            };
        }
    }
    ev
}

impl Request {
    fn new(fd: RawFd, offset: i64, buf: Vec<u8>, kind: OpKind, opcode: i32) -> Request {
        // SAFETY: an all-zero aiocb is valid (integers and null pointers).
        let mut cb: Box<RawAiocb> = Box::new(unsafe { std::mem::zeroed() });
        cb.aio_fildes = fd;
        cb.aio_offset = offset;
        cb.aio_lio_opcode = opcode;
        cb.aio_sigevent = sigevent_of(Notification::None);
        let mut buf = buf;
        cb.aio_buf = buf.as_mut_ptr().cast();
        cb.aio_nbytes = buf.len();
        let cb = std::ptr::NonNull::from(Box::leak(cb));
        Request { cb, buf, kind }
    }

    /// A read of `len` bytes at `offset` of `fd` (the offset is ignored on
    /// pipes, FIFOs, sockets and ptys).
    pub fn read(fd: RawFd, offset: i64, len: usize) -> Request {
        Request::new(fd, offset, vec![0; len], OpKind::Read, libc::LIO_READ)
    }

    /// A write of `data` at `offset` of `fd`.
    pub fn write(fd: RawFd, offset: i64, data: Vec<u8>) -> Request {
        Request::new(fd, offset, data, OpKind::Write, libc::LIO_WRITE)
    }

    /// A list entry that does nothing (`LIO_NOP`).
    pub fn nop() -> Request {
        Request::new(-1, 0, Vec::new(), OpKind::Read, libc::LIO_NOP)
    }

    /// Sets the notification sent when the op completes (default: none).
    pub fn notify(self, n: Notification) -> Request {
        // SAFETY: our aiocb, not in flight (the Request is not submitted).
        unsafe { (&raw mut (*self.cb.as_ptr()).aio_sigevent).write(sigevent_of(n)) };
        self
    }

    /// Sets `aio_reqprio` (0..=20; anything else makes submission fail
    /// with `EINVAL`).
    pub fn priority(self, p: i32) -> Request {
        // SAFETY: as in `notify`.
        unsafe { (&raw mut (*self.cb.as_ptr()).aio_reqprio).write(p) };
        self
    }

    /// The buffer (the data read, after a read).
    pub fn buf(&self) -> &[u8] {
        &self.buf
    }

    /// Takes the buffer.
    pub fn into_buf(mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    fn ptr(&mut self) -> *mut RawAiocb {
        self.cb.as_ptr()
    }
}

/// A submission that was refused: the request back, and why.
#[derive(Debug)]
pub struct Refused {
    /// The request, untouched.
    pub request: Request,
    /// The errno (`EINVAL`, `EBADF`, `EAGAIN`, `EOVERFLOW`, ...).
    pub error: Error,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "aio submission refused: {}", self.error)
    }
}

impl std::error::Error for Refused {}

/// A submitted op. Gives the [`Request`] back once complete; dropping it
/// cancels the op and waits for its completion.
#[must_use = "dropping an InProgress cancels the op and waits for it"]
#[derive(Debug)]
pub struct InProgress {
    req: Option<Request>,
}

impl InProgress {
    fn cb(&self) -> *mut RawAiocb {
        self.req
            .as_ref()
            .expect("present until returned")
            .cb
            .as_ptr()
    }

    /// `aio_error`: `None` while in progress, else the result (bytes
    /// transferred, or the error, `ECANCELED` if cancelled).
    pub fn error(&self) -> Option<Result<usize>> {
        // SAFETY: our boxed aiocb.
        let e = unsafe { field::error(self.cb(), Ordering::Acquire) };
        match e {
            libc::EINPROGRESS => None,
            0 => {
                // SAFETY: as above; read after the Acquire of the error.
                let r = unsafe { field::ret(self.cb()) };
                Some(Ok(r as usize))
            }
            e => Some(Err(Error::from_errno(e))),
        }
    }

    /// Whether the op completed.
    pub fn is_done(&self) -> bool {
        self.error().is_some()
    }

    /// `aio_return`: the request and its result if complete, else `self`.
    pub fn try_return(mut self) -> std::result::Result<(Request, Result<usize>), InProgress> {
        match self.error() {
            None => Err(self),
            Some(r) => {
                let mut req = self.req.take().expect("present until returned");
                // SAFETY: our aiocb, complete: mark it returned.
                let _ = unsafe { status::return_of(req.ptr()) };
                Ok((req, r))
            }
        }
    }

    /// Sleeps until the op completes (or `timeout` passes: the op is given
    /// back with `EAGAIN`; a signal: `EINTR`).
    #[allow(clippy::result_large_err)]
    pub fn wait(
        self,
        timeout: Option<Duration>,
    ) -> std::result::Result<(Request, Result<usize>), (InProgress, Error)> {
        match aio_suspend(&[&self], timeout) {
            Ok(()) => match self.try_return() {
                Ok(x) => Ok(x),
                Err(me) => Err((me, Error::EAGAIN)),
            },
            Err(e) => Err((self, e)),
        }
    }

    /// `aio_cancel(fd, aiocb)` for this op.
    pub fn cancel(&self) -> Result<CancelStatus> {
        let aio = instance::global()?;
        let cb = self.cb();
        // SAFETY: our aiocb; its request fields are not written while the
        // op is in flight.
        unsafe { aio.cancel_one((&raw const (*cb).aio_fildes).read(), cb) }
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        if self.req.is_none() {
            return;
        }
        if !self.is_done() {
            let _ = self.cancel();
            // The buffer may not be freed before the op completes.
            if let Ok(aio) = instance::global() {
                let cb = self.cb();
                // SAFETY: our boxed aiocb.
                while aio.sleep_until(None, || unsafe { status::is_settled(cb) })
                    != SuspendEnd::Ready
                {}
            }
        }
        // Take the result, so that an aio_waitcomplete in this process
        // never hands out (and marks) the aiocb freed with this request.
        // SAFETY: our boxed aiocb, complete.
        let _ = unsafe { status::return_of(self.cb()) };
    }
}

fn submit(mut req: Request, kind: OpKind) -> std::result::Result<InProgress, Refused> {
    let aio = match instance::global() {
        Ok(a) => a,
        Err(error) => {
            return Err(Refused {
                request: req,
                error,
            });
        }
    };
    let mut inline_left = aio.cfg.inline_max;
    let mut nc = NoCancel::new();
    // SAFETY: the aiocb and buffer are owned by the request, which the
    // InProgress keeps until the op completes.
    match unsafe {
        aio.submit(
            req.ptr(),
            kind,
            None,
            &mut inline_left,
            None,
            false,
            &mut nc,
        )
    } {
        Ok(()) => Ok(InProgress { req: Some(req) }),
        Err(error) => Err(Refused {
            request: req,
            error,
        }),
    }
}

/// `aio_read`: submits a read.
///
/// # SYNOPSIS
/// `aio_read(Request::read(fd, offset, len)) -> Result<InProgress, Refused>`
///
/// # DESCRIPTION
/// As the C [`crate::ffi::aio_read`]: the read runs on the service pools;
/// the [`InProgress`] reports it ([`InProgress::error`]), waits for it
/// ([`InProgress::wait`], [`aio_suspend`]) and gives the request back with
/// the data ([`InProgress::try_return`]).
///
/// # RETURN VALUES
/// The op in progress, or the request back with the reason.
///
/// # ERRORS
/// `EBADF` (fd not open), `EINVAL` (negative offset on a seekable fd, bad
/// priority or notification), `EAGAIN` (too many ops in flight),
/// `EOVERFLOW` (offset + length past `OFF_MAX`).
#[allow(clippy::result_large_err)]
pub fn aio_read(req: Request) -> std::result::Result<InProgress, Refused> {
    submit(req, OpKind::Read)
}

/// `aio_write`: submits a write.
///
/// # SYNOPSIS
/// `aio_write(Request::write(fd, offset, data)) -> Result<InProgress, Refused>`
///
/// # DESCRIPTION
/// As [`aio_read`], in the other direction (`O_APPEND` files and streams
/// write in submission order).
///
/// # RETURN VALUES
/// The op in progress, or the request back with the reason.
///
/// # ERRORS
/// As [`aio_read`].
#[allow(clippy::result_large_err)]
pub fn aio_write(req: Request) -> std::result::Result<InProgress, Refused> {
    submit(req, OpKind::Write)
}

/// Which flush [`aio_fsync`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// `O_SYNC`: `fsync`.
    Sync,
    /// `O_DSYNC`: `fdatasync`.
    DataSync,
}

/// `aio_fsync`: a flush of `fd` that completes after every write queued on
/// it before.
///
/// # SYNOPSIS
/// `aio_fsync(fd, SyncMode::Sync, Notification::None) -> Result<InProgress>`
///
/// # DESCRIPTION
/// `SyncMode::Sync` is `fsync` (`O_SYNC`), `SyncMode::DataSync` is
/// `fdatasync` (`O_DSYNC`).
///
/// # RETURN VALUES
/// The flush in progress.
///
/// # ERRORS
/// `EBADF`, `EINVAL` (bad notification), `EAGAIN`.
pub fn aio_fsync(fd: RawFd, mode: SyncMode, notify: Notification) -> Result<InProgress> {
    let req = Request::new(fd, 0, Vec::new(), OpKind::Fsync, libc::LIO_NOP).notify(notify);
    let kind = match mode {
        SyncMode::Sync => OpKind::Fsync,
        SyncMode::DataSync => OpKind::Fdatasync,
    };
    submit(req, kind).map_err(|r| r.error)
}

/// `aio_suspend`: waits for one of `ops`.
///
/// # SYNOPSIS
/// `aio_suspend(&[&op1, &op2], Some(timeout)) -> Result<()>`
///
/// # DESCRIPTION
/// Sleeps (no polling) until one of `ops` completed; returns at once if
/// one has, or if `ops` is empty.
///
/// # RETURN VALUES
/// `Ok(())` when one completed.
///
/// # ERRORS
/// `EAGAIN`: `timeout` passed. `EINTR`: a signal handler ran.
pub fn aio_suspend(ops: &[&InProgress], timeout: Option<Duration>) -> Result<()> {
    if ops.is_empty() {
        return Ok(());
    }
    let aio = instance::global()?;
    let deadline = timeout.map(|t| Instant::now() + t);
    let cbs: Vec<*const RawAiocb> = ops.iter().map(|o| o.cb().cast_const()).collect();
    // SAFETY: the aiocbs are owned by the borrowed InProgress values.
    let ready = || cbs.iter().any(|&cb| unsafe { status::is_settled(cb) });
    match aio.sleep_until(deadline, ready) {
        SuspendEnd::Ready => Ok(()),
        SuspendEnd::TimedOut => Err(Error::EAGAIN),
        SuspendEnd::Interrupted => Err(Error::EINTR),
    }
}

/// `aio_cancel(fd, NULL)`: cancels every op in flight on `fd`.
///
/// # SYNOPSIS
/// `aio_cancel(fd) -> Result<CancelStatus>`
///
/// # DESCRIPTION
/// Queued ops, and ops waiting for their resource (an empty pipe or
/// socket, a full pipe), complete with `ECANCELED` before this returns;
/// ops the kernel is transferring cannot be cancelled.
///
/// # RETURN VALUES
/// `Canceled` (all were), `NotCanceled` (one could not be), `AllDone`.
///
/// # ERRORS
/// `EBADF`: `fd` is not open.
pub fn aio_cancel(fd: RawFd) -> Result<CancelStatus> {
    instance::global()?.cancel_fd(fd)
}

/// `lio_listio`'s mode.
#[derive(Debug, Clone, Copy)]
pub enum ListMode {
    /// `LIO_WAIT`: return when every op completed.
    Wait,
    /// `LIO_NOWAIT`: return at once; send the notification when every op
    /// completed.
    NoWait(Notification),
}

/// `lio_listio`: submits a list of requests.
///
/// # SYNOPSIS
/// `lio_listio(ListMode::Wait, vec![req1, req2]) -> (Vec<InProgress>, Result<()>)`
///
/// # DESCRIPTION
/// Each request's `LIO_*` opcode comes from how it was made
/// ([`Request::read`], [`Request::write`], [`Request::nop`]). `Wait`
/// returns when every queued op completed; `NoWait` returns at once and
/// sends its notification when they all did (at once for an empty list).
///
/// # RETURN VALUES
/// Every request as an [`InProgress`] (complete, with its own error, if it
/// could not be queued) and the call's result.
///
/// # ERRORS
/// `EAGAIN` (an entry
/// could not be queued for lack of resources), `EIO` (an entry failed),
/// `EINTR` (`Wait` interrupted by a signal handler).
pub fn lio_listio(mode: ListMode, reqs: Vec<Request>) -> (Vec<InProgress>, Result<()>) {
    let mut reqs = reqs;
    let list: Vec<*mut RawAiocb> = reqs.iter_mut().map(|r| r.ptr()).collect();
    let r = instance::global().and_then(|aio| {
        let (wait, n) = match mode {
            ListMode::Wait => (true, Notification::None),
            ListMode::NoWait(n) => (false, n),
        };
        // SAFETY: the aiocbs and buffers are owned by `reqs`, which the
        // returned InProgress values keep until their ops complete.
        unsafe { aio.listio(wait, &list, n) }
    });
    let ops = reqs
        .into_iter()
        .map(|req| InProgress { req: Some(req) })
        .collect();
    (ops, r)
}

//! `--mode posix`: the path a C program takes, through the C ABI's own
//! functions (`aio_posix::ffi`, what `libaio_posix.so` exports) on a
//! file's descriptor, with C's data: `iodepth` preallocated `struct aiocb`
//! records per job, each with its own aligned buffer (so `direct` works
//! too), reused op after op. Nothing is allocated per request.
//!
//! `--reap` says how completions are found:
//!
//! * `suspend`: `aio_suspend` over the list of in-flight aiocbs (free
//!   slots are NULL entries, which POSIX says are ignored), then
//!   `aio_error` on each in-flight aiocb and `aio_return` on those done:
//!   O(iodepth) per wake, as a portable C program does.
//! * `waitcomplete`: FreeBSD's `aio_waitcomplete` (our extension) sleeps
//!   for the next completion and serves as its `aio_return`; then the rest
//!   are taken with a zero timeout, O(1) each.
//! * `fd`: `poll` on the completion descriptor (`aio_posix_completion_fd`),
//!   then drained with `aio_waitcomplete` and a zero timeout: what an
//!   event loop does.
//!
//! `aio_waitcomplete` reaps any op of the process, so those two need
//! `--jobs 1` (one reaping thread, as in an event loop).

use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Instant;

use aio_core::{Error, OpKind};
use aio_posix::ffi;
use blockdev::AlignedBuf;

use super::job::{Gen, JobResult, Shared, slot_buf};
use crate::args::{Args, DeviceSpec, Reap};

/// How long one wait may last before the run is declared hung.
const WAIT: libc::timespec = libc::timespec {
    tv_sec: 30,
    tv_nsec: 0,
};

/// One job's aiocbs and buffers, allocated before the first op.
struct Slots {
    /// The aiocbs: boxed slice, so their addresses never change while the
    /// library holds them.
    cbs: Box<[libc::aiocb]>,
    /// Each aiocb's buffer (`aio_buf` points into it).
    _bufs: Vec<AlignedBuf>,
    /// When each in-flight op was submitted.
    start: Vec<Instant>,
    /// Free slot numbers.
    free: Vec<usize>,
    /// The `aio_suspend` list: the in-flight aiocbs, NULL for free slots.
    list: Vec<*const libc::aiocb>,
    /// Ops in flight.
    inflight: usize,
}

impl Slots {
    fn new(fd: i32, a: &Args) -> Result<Slots, String> {
        let n = a.iodepth;
        let mut bufs = Vec::with_capacity(n);
        for i in 0..n {
            bufs.push(slot_buf(a.bs, 4096, a.seed.wrapping_add(i as u64))?);
        }
        let cbs: Box<[libc::aiocb]> = bufs
            .iter_mut()
            .map(|b: &mut AlignedBuf| {
                // A zero-filled aiocb with only the needed fields, as C does.
                // SAFETY: all-zero is a valid libc::aiocb (integers, pointers).
                let mut cb: libc::aiocb = unsafe { std::mem::zeroed() };
                cb.aio_fildes = fd;
                cb.aio_buf = b.as_mut_ptr().cast();
                cb.aio_nbytes = a.bs;
                cb
            })
            .collect();
        Ok(Slots {
            cbs,
            _bufs: bufs,
            start: vec![Instant::now(); n],
            free: (0..n).rev().collect(),
            list: vec![std::ptr::null(); n],
            inflight: 0,
        })
    }

    /// Submits the next op in a free slot; false if none is free.
    fn submit(&mut self, kind: OpKind, off: u64) -> Result<bool, String> {
        let Some(i) = self.free.pop() else {
            return Ok(false);
        };
        let cb = &mut self.cbs[i];
        cb.aio_offset = off as libc::off_t;
        self.start[i] = Instant::now();
        // SAFETY: `cb` and its buffer live in `self` (not moved: a boxed
        // slice and heap buffers) until the op is reaped by `reap_done`,
        // which runs before `self` is dropped (the job reaps every op).
        let r = unsafe {
            match kind {
                OpKind::Write => ffi::aio_write(cb),
                _ => ffi::aio_read(cb),
            }
        };
        if r != 0 {
            self.free.push(i);
            return Err(format!("aio submit: {}", Error::last_os_error()));
        }
        self.list[i] = cb;
        self.inflight += 1;
        Ok(true)
    }

    /// `aio_return` of slot `i`'s completed op, counted in `res`.
    fn finish(&mut self, i: usize, err: i32, res: &mut JobResult, sh: &Shared) {
        // SAFETY: slot `i` holds a submitted aiocb whose op is complete
        // (`aio_error` said so); it is returned once, here.
        let n = unsafe { ffi::aio_return(&mut self.cbs[i]) };
        let r = if n < 0 {
            Err(Error::from_errno(err))
        } else {
            Ok(n as usize)
        };
        res.record(r, self.start[i], sh);
        self.list[i] = std::ptr::null();
        self.free.push(i);
        self.inflight -= 1;
    }

    /// `reap suspend`: waits in `aio_suspend` for one op of the list, then
    /// reaps every op that is done.
    fn reap_suspend(&mut self, res: &mut JobResult, sh: &Shared) -> Result<(), String> {
        // SAFETY: `list` holds `len` entries, each NULL or a submitted,
        // live aiocb of `cbs`; WAIT is a valid timespec.
        let r = unsafe { ffi::aio_suspend(self.list.as_ptr(), self.list.len() as i32, &WAIT) };
        if r != 0 {
            let e = Error::last_os_error();
            if e == Error::EINTR {
                return Ok(());
            }
            return Err(format!("aio_suspend: {e}"));
        }
        for i in 0..self.list.len() {
            if self.list[i].is_null() {
                continue;
            }
            // SAFETY: a submitted, live aiocb.
            let err = unsafe { ffi::aio_error(self.list[i]) };
            if err != libc::EINPROGRESS {
                self.finish(i, err, res, sh);
            }
        }
        Ok(())
    }
}

impl Slots {
    /// Records op `cb`, reaped by `aio_waitcomplete` with result `r`.
    fn reaped(
        &mut self,
        cb: *mut libc::aiocb,
        r: Result<usize, Error>,
        res: &mut JobResult,
        sh: &Shared,
    ) -> Result<(), String> {
        let base = self.cbs.as_ptr() as usize;
        let at = (cb as usize).wrapping_sub(base);
        let i = at / std::mem::size_of::<libc::aiocb>();
        if !at.is_multiple_of(std::mem::size_of::<libc::aiocb>())
            || i >= self.cbs.len()
            || self.list[i].is_null()
        {
            return Err(format!(
                "aio_waitcomplete returned an aiocb not in flight here: {cb:p}"
            ));
        }
        res.record(r, self.start[i], sh);
        self.list[i] = std::ptr::null();
        self.free.push(i);
        self.inflight -= 1;
        Ok(())
    }

    /// One `aio_waitcomplete` with `timeout`: Ok(true) if an op was reaped,
    /// Ok(false) if none was complete (`EINPROGRESS`).
    fn wait_one(
        &mut self,
        timeout: &libc::timespec,
        res: &mut JobResult,
        sh: &Shared,
    ) -> Result<bool, String> {
        let mut cb: *mut libc::aiocb = std::ptr::null_mut();
        // SAFETY: valid out pointer and timespec; every aiocb in flight
        // lives in `self.cbs` until reaped.
        let n = unsafe { ffi::aio_waitcomplete(&mut cb, timeout) };
        if n >= 0 {
            self.reaped(cb, Ok(n as usize), res, sh)?;
            return Ok(true);
        }
        let e = Error::last_os_error();
        if !cb.is_null() {
            // The op failed: its error, its aiocb.
            self.reaped(cb, Err(e), res, sh)?;
            return Ok(true);
        }
        match e {
            Error::EINPROGRESS | Error::EINTR => Ok(false),
            e => Err(format!("aio_waitcomplete: {e}")),
        }
    }

    /// Takes every completion available now (zero timeout).
    fn drain(&mut self, res: &mut JobResult, sh: &Shared) -> Result<(), String> {
        const ZERO: libc::timespec = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        while self.inflight > 0 && self.wait_one(&ZERO, res, sh)? {}
        Ok(())
    }

    /// `reap waitcomplete`: sleeps for one completion, then takes the rest.
    fn reap_waitcomplete(&mut self, res: &mut JobResult, sh: &Shared) -> Result<(), String> {
        if !self.wait_one(&WAIT, res, sh)? {
            return Err("aio_waitcomplete: no completion in 30 s".into());
        }
        self.drain(res, sh)
    }

    /// `reap fd`: polls the completion descriptor, then drains.
    fn reap_fd(&mut self, fd: i32, res: &mut JobResult, sh: &Shared) -> Result<(), String> {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut p, 1, WAIT.tv_sec as i32 * 1000) };
        if r < 0 {
            let e = Error::last_os_error();
            return if e == Error::EINTR {
                Ok(())
            } else {
                Err(format!("poll: {e}"))
            };
        }
        if r == 0 {
            return Err("completion descriptor: no completion in 30 s".into());
        }
        self.drain(res, sh)
    }
}

/// POSIX mode: `iodepth` aiocbs in flight per job through the C ABI on the
/// file's own descriptor, reaped as `--reap` says.
pub(super) fn job_posix(a: &Args, mut workload: Gen, sh: &Shared) -> Result<JobResult, String> {
    let DeviceSpec::File { path, direct, .. } = &a.device else {
        return Err("--mode posix needs --device file:PATH".into());
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(if *direct { libc::O_DIRECT } else { 0 })
        .open(path)
        .map_err(|e| format!("cannot open '{path}': {e}"))?;
    let mut slots = Slots::new(file.as_raw_fd(), a)?;
    let cfd = if a.reap == Reap::Fd {
        let fd = ffi::aio_posix_completion_fd();
        if fd < 0 {
            return Err(format!(
                "aio_posix_completion_fd: {}",
                Error::last_os_error()
            ));
        }
        fd
    } else {
        -1
    };
    let mut res = JobResult::new();
    let mut failed = None;
    loop {
        while failed.is_none() && !slots.free.is_empty() && sh.claim() {
            let (kind, off) = workload.next();
            if let Err(e) = slots.submit(kind, off) {
                failed = Some(e);
            }
        }
        if slots.inflight == 0 {
            break;
        }
        let r = match a.reap {
            Reap::Suspend => slots.reap_suspend(&mut res, sh),
            Reap::Waitcomplete => slots.reap_waitcomplete(&mut res, sh),
            Reap::Fd => slots.reap_fd(cfd, &mut res, sh),
        };
        if let Err(e) = r {
            // The library still holds the in-flight aiocbs: they must not
            // be freed. Nothing better to do than to keep them.
            std::mem::forget(slots);
            return Err(e);
        }
    }
    // Every op was reaped: the aiocbs and buffers may go with `file`.
    drop(slots);
    drop(file);
    match failed {
        Some(e) => Err(e),
        None => Ok(res),
    }
}

//! Submission: an aiocb checked, routed and handed to the pools (or to
//! its stream queue), and the ways a refused one is undone.

use aio_core::sync::Arc;
use aio_core::sync::atomic::Ordering;
use aio_core::{Error, IoBuf, Op, OpKind, Result};
use aio_pool::{SubmitFlags, Submitted};
use blockdev::TryRead;

use crate::abi::{Fields, RawAiocb, TAG_SUBMITTED, W_GEN, W_INSTANCE, W_SLOT, W_TAG, field};
use crate::complete::on_complete;
use crate::group::Group;
use crate::notify::Notification;
use crate::pthread::NoCancel;
use crate::stream::StreamQ;

use super::{AIO_PRIO_DELTA_MAX, Instance, check_fd, vectored};

impl Instance {
    /// Submits one op described by `cb` (`aio_read`, `aio_write`,
    /// `aio_fsync`, a `lio_listio` entry).
    ///
    /// Errors are split as glibc splits them (see `README.md`,
    /// "Differences from glibc"): what the call itself can tell (a NULL or
    /// misaligned aiocb, one still in flight, a bad `aio_reqprio`, a bad
    /// sigevent, no room, and for `aio_fsync` a closed descriptor) fails
    /// the call; everything about the transfer (a closed or wrong-mode
    /// descriptor, a bad offset or length, a NULL buffer) is the op's
    /// result, reported by `aio_error` after the notification, exactly as
    /// the kernel would report it to `pread`/`pwrite`.
    ///
    /// `inline_left`: bytes this call may still transfer in the calling
    /// thread (the inline attempt is for small ops; `lio_listio` shares one
    /// budget across its list). `closed_fd`: a descriptor found closed
    /// before this call built the instance (see [`global_for`](super::global_for)).
    /// `vectored`: `aio_readv`/`aio_writev` (`LIO_READV`/`LIO_WRITEV`):
    /// `aio_buf` is an `iovec` array of `aio_nbytes` entries, copied in
    /// here; a bad count or array fails the call, as in FreeBSD (see
    /// [`vectored::take`]). `cancel`: thread cancellation is disabled
    /// through it before anything that is not the inline read (see
    /// [`NoCancel`]).
    ///
    /// # Safety
    /// `cb` is null or points at a valid aiocb whose buffer stays valid,
    /// like the aiocb, until the op completes.
    // (Eight arguments: each is one caller's answer to a different
    // question, and the four callers differ in all of them.)
    #[allow(clippy::too_many_arguments)]
    pub(crate) unsafe fn submit(
        &self,
        cb: *mut RawAiocb,
        kind: OpKind,
        group: Option<&Arc<Group>>,
        inline_left: &mut usize,
        closed_fd: Option<i32>,
        vectored: bool,
        cancel: &mut NoCancel,
    ) -> Result<()> {
        if kind != OpKind::Read || vectored {
            cancel.off();
        }
        if cb.is_null() || !(cb as usize).is_multiple_of(std::mem::align_of::<RawAiocb>()) {
            return Err(Error::EINVAL);
        }
        // SAFETY: a valid, aligned aiocb (caller).
        if unsafe { self.in_flight(cb) } {
            return Err(Error::EINVAL); // resubmitted while in flight
        }
        // SAFETY: valid aiocb; each field is read once, through the raw
        // pointer (no reference to memory a completer may write).
        let req = unsafe { Fields::read(cb) };
        if kind.is_transfer() && !(0..=AIO_PRIO_DELTA_MAX).contains(&req.reqprio) {
            // As glibc: the call fails and the aiocb says so too.
            // SAFETY: valid aiocb, not in flight.
            unsafe { self.set_final(cb, Error::EINVAL) };
            return Err(Error::EINVAL);
        }
        let notify = Notification::from_raw(&req.sigevent)?;
        if !matches!(notify, Notification::None) {
            cancel.off();
        }
        // aio_readv/aio_writev: the iovec array copied in now, so the
        // program may reuse it (FreeBSD); a bad one fails the call and the
        // aiocb says so too (as for a bad aio_reqprio).
        let segs = if vectored {
            // SAFETY: `take` reads the array through the kernel.
            match unsafe { vectored::take(req.buf, req.nbytes) } {
                Ok(s) => Some(s),
                Err(e) => {
                    // SAFETY: valid aiocb, not in flight.
                    unsafe { self.set_final(cb, e) };
                    return Err(e);
                }
            }
        } else {
            None
        };
        let nbytes = segs.as_ref().map_or(req.nbytes, |s| s.1);
        if !kind.is_transfer() {
            // aio_fsync: only aio_fildes and aio_sigevent count; a closed
            // descriptor fails the call (glibc and FreeBSD agree).
            check_fd(req.fd)?;
            if closed_fd == Some(req.fd) {
                return Err(Error::EBADF);
            }
        }
        let reserved = self.core.dispatch.reserve(&notify)?;
        // From here on the op is accepted: an error is its result.
        let fail = |e: Error| {
            // SAFETY: valid aiocb, not in flight (checked above).
            unsafe { self.fail_now(cb, e, notify, reserved) }
        };
        // A read of a number cached as a seekable file is tried in this
        // thread first, before it is routed (so with no system call but
        // the read itself) and without an op: when the device finishes
        // it, it completes here as an op failed at once does. The read's
        // own answer says what the routing `lseek` would have: ESPIPE, the
        // number now names a stream (routed afresh); would block, it has
        // offsets (routed to the same device, not tried again).
        let mut tried = false;
        let mut routed = None;
        // An op whose completion sends a signal is never done in this
        // thread (see `Notification::signals`).
        let quiet = !notify.signals();
        if kind == OpKind::Read
            && quiet
            && segs.is_none()
            && closed_fd != Some(req.fd)
            && nbytes <= *inline_left
            && (nbytes == 0 || !req.buf.is_null())
            && let Some(at) = positional(req.offset, nbytes)
            && let Some(attempt) = self.with_probe(req.fd, |file| {
                let idx = self.core.slab.alloc()?;
                // SAFETY: the caller keeps `aio_buf` valid for `aio_nbytes`
                // bytes until the op completes, and does not touch it
                // meanwhile; the op completes before this call returns.
                let r = unsafe { file.try_read(req.buf.cast(), nbytes, at) };
                // The device, kept only for the route of a read that
                // would block (rare: the page is not cached).
                let keep = matches!(r, TryRead::WouldBlock).then(|| Arc::clone(file));
                Some((idx, r, keep))
            })
        {
            let Some((idx, outcome, file)) = attempt else {
                self.core.dispatch.unreserve(reserved);
                return Err(Error::EAGAIN);
            };
            match outcome {
                TryRead::Done(Err(e)) if e == Error::ESPIPE => {
                    self.core.slab.free(idx);
                    cancel.off();
                    routed = Some(self.route_slow(req.fd, kind));
                }
                TryRead::Done(r) => {
                    *inline_left -= nbytes;
                    // SAFETY: valid aiocb, not in flight (checked above).
                    unsafe { self.complete_at_once(idx, cb, r, notify, group, true) };
                    return Ok(());
                }
                TryRead::WouldBlock => {
                    self.core.slab.free(idx);
                    tried = true;
                    let file = file.expect("kept for WouldBlock");
                    cancel.off();
                    routed = Some(self.route_tried(req.fd, &file));
                }
                TryRead::NotTried => self.core.slab.free(idx),
            }
        }
        // Past the inline read: nothing below is free of cancellation
        // points by design.
        cancel.off();
        let route = match routed.unwrap_or_else(|| self.route(req.fd, kind)) {
            // The number was closed when the call began; the instance built
            // since may have reused it for its own ring.
            _ if closed_fd == Some(req.fd) => return fail(Error::EBADF),
            Ok(r) => r,
            Err(e) if e == Error::EAGAIN || e == Error::ENOMEM => {
                self.core.dispatch.unreserve(reserved);
                return Err(Error::EAGAIN);
            }
            Err(e) => return fail(e),
        };
        let (offset, len) = if kind.is_transfer() {
            if nbytes > isize::MAX as usize {
                // What read(2)/write(2) say: no buffer can be that long,
                // and the kernel checks the range before the count.
                return fail(Error::from_errno(libc::EFAULT));
            }
            if segs.is_none() && req.buf.is_null() && nbytes > 0 {
                return fail(Error::from_errno(libc::EFAULT));
            }
            match positional(req.offset, nbytes) {
                Some(at) if route.seekable => (at, nbytes),
                Some(_) => (0, nbytes),
                // What glibc's pread/pwrite say about a negative offset (on
                // a stream and with O_APPEND too: the kernel checks it
                // before ESPIPE) or, on a file, an end past OFF_MAX.
                None if route.seekable || req.offset < 0 => return fail(Error::EINVAL),
                None => (0, nbytes),
            }
        } else {
            (0, 0)
        };
        let Some(idx) = self.core.slab.alloc() else {
            self.core.dispatch.unreserve(reserved);
            return Err(Error::EAGAIN);
        };
        let slot = &self.core.slab.slots[idx as usize];
        let (mut op, generation) = {
            let mut st = slot.st.lock();
            let op = st
                .op
                .take()
                .unwrap_or_else(|| Op::new(Arc::clone(&route.target), Vec::new()));
            st.fd = req.fd;
            st.aiocb = cb as usize;
            st.target = Some(Arc::clone(&route.target));
            (op, st.generation)
        };
        op.set_target(route.target);
        let buf = match segs {
            // SAFETY: the caller keeps each segment valid until the op
            // completes, and does not touch it meanwhile (its list is ours).
            Some((iov, _)) => unsafe { IoBuf::from_segment_vec(iov) },
            // SAFETY: the caller keeps `aio_buf` valid for `aio_nbytes`
            // bytes until the op completes, and does not touch it meanwhile.
            None => unsafe { IoBuf::from_raw_parts(req.buf.cast(), len) },
        };
        // The previous op's segment list, kept for the next aio_readv.
        if let Some(v) = op.set_io_buf(buf).into_segment_vec() {
            vectored::give_back(v);
        }
        if let Err(e) = op.prepare(kind, offset, len) {
            slot.st.lock().op = Some(op);
            self.core.slab.free(idx);
            return fail(e);
        }
        op.set_callback(on_complete);
        op.set_private(self.core.private_of(idx));
        if let Some(g) = group {
            g.add();
        }
        self.core.set_info(
            idx,
            cb,
            notify,
            group.map(Arc::clone),
            route.stream.clone(),
            generation,
        );
        // SAFETY: the aiocb is valid and not in flight (caller, checked);
        // its state fields are published before the op can complete.
        unsafe { self.mark_accepted(cb, idx, generation) };
        let mut flags = SubmitFlags::NONE;
        if let Some(q) = &route.stream {
            // FIFO per stream and direction: wait behind the active op, or
            // become it. Under the slot lock, so aio_cancel sees the op
            // either parked in the queue or not parked at all.
            let mut st = slot.st.lock();
            match q.admit(idx, op) {
                None => {
                    st.parked = Some(Arc::clone(q));
                    return Ok(());
                }
                Some(back) => op = back,
            }
            drop(st);
            flags = SubmitFlags::NO_INLINE;
        }
        // The inline attempt (the pools may run a transfer in this thread
        // when its device can do it without blocking) is for small ops:
        // aio_read must return promptly whatever the size.
        if tried || !quiet || len > *inline_left {
            flags = flags | SubmitFlags::NO_INLINE;
        } else {
            *inline_left -= len;
        }
        match self.pools.submit(op, flags) {
            Ok(Submitted::Pending(p)) => {
                slot.st.lock().pending = Some(p);
                Ok(())
            }
            Ok(Submitted::Done(op, _)) => {
                // Cannot happen: the op has a callback. Undo.
                self.undo(idx, op, cb, group, route.stream.as_deref());
                self.core.dispatch.unreserve(reserved);
                Err(Error::EIO)
            }
            Err(e) => {
                // Full queues: EAGAIN, as POSIX says. (ESHUTDOWN cannot
                // happen to the live instance; it is EAGAIN too.)
                self.undo(idx, e.op, cb, group, route.stream.as_deref());
                self.core.dispatch.unreserve(reserved);
                Err(Error::EAGAIN)
            }
        }
    }

    /// Whether `cb` holds an op of this instance that has not completed.
    /// (An aiocb copied into a fork child, or never submitted, does not.)
    ///
    /// # Safety
    /// `cb` points at a valid, aligned aiocb.
    pub(crate) unsafe fn in_flight(&self, cb: *const RawAiocb) -> bool {
        // SAFETY: the caller promises a valid aiocb.
        unsafe {
            field::word(cb, W_TAG, Ordering::Acquire) == TAG_SUBMITTED
                && field::error(cb, Ordering::Acquire) == libc::EINPROGRESS
                && field::word(cb, W_INSTANCE, Ordering::Relaxed) == self.instance
        }
    }

    /// Writes the state words of an accepted op served by slot `idx` of
    /// `generation`: in progress, then the tag (Release, last), so a
    /// reader of the tag sees the rest.
    ///
    /// # Safety
    /// `cb` points at a valid aiocb that is not in flight.
    unsafe fn mark_accepted(&self, cb: *mut RawAiocb, idx: u32, generation: u32) {
        // SAFETY: as the caller promises.
        unsafe {
            field::set_ret(cb, 0);
            field::set_error(cb, libc::EINPROGRESS, Ordering::Relaxed);
            field::set_word(cb, W_SLOT, idx, Ordering::Relaxed);
            field::set_word(cb, W_GEN, generation, Ordering::Relaxed);
            field::set_word(cb, W_INSTANCE, self.instance, Ordering::Relaxed);
            field::set_word(cb, W_TAG, TAG_SUBMITTED, Ordering::Release);
        }
    }

    /// Gives an aiocb that is not in flight a final status without running
    /// anything: `aio_error` says `e`, `aio_return` -1.
    ///
    /// # Safety
    /// `cb` points at a valid aiocb that is not in flight.
    pub(super) unsafe fn set_final(&self, cb: *mut RawAiocb, e: Error) {
        // SAFETY: as the caller promises.
        unsafe {
            field::set_ret(cb, -1);
            field::set_error(cb, e.errno(), Ordering::Relaxed);
            field::set_word(cb, W_SLOT, u32::MAX, Ordering::Relaxed);
            field::set_word(cb, W_INSTANCE, self.instance, Ordering::Relaxed);
            field::set_word(cb, W_TAG, TAG_SUBMITTED, Ordering::Release);
        }
    }

    /// Accepts an aiocb whose op fails at once with `e` (its notification
    /// is sent when it is valid and has a dispatcher credit). Without a
    /// free slot it only gets the final status (nothing to reap).
    ///
    /// # Safety
    /// `cb` points at a valid, aligned aiocb.
    pub(super) unsafe fn accept_failed(&self, cb: *mut RawAiocb, e: Error) {
        // SAFETY: as the caller promises.
        if unsafe { self.in_flight(cb) } {
            return;
        }
        // SAFETY: as above.
        let f = unsafe { Fields::read(cb) };
        let notify = Notification::from_raw(&f.sigevent).unwrap_or(Notification::None);
        let (notify, reserved) = match self.core.dispatch.reserve(&notify) {
            Ok(r) => (notify, r),
            Err(_) => (Notification::None, false),
        };
        // SAFETY: valid, not in flight.
        if unsafe { self.fail_now(cb, e, notify, reserved) }.is_err() {
            // SAFETY: valid, not in flight.
            unsafe { self.set_final(cb, e) };
        }
    }

    /// Completes an accepted op at once with error `e`, as if the kernel
    /// had refused the transfer: it takes a slot, so that it completes
    /// exactly as a submitted op does (the completed list, for
    /// `aio_waitcomplete`; the aiocb's status; sleepers; the notification,
    /// whose dispatcher credit the caller reserved: `reserved`). `EAGAIN`
    /// (the credit given back, the aiocb untouched) when no slot is free.
    ///
    /// # Safety
    /// `cb` points at a valid aiocb that is not in flight.
    pub(super) unsafe fn fail_now(
        &self,
        cb: *mut RawAiocb,
        e: Error,
        notify: Notification,
        reserved: bool,
    ) -> Result<()> {
        let Some(idx) = self.core.slab.alloc() else {
            self.core.dispatch.unreserve(reserved);
            return Err(Error::EAGAIN);
        };
        // SAFETY: as the caller promises.
        unsafe { self.complete_at_once(idx, cb, Err(e), notify, None, false) };
        Ok(())
    }

    /// Completes an accepted op with `res` in this thread, on slot `idx`
    /// (taken from the slab, never submitted): a read the device finished
    /// at once, or an op failed at once. It completes exactly as a
    /// submitted op does: the completed list, the aiocb's status,
    /// sleepers, the notification (whose dispatcher credit the caller
    /// reserved), and `group`'s count and notification. `inline`: a read
    /// the device finished (counted for `AIO_POSIX_STATS`).
    ///
    /// # Safety
    /// `cb` points at a valid aiocb that is not in flight.
    unsafe fn complete_at_once(
        &self,
        idx: u32,
        cb: *mut RawAiocb,
        res: Result<usize>,
        notify: Notification,
        group: Option<&Arc<Group>>,
        inline: bool,
    ) {
        let slot = &self.core.slab.slots[idx as usize];
        // Held across the completion, so that reclaim cannot recycle the
        // slot before it is finished.
        let mut st = slot.st.lock();
        st.home = true;
        if inline {
            self.core.slab.count_inline(idx, &st);
        }
        let generation = st.generation;
        // SAFETY: valid aiocb, not in flight (caller); published before
        // its completion (K2..K3b) below.
        unsafe { self.mark_accepted(cb, idx, generation) };
        if let Some(g) = group {
            g.add();
        }
        self.core
            .finish_now(idx, generation, cb, res, notify, group.map(Arc::clone));
        drop(st);
    }

    pub(super) fn undo(
        &self,
        idx: u32,
        op: Op,
        cb: *mut RawAiocb,
        group: Option<&Arc<Group>>,
        stream: Option<&StreamQ>,
    ) {
        let slot = &self.core.slab.slots[idx as usize];
        {
            let mut st = slot.st.lock();
            st.op = Some(op);
            st.target = None;
            st.aiocb = 0;
            st.fd = -1;
        }
        // Drop the group reference the slot took (never the last: the
        // submitter holds one).
        self.core
            .set_info(idx, std::ptr::null_mut(), Notification::None, None, None, 0);
        if let Some(g) = group {
            g.put();
        }
        self.core.slab.free(idx);
        // SAFETY: the aiocb is valid (the caller of `submit`).
        unsafe {
            field::set_word(cb, W_TAG, 0, Ordering::Release);
            field::set_error(cb, 0, Ordering::Relaxed);
        }
        // An aio_waitcomplete sleeper counted this op as outstanding: let
        // it look again.
        self.core.events.signal();
        // The refused op was its stream queue's active op: pass the turn.
        if let Some(q) = stream {
            self.core.release(q);
        }
    }
}

/// The offset of a transfer of `nbytes` at `offset` on a regular file or
/// block device, or `None` where pread/pwrite answer `EINVAL`: a negative
/// offset, or an end past `OFF_MAX`. (The submitter's inline read and the
/// routed op both ask this, so they cannot disagree.)
fn positional(offset: i64, nbytes: usize) -> Option<u64> {
    let at = u64::try_from(offset).ok()?;
    at.checked_add(nbytes as u64)
        .filter(|&end| end <= i64::MAX as u64)
        .map(|_| at)
}

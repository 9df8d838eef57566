//! Waiting for completions: the `aio_suspend` sleep and `lio_listio`.

use std::time::Instant;

use aio_core::sync::Arc;
use aio_core::sync::atomic::Ordering;
use aio_core::{Error, OpKind, Result};

use crate::abi::{LIO_READV, LIO_WRITEV, RawAiocb, field};
use crate::group::Group;
use crate::notify::Notification;
use crate::pthread::NoCancel;
use crate::suspend::Wake;

use super::{Instance, SuspendEnd};

impl Instance {
    /// Sleeps until `ready()` holds, `deadline` passes or a signal
    /// arrives. `ready` is checked after taking a ticket, so a completion
    /// between the check and the sleep is never missed.
    pub(crate) fn sleep_until(
        &self,
        deadline: Option<Instant>,
        mut ready: impl FnMut() -> bool,
    ) -> SuspendEnd {
        loop {
            let t = self.core.events.ticket();
            if ready() {
                return SuspendEnd::Ready;
            }
            match self.core.events.wait(t, deadline) {
                Wake::Changed => {}
                Wake::TimedOut => return SuspendEnd::TimedOut,
                Wake::Interrupted => return SuspendEnd::Interrupted,
            }
        }
    }

    /// `lio_listio`. Returns the error to report, if any.
    ///
    /// # Safety
    /// `list` holds `nent` pointers, each null or a valid aiocb (with its
    /// buffer) that stays valid until its op completes.
    pub(crate) unsafe fn listio(
        &self,
        wait: bool,
        list: &[*mut RawAiocb],
        sig: Notification,
    ) -> Result<()> {
        let sig = if wait { Notification::None } else { sig };
        // The list's own notification needs its credit too.
        self.core.dispatch.reserve(&sig)?;
        // LIO_NOWAIT "shall return immediately": no notification of the
        // list reaches the program before it has (README, "Notification
        // before return"); they are held in the group and sent from a
        // library thread after.
        let group = Arc::new(if wait {
            Group::new(sig)
        } else {
            Group::plugged(sig)
        });
        let (mut eagain, mut failed) = (false, false);
        // LIO_NOWAIT returns promptly: the whole list shares one inline
        // budget.
        let mut inline_left = self.cfg.inline_max;
        for &cb in list {
            if cb.is_null() {
                continue;
            }
            if !(cb as usize).is_multiple_of(std::mem::align_of::<RawAiocb>()) {
                failed = true; // not an aiocb we may touch
                continue;
            }
            // SAFETY: the caller promises valid aiocbs (aligned: checked).
            let opcode = unsafe { (&raw const (*cb).aio_lio_opcode).read() };
            let (kind, vectored) = match opcode {
                libc::LIO_NOP => continue,
                libc::LIO_READ => (OpKind::Read, false),
                libc::LIO_WRITE => (OpKind::Write, false),
                LIO_READV => (OpKind::Read, true),
                LIO_WRITEV => (OpKind::Write, true),
                _ => {
                    // As glibc: accepted, and the op fails with EINVAL.
                    // SAFETY: valid aiocb (caller).
                    unsafe { self.accept_failed(cb, Error::EINVAL) };
                    continue;
                }
            };
            // SAFETY: as above.
            // (`lio_listio` runs with cancellation disabled throughout.)
            let r = unsafe {
                self.submit(
                    cb,
                    kind,
                    Some(&group),
                    &mut inline_left,
                    None,
                    vectored,
                    &mut NoCancel::held(),
                )
            };
            if let Err(e) = r {
                eagain |= e == Error::EAGAIN;
                failed = true;
                // An entry still in flight from an earlier submission is
                // refused without touching it: its status belongs to that
                // op, whose completion will write it, after which the
                // program may free the aiocb (tests/c/lio_inflight.c).
                // SAFETY: valid aiocb (caller).
                if unsafe { self.in_flight(cb) } {
                    continue;
                }
                // The entry's own status says why (aio_error / aio_return).
                // SAFETY: valid aiocb (caller), not in flight.
                unsafe { self.set_final(cb, e) };
            }
        }
        let last = group.put();
        if last && wait {
            group.notify.send(&self.core.dispatch);
        }
        let own = (last && !wait).then(|| group.own_notification());
        // What completed meanwhile (and the list's own, if this was the
        // last reference), sent from a dispatcher thread, which then opens
        // the plug (`Group::release`): the list's notification is never
        // sent before its entries'.
        let held = group.release(own);
        if !held.is_empty() {
            let g = Arc::clone(&group);
            self.core
                .dispatch
                .push_batch(held, Box::new(move || g.release(None)));
        }
        if wait {
            let end = self.sleep_until(None, || group.is_done());
            if end == SuspendEnd::Interrupted {
                return Err(Error::EINTR);
            }
            for &cb in list {
                if cb.is_null() {
                    continue;
                }
                // SAFETY: valid aiocbs (caller); the group is done, so their
                // error codes are final.
                if !(cb as usize).is_multiple_of(std::mem::align_of::<RawAiocb>()) {
                    continue;
                }
                // SAFETY: valid aiocbs (caller); the group is done, so their
                // error codes are final.
                let (opcode, err) = unsafe {
                    (
                        (&raw const (*cb).aio_lio_opcode).read(),
                        field::error(cb, Ordering::Acquire),
                    )
                };
                if opcode != libc::LIO_NOP && err != 0 {
                    failed = true;
                }
            }
        }
        if eagain {
            Err(Error::EAGAIN)
        } else if failed {
            Err(Error::EIO)
        } else {
            Ok(())
        }
    }
}

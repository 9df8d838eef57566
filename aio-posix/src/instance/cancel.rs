//! `aio_cancel`: one aiocb, or every op of a descriptor.

use std::time::Duration;

use aio_core::sync::atomic::Ordering;
use aio_core::{CancelOutcome, Error, Result};

use crate::abi::{RawAiocb, TAG_SUBMITTED, W_GEN, W_INSTANCE, W_SLOT, W_TAG, field};
use crate::slab::SlotState;

use super::{Cancel, CancelStatus, Instance, check_fd};

impl Instance {
    /// `aio_cancel(fd, cb)` for one aiocb.
    ///
    /// # Safety
    /// `cb` points at a valid aiocb.
    pub(crate) unsafe fn cancel_one(&self, fd: i32, cb: *mut RawAiocb) -> Result<CancelStatus> {
        check_fd(fd)?;
        if !(cb as usize).is_multiple_of(std::mem::align_of::<RawAiocb>()) {
            return Err(Error::EINVAL);
        }
        // SAFETY: the caller promises a valid aiocb.
        let (cfd, idx, generation, live) = unsafe {
            (
                (&raw const (*cb).aio_fildes).read(),
                field::word(cb, W_SLOT, Ordering::Relaxed),
                field::word(cb, W_GEN, Ordering::Relaxed),
                self.in_flight(cb),
            )
        };
        if cfd != fd {
            return Err(Error::EINVAL);
        }
        if !live {
            // Submitted by another instance and still in progress there: a
            // fork child's copy of its parent's aiocb (the op runs in the
            // parent; here it never completes). Not done, and not ours to
            // cancel: glibc's answer, AIO_NOTCANCELED, which agrees with
            // the EINPROGRESS that aio_error reads from the copy.
            // SAFETY: the caller promises a valid aiocb.
            let foreign = unsafe {
                field::word(cb, W_TAG, Ordering::Acquire) == TAG_SUBMITTED
                    && field::error(cb, Ordering::Acquire) == libc::EINPROGRESS
                    && field::word(cb, W_INSTANCE, Ordering::Relaxed) != self.instance
            };
            return Ok(if foreign {
                CancelStatus::NotCanceled
            } else {
                CancelStatus::AllDone
            });
        }
        let Some(slot) = self.core.slab.slots.get(idx as usize) else {
            return Ok(CancelStatus::AllDone);
        };
        loop {
            let mut st = slot.st.lock();
            if st.generation != generation || st.aiocb != cb as usize {
                return Ok(CancelStatus::AllDone);
            }
            match self.cancel_locked(&mut st, idx) {
                Cancel::Done(s) => return Ok(s),
                Cancel::Retry => {
                    drop(st);
                    aio_core::sync::thread::yield_now();
                }
            }
        }
    }

    /// Cancels the op of a locked slot: removed from its stream queue and
    /// completed at once, or cancelled through the pools (and waited for,
    /// so that `aio_error` says `ECANCELED` on return).
    fn cancel_locked(&self, st: &mut SlotState, idx: u32) -> Cancel {
        if let Some(q) = st.parked.clone() {
            return match q.remove(idx) {
                Some(op) => {
                    self.core
                        .complete_unsubmitted(st, idx, op, Error::ECANCELED);
                    Cancel::Done(CancelStatus::Canceled)
                }
                // Released by the op ahead of it, not yet submitted.
                None => Cancel::Retry,
            };
        }
        let (Some(p), Some(t)) = (&st.pending, &st.target) else {
            return Cancel::Done(CancelStatus::AllDone);
        };
        if p.is_complete() {
            return Cancel::Done(CancelStatus::AllDone);
        }
        Cancel::Done(match self.pools.cancel(p, t) {
            CancelOutcome::Cancelled => {
                // A device cancel completes the op soon, on its worker.
                while !p.wait_timeout(Duration::from_secs(10)) {}
                CancelStatus::Canceled
            }
            CancelOutcome::InFlight => CancelStatus::NotCanceled,
            CancelOutcome::AlreadyDone => CancelStatus::AllDone,
        })
    }

    /// `aio_cancel(fd, NULL)`: every op in flight on `fd`.
    pub(crate) fn cancel_fd(&self, fd: i32) -> Result<CancelStatus> {
        check_fd(fd)?;
        let (mut cancelled, mut not) = (0, 0);
        // First every op of the descriptor still queued in the pools, in
        // one sweep per target: they are cancelled at once, before the
        // workers can take them, as glibc cancels its whole queue under
        // one lock. (Cancelling op by op, each after the previous device
        // cancel's round trip, let the workers start most of a long
        // queue meanwhile: 128 queued 1 MiB writes, 38 cancelled.)
        // The targets themselves are held (not just their addresses) until
        // the sweep is done, so that no address can be reused meanwhile by
        // another descriptor's target, whose ops the sweep would take.
        let mut targets: Vec<aio_core::sync::Arc<dyn aio_core::Target>> = Vec::new();
        for slot in self.core.slab.slots.iter() {
            let st = slot.st.lock();
            if st.fd == fd
                && st.parked.is_none()
                && st.pending.as_ref().is_some_and(|p| !p.is_complete())
                && let Some(t) = &st.target
                && !targets
                    .iter()
                    .any(|h| aio_pool::target_key(h) == aio_pool::target_key(t))
            {
                targets.push(aio_core::sync::Arc::clone(t));
            }
        }
        for t in &targets {
            cancelled += self.pools.cancel_target(aio_pool::target_key(t));
        }
        drop(targets);
        for (idx, slot) in self.core.slab.slots.iter().enumerate() {
            loop {
                let mut st = slot.st.lock();
                let live =
                    st.parked.is_some() || st.pending.as_ref().is_some_and(|p| !p.is_complete());
                if st.fd != fd || !live {
                    break;
                }
                match self.cancel_locked(&mut st, idx as u32) {
                    Cancel::Done(CancelStatus::Canceled) => cancelled += 1,
                    Cancel::Done(CancelStatus::NotCanceled) => not += 1,
                    Cancel::Done(CancelStatus::AllDone) => {}
                    Cancel::Retry => {
                        drop(st);
                        aio_core::sync::thread::yield_now();
                        continue;
                    }
                }
                break;
            }
        }
        Ok(if not > 0 {
            CancelStatus::NotCanceled
        } else if cancelled > 0 {
            CancelStatus::Canceled
        } else {
            CancelStatus::AllDone
        })
    }
}

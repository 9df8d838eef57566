//! An aiocb's status words read in place: `aio_error`, `aio_return`,
//! whether its notification was sent.

use aio_core::sync::atomic::Ordering;
use aio_core::{Error, Result};

use crate::abi::{RawAiocb, TAG_RETURNED, TAG_SUBMITTED, W_GEN, W_INSTANCE, W_SLOT, W_TAG, field};
use crate::notify::was_sent;
use crate::slab::ReturnClaim;

use super::Instance;

/// Whether `cb` may be touched at all: not NULL and aligned as a
/// `struct aiocb` is (`EINVAL` otherwise).
fn check_cb(cb: *const RawAiocb) -> Result<()> {
    if cb.is_null() || !(cb as usize).is_multiple_of(std::mem::align_of::<RawAiocb>()) {
        return Err(Error::EINVAL);
    }
    Ok(())
}

/// `aio_error` on a raw aiocb: the op's status, also after `aio_return`
/// (as glibc); `EINVAL` for an aiocb never submitted. Async-signal-safe:
/// two atomic loads.
///
/// # Safety
/// `cb` is null or points at a valid aiocb.
pub(crate) unsafe fn error_of(cb: *const RawAiocb) -> Result<i32> {
    check_cb(cb)?;
    // SAFETY: valid, aligned aiocb (caller, checked).
    let tag = unsafe { field::word(cb, W_TAG, Ordering::Acquire) };
    if tag != TAG_SUBMITTED && tag != TAG_RETURNED {
        return Err(Error::EINVAL);
    }
    // SAFETY: as above. Acquire: pairs with the completer's Release.
    Ok(unsafe { field::error(cb, Ordering::Acquire) })
}

/// `aio_return` on a raw aiocb: the result once; `EINVAL` for an aiocb
/// never submitted or already returned (also by `aio_waitcomplete`),
/// `EINPROGRESS` before completion. Async-signal-safe: atomic loads, a CAS
/// on the slot's claim word and one store.
///
/// # Safety
/// `cb` is null or points at a valid aiocb.
pub(crate) unsafe fn return_of(cb: *mut RawAiocb) -> Result<isize> {
    check_cb(cb)?;
    // SAFETY: valid, aligned aiocb (caller, checked).
    if unsafe { field::word(cb, W_TAG, Ordering::Acquire) } != TAG_SUBMITTED {
        return Err(Error::EINVAL);
    }
    // SAFETY: as above. Acquire: pairs with the completer's Release.
    if unsafe { field::error(cb, Ordering::Acquire) } == libc::EINPROGRESS {
        return Err(Error::EINPROGRESS);
    }
    // Claim the result against aio_waitcomplete (the slot's claim word,
    // while the slot still serves this op): one of the two takes it.
    if let Some(aio) = super::try_global() {
        // SAFETY: valid aiocb (caller, checked).
        let (idx, generation, instance) = unsafe {
            (
                field::word(cb, W_SLOT, Ordering::Relaxed),
                field::word(cb, W_GEN, Ordering::Relaxed),
                field::word(cb, W_INSTANCE, Ordering::Relaxed),
            )
        };
        if instance == aio.instance {
            match aio.core.slab.claim_for_return(idx, generation) {
                ReturnClaim::Mine => {}
                ReturnClaim::Reaped => return Err(Error::EINVAL), // aio_waitcomplete took it
                ReturnClaim::Moved => {
                    // The slot moved on: a reaper that took this op marked
                    // the tag before the slot was recycled.
                    // SAFETY: valid aiocb (caller).
                    if unsafe { field::word(cb, W_TAG, Ordering::Acquire) } != TAG_SUBMITTED {
                        return Err(Error::EINVAL);
                    }
                }
            }
        }
    }
    // SAFETY: valid aiocb; the error code was read with Acquire, so the
    // return value written before it is visible.
    unsafe {
        let r = field::ret(cb);
        field::set_word(cb, W_TAG, TAG_RETURNED, Ordering::Release);
        Ok(r)
    }
}

/// Whether an aiocb no longer counts as in progress for `aio_suspend`.
///
/// # Safety
/// `cb` points at a valid, aligned aiocb.
pub(crate) unsafe fn is_settled(cb: *const RawAiocb) -> bool {
    // SAFETY: valid aiocb (caller).
    unsafe {
        field::word(cb, W_TAG, Ordering::Acquire) != TAG_SUBMITTED
            || field::error(cb, Ordering::Acquire) != libc::EINPROGRESS
    }
}

/// Whether a settled aiocb's notification has been sent too (a woken
/// `aio_suspend` returns only then, as glibc's, whose completer holds its
/// lock across both). True for an aiocb that asks for none (its
/// completer marks nothing), and for one this instance has no slot for.
///
/// # Safety
/// `cb` points at a valid, aligned aiocb.
pub(crate) unsafe fn notification_sent(aio: &Instance, cb: *const RawAiocb) -> bool {
    // SAFETY: valid aiocb (caller); request fields, raw reads (the program
    // does not change them while the op is in flight).
    let (how, signo) = unsafe {
        (
            (&raw const (*cb).aio_sigevent.sigev_notify).read(),
            (&raw const (*cb).aio_sigevent.sigev_signo).read(),
        )
    };
    let silent = how == libc::SIGEV_NONE
        || ((how == libc::SIGEV_SIGNAL || how == libc::SIGEV_THREAD_ID) && signo == 0);
    if silent {
        return true;
    }
    // SAFETY: valid aiocb (caller).
    let (idx, generation, instance) = unsafe {
        (
            field::word(cb, W_SLOT, Ordering::Relaxed),
            field::word(cb, W_GEN, Ordering::Relaxed),
            field::word(cb, W_INSTANCE, Ordering::Relaxed),
        )
    };
    if instance != aio.instance {
        return true;
    }
    match aio.core.slab.slots.get(idx as usize) {
        Some(slot) => was_sent(&slot.sent, generation),
        None => true,
    }
}

/// Whether the aiocb asks for a signal (`SIGEV_SIGNAL`/`SIGEV_THREAD_ID`
/// with a signal number).
///
/// # Safety
/// `cb` points at a valid, aligned aiocb.
pub(crate) unsafe fn wants_signal(cb: *const RawAiocb) -> bool {
    // SAFETY: valid aiocb (caller); request fields, raw reads.
    let (how, signo) = unsafe {
        (
            (&raw const (*cb).aio_sigevent.sigev_notify).read(),
            (&raw const (*cb).aio_sigevent.sigev_signo).read(),
        )
    };
    (how == libc::SIGEV_SIGNAL || how == libc::SIGEV_THREAD_ID) && signo > 0
}

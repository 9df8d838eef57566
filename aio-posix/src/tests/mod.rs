//! Loom models of aio-posix's protocols. Compiled only under `cfg(loom)`;
//! run by `scripts/loom.sh` (every model) and `scripts/loom.sh --mutants`
//! (each mutant in `scripts/mutants/aio-posix.txt` must make its model
//! fail). `../README.md` is the prose description of each protocol.
//!
//! Each model is one small scenario with two or three threads; a comment
//! on each says what a failure looks like.

mod loom_counters;
mod loom_dispatch;
mod loom_lio;
mod loom_notify;
mod loom_reap;
mod loom_slab;
mod loom_stream;
mod loom_suspend;

#[allow(unused_imports)]
pub(super) use aio_core::loom_support::{model, nop};

use aio_core::sync::atomic::Ordering;
use aio_core::{Op, OpKind, Pending, Queued};

use crate::abi::{RawAiocb, field};
use crate::complete::{Completer, on_complete};
use crate::notify::Notification;

/// A boxed, zero-filled aiocb whose op is in progress (free it with
/// `Box::from_raw` once its op is delivered).
pub(super) fn aiocb() -> *mut RawAiocb {
    // SAFETY: an all-zero aiocb is valid.
    let cb = Box::into_raw(Box::new(unsafe { std::mem::zeroed::<RawAiocb>() }));
    // SAFETY: ours.
    unsafe { field::set_error(cb, libc::EINPROGRESS, Ordering::Relaxed) };
    cb
}

/// Enqueues an op on a fresh slot of `core` for `cb`, as
/// `Instance::submit` does (callback, private, info); returns the slot,
/// the Pending (the caller stores it in the slot, where its model wants
/// that store) and the queued half, to be completed.
pub(super) fn enqueue(core: &Completer, cb: *mut RawAiocb) -> (u32, Pending, Queued) {
    let idx = core.slab.alloc().expect("a free slot");
    let mut op = Op::new(nop(), Vec::new());
    op.prepare(OpKind::Read, 0, 0).unwrap();
    op.set_callback(on_complete);
    op.set_private(core.private_of(idx));
    core.set_info(idx, cb, Notification::None, None, None, 0);
    let (pending, queued) = op.enqueue();
    (idx, pending, queued)
}

/// [`enqueue`], with the Pending stored in the slot at once.
pub(super) fn submit(core: &Completer, cb: *mut RawAiocb) -> (u32, Queued) {
    let (idx, pending, queued) = enqueue(core, cb);
    core.slab.slots[idx as usize].st.lock().pending = Some(pending);
    (idx, queued)
}

//! The op slab's reclaim against the completion callback (`README.md`,
//! "The slab").

use aio_core::sync::Arc;
use aio_core::sync::atomic::Ordering;
use aio_core::sync::thread;
use aio_core::{Op, OpKind};

use super::{model, nop};
use crate::abi::{RawAiocb, field};
use crate::complete::{Completer, on_complete};
use crate::notify::Notification;

/// A slab of one slot: an op is submitted and completed by a servicer
/// thread (which runs the real callback); as soon as the aiocb says the op
/// is done, the submitter allocates again. The slot must come back: either
/// at once, or after aio-core delivers the op (`reclaim` keeps it on the
/// done list meanwhile). Mutant `slab-drop-undelivered` forgets a slot
/// whose op is not delivered yet: the allocation fails with nothing left
/// to reclaim.
#[test]
fn loom_slab_reclaim_vs_delivery() {
    model(|| {
        let core = Arc::new(Completer::new(1, 1, |op| {
            Err((op, aio_core::Error::EAGAIN))
        }));
        // SAFETY: an all-zero aiocb is valid.
        let cb: Box<RawAiocb> = Box::new(unsafe { std::mem::zeroed() });
        let cb = Box::into_raw(cb);
        // SAFETY: our aiocb.
        unsafe { field::set_error(cb, libc::EINPROGRESS, Ordering::Relaxed) };
        let idx = core.slab.alloc().expect("one free slot");
        let mut op = Op::new(nop(), Vec::new());
        op.prepare(OpKind::Read, 0, 0).unwrap();
        op.set_callback(on_complete);
        op.set_private(core.private_of(idx));
        core.set_info(idx, cb, Notification::None, None, None, 0);
        let (pending, queued) = op.enqueue();
        let t = thread::spawn(move || {
            queued.start().expect("not cancelled").complete(Ok(0));
        });
        core.slab.slots[idx as usize].st.lock().pending = Some(pending);
        // SAFETY: our aiocb; the completer's last touch is the store we
        // wait for.
        while unsafe { field::error(cb, Ordering::Acquire) } == libc::EINPROGRESS {
            thread::yield_now();
        }
        loop {
            if core.slab.alloc().is_some() {
                break;
            }
            assert!(
                core.slab.reclaim(),
                "a completed op's slot was lost: nothing left to reclaim"
            );
            thread::yield_now();
        }
        t.join().unwrap();
        // SAFETY: from Box::into_raw above; the op is delivered.
        drop(unsafe { Box::from_raw(cb) });
    });
}

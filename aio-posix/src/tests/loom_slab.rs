//! The op slab's reclaim against the completion callback (`README.md`,
//! "The slab").

use aio_core::sync::Arc;
use aio_core::sync::atomic::Ordering;
use aio_core::sync::thread;

use super::{aiocb, enqueue, model};
use crate::abi::field;
use crate::complete::Completer;

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
        let cb = aiocb();
        let (idx, pending, queued) = enqueue(&core, cb);
        let t = thread::spawn(move || {
            queued.start().expect("not cancelled").complete(Ok(0));
        });
        // After the completer may have run: reclaim must cope with a slot
        // whose Pending is not stored yet.
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

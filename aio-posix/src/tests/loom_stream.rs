//! A stream queue: admission of the next op against the completion of
//! the active one (`README.md`, "Streams").

use aio_core::sync::Arc;
use aio_core::sync::atomic::Ordering;
use aio_core::sync::thread;
use aio_core::{Error, Op, OpKind, Pending};

use super::{aiocb, model, nop};
use crate::abi::{RawAiocb, field};
use crate::complete::{Completer, on_complete};
use crate::notify::Notification;
use crate::stream::StreamQ;

/// Resubmission that services the op at once on the calling thread.
fn run_now(op: Op) -> Result<Pending, (Op, Error)> {
    let (p, q) = op.enqueue();
    q.start().expect("nobody cancels it").complete(Ok(0));
    Ok(p)
}

fn op_for(core: &Completer, idx: u32, cb: *mut RawAiocb, q: &Arc<StreamQ>) -> Op {
    let mut op = Op::new(nop(), Vec::new());
    op.prepare(OpKind::Read, 0, 0).unwrap();
    op.set_callback(on_complete);
    op.set_private(core.private_of(idx));
    core.set_info(idx, cb, Notification::None, None, Some(Arc::clone(q)), 0);
    op
}

/// The active op of a stream completes on one thread (its callback
/// releases the queue) while the program queues a second op. The second
/// op must run: either it is queued and released, or it arrives after the
/// queue went idle and runs at once. Mutant `stream-admit-split` lets the
/// queue go idle between the decision to queue and the queueing: the op
/// is stranded and never completes.
#[test]
fn loom_stream_admit_vs_release() {
    model(|| {
        let core = Arc::new(Completer::new(2, 1, run_now));
        let q = Arc::new(StreamQ::default());
        let (cb1, cb2) = (aiocb(), aiocb());
        let i1 = core.slab.alloc().unwrap();
        let op1 = op_for(&core, i1, cb1, &q);
        let op1 = q.admit(i1, op1).expect("an idle queue runs its first op");
        let (p1, queued) = op1.enqueue();
        core.slab.slots[i1 as usize].st.lock().pending = Some(p1);
        let t = thread::spawn(move || {
            queued.start().expect("live").complete(Ok(0));
        });
        let i2 = core.slab.alloc().unwrap();
        let op2 = op_for(&core, i2, cb2, &q);
        let run = {
            let mut st = core.slab.slots[i2 as usize].st.lock();
            match q.admit(i2, op2) {
                None => {
                    st.parked = Some(Arc::clone(&q));
                    None
                }
                Some(op) => Some(op),
            }
        };
        if let Some(op) = run {
            let p = run_now(op).unwrap_or_else(|_| unreachable!());
            core.slab.slots[i2 as usize].st.lock().pending = Some(p);
        }
        t.join().unwrap();
        // SAFETY: our aiocbs.
        unsafe {
            assert_eq!(field::error(cb1, Ordering::Acquire), 0);
            assert_eq!(
                field::error(cb2, Ordering::Acquire),
                0,
                "the queued op was stranded"
            );
            drop(Box::from_raw(cb1));
            drop(Box::from_raw(cb2));
        }
    });
}

//! Cancel racing start and completion: exactly one outcome.

use super::{model, nop};
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::{Arc, thread};
use crate::{CancelOutcome, Completion, Error, Op};

fn count(c: &Completion<'_>) {
    // private points at a loom AtomicUsize owned by the model.
    // SAFETY: the model keeps the counter alive until both threads joined.
    let n = unsafe { &*(c.private() as *const AtomicUsize) };
    n.fetch_add(1, Ordering::Relaxed);
}

/// The owner cancels while a servicer starts and completes the op.
///
/// Fails if both win (the callback runs twice, or loom reports a race on
/// `result`: mutant `cancel-not-atomic`) or if neither does (the waiter
/// deadlocks).
#[test]
fn loom_cancel_vs_complete() {
    model(|| {
        let calls = Arc::new(AtomicUsize::new(0));
        let mut op = Op::new(nop(), vec![0u8; 1]);
        op.set_callback(count);
        op.set_private(Arc::as_ptr(&calls) as usize);
        let (pending, queued) = op.enqueue();
        let servicer = thread::spawn(move || {
            if let Some(f) = queued.start() {
                f.complete(Ok(1));
                true
            } else {
                false
            }
        });
        let outcome = pending.cancel();
        let started = servicer.join().unwrap();
        let (_, r) = pending.wait();
        match outcome {
            CancelOutcome::Cancelled => {
                assert!(!started);
                assert_eq!(r, Err(Error::ECANCELED));
            }
            CancelOutcome::InFlight | CancelOutcome::AlreadyDone => {
                assert!(started);
                assert_eq!(r, Ok(1));
            }
        }
        assert_eq!(
            calls.load(Ordering::Relaxed),
            1,
            "completed other than once"
        );
    });
}

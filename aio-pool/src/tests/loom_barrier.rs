//! The fsync barrier vs the completion of an earlier write (order.rs).

use super::{async_op, model, nop};
use crate::order::{Admit, OrderTable};
use crate::pool::{Meta, Token, Work};
use aio_core::OpKind;
use aio_core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use aio_core::sync::{Arc, thread};

fn work(target: &Arc<dyn aio_core::Target>, kind: OpKind) -> Work {
    let (pending, q) = async_op(target, kind).enqueue();
    drop(pending);
    let m = Meta {
        op: q.key(),
        key: q.target_key(),
        kind,
        fifo: false,
        tracked: false,
        epoch: 0,
        home: 0,
    };
    Work {
        tok: Token::Queued(q),
        m,
    }
}

/// A write is admitted; then a device thread completes it and reports it
/// finished while the submitter admits an fsync on the same target. The
/// fsync must be dispatched exactly once (by the submitter if the write
/// had finished, else by the completer's release), and only after the
/// write completed.
///
/// Fails with "fsync never dispatched" under mutant `fsync-check-unlocked`
/// (the fsync decides to wait, drops the shard lock, and parks itself after
/// the write's release already ran).
#[test]
fn loom_fsync_barrier_vs_write_completion() {
    model(|| {
        let table = Arc::new(OrderTable::default());
        let target = nop();
        let Admit::Run(w) = table.admit(work(&target, OpKind::Write)) else {
            panic!("a write is never parked")
        };
        let wm = w.m;
        drop(w);
        let written = Arc::new(AtomicBool::new(false));
        let dispatched = Arc::new(AtomicUsize::new(0));

        let (t2, wr2, d2) = (
            Arc::clone(&table),
            Arc::clone(&written),
            Arc::clone(&dispatched),
        );
        let device = thread::spawn(move || {
            wr2.store(true, Ordering::Relaxed);
            let mut out = Vec::new();
            t2.finished(wm.key, wm.tracked, wm.epoch, wm.fifo, &mut out);
            for w in out {
                assert_eq!(w.m.kind, OpKind::Fsync);
                // The shard lock orders the write's completion before this.
                assert!(
                    wr2.load(Ordering::Relaxed),
                    "fsync released before its write completed"
                );
                d2.fetch_add(1, Ordering::Relaxed);
                // What `Shared::push_all` does once the op is queued.
                t2.parked.fetch_sub(1, Ordering::SeqCst);
            }
        });
        if let Admit::Run(_) = table.admit(work(&target, OpKind::Fsync)) {
            assert!(
                written.load(Ordering::Relaxed),
                "fsync ran before its write completed"
            );
            dispatched.fetch_add(1, Ordering::Relaxed);
        }
        device.join().unwrap();
        assert_eq!(
            dispatched.load(Ordering::Relaxed),
            1,
            "fsync never dispatched (or twice)"
        );
        assert_eq!(table.parked(), 0);
    });
}

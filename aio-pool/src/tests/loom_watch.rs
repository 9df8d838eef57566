//! FIFO order watches exactly the op it depends on (order.rs, "How
//! completion is known"): a worker confirms an ordered op by its
//! `OpWatch`, not by its engine draining.

use super::{Keep, model};
use crate::SubmitFlags;
use crate::config::{Class, PoolConfig};
use crate::set::{PoolSet, ShutdownMode, Submitted};
use aio_core::sync::{Arc, Mutex, UnsafeCell, thread};
use aio_core::{
    Attempt, Completion, EngineTicket, Engines, FlushKind, InFlight, Op, OpKind, Result, Strategy,
    Target,
};

/// Device `b`: parks each op with its engine ticket; the model itself plays
/// its completion, when it chooses.
struct ParkDevice {
    slot: Arc<Mutex<Option<(InFlight, EngineTicket)>>>,
}

/// Device `a`: completes the op at offset 0 on a thread of its own (with a
/// ticket), after writing `done`; any other op inside `submit`, after
/// reading `done`.
struct ThreadDevice {
    done: Arc<Done>,
}

/// What the first write of `a` did, as plain memory: written by `a`'s
/// device thread before it completes that write, read when the second
/// write starts. Nothing but the first write's delivery orders the two,
/// and loom's checked cell reports the read if it is not ordered after
/// the write.
struct Done(UnsafeCell<bool>);

// SAFETY: `Done` is accessed only as the model's protocol allows: one
// write, by `a`'s device thread before it delivers the first write, and
// reads by the worker once the order table released the second write,
// which the protocol under test orders after that delivery. Under loom the
// cell is checked, so an access the protocol does not order fails the
// model instead of racing.
unsafe impl Sync for Done {}

macro_rules! plain_target {
    ($t:ty) => {
        impl Target for $t {
            fn read_at(&self, b: &mut [u8], _: u64) -> Attempt<Result<usize>> {
                Attempt::Ready(Ok(b.len()))
            }
            fn write_at(&self, b: &[u8], _: u64) -> Attempt<Result<usize>> {
                Attempt::Ready(Ok(b.len()))
            }
            fn flush(&self, _: FlushKind) -> Attempt<Result<()>> {
                Attempt::Ready(Ok(()))
            }
            fn strategy(&self) -> Option<&dyn Strategy> {
                Some(self)
            }
        }
    };
}
plain_target!(ParkDevice);
plain_target!(ThreadDevice);

impl Strategy for ParkDevice {
    fn submit(&self, op: InFlight, engine: &mut Engines) {
        *self.slot.lock() = Some((op, engine.ticket()));
    }
}

impl Strategy for ThreadDevice {
    fn submit(&self, op: InFlight, engine: &mut Engines) {
        if op.offset() == 0 {
            let held = Keep::new((op, engine.ticket(), Arc::clone(&self.done)));
            thread::spawn(move || {
                let (op, ticket, done) = held.take();
                // SAFETY: the only write; the read comes after this op's
                // delivery (see `Done`).
                done.0.with_mut(|p| unsafe { *p = true });
                ticket.complete(op, Ok(1));
            });
        } else {
            // SAFETY: this op was released after the first write's
            // delivery, which follows the only write (see `Done`).
            let done = self.done.0.with(|p| unsafe { *p });
            assert!(
                done,
                "the second ordered op started before the first completed"
            );
            op.complete(Ok(1));
        }
    }
}

fn noop(_c: &Completion<'_>) {}

fn write_at(target: &Arc<dyn Target>, offset: u64) -> Op {
    let mut op = Op::new(Arc::clone(target), vec![0u8; 1]);
    op.prepare(OpKind::Write, offset, 1).unwrap();
    op.set_callback(noop);
    op
}

/// An op of `b` is in flight on the worker (and stays so), then two
/// ordered writes of `a` go to the same worker. The second must start
/// once the first is complete, while `b`'s op is still in flight, and
/// must see the first's completion.
///
/// Fails with a deadlock under mutant `pool-confirm-on-drain` (the old
/// protocol: an ordered op is confirmed only when the worker's engine has
/// nothing in flight, so the second write waits for `b`, which the model
/// completes only after the second write). The cell `Done` makes loom
/// check that the second write's start is ordered after everything the
/// first write's device did (a causality violation otherwise).
#[test]
fn loom_ordered_op_waits_for_its_predecessor_only() {
    model(|| {
        let mut cfg = PoolConfig::default()
            .pools_per_class(1)
            .inline(false)
            .queue_caps(3, 3)
            .only(&[Class::Write]);
        cfg.pin = false;
        let pools = Keep::new(Arc::new(PoolSet::new(cfg).unwrap()));
        let slot = Keep::new(Arc::new(Mutex::new(None)));
        let b = Keep::new(aio_core::into_dyn(ParkDevice {
            slot: Arc::clone(&slot),
        }));
        let a = Keep::new(aio_core::into_dyn(ThreadDevice {
            done: Arc::new(Done(UnsafeCell::new(false))),
        }));
        let submit = |o: Op, flags| match pools.submit(o, flags) {
            Ok(Submitted::Pending(p)) => Keep::new(p),
            _ => panic!("refused"),
        };
        let long = submit(write_at(&b, 0), SubmitFlags::NONE);
        let first = submit(write_at(&a, 0), SubmitFlags::TARGET_FIFO);
        let second = submit(write_at(&a, 1), SubmitFlags::TARGET_FIFO);
        second.wait_ref();
        assert!(!long.is_complete(), "b's op completed while parked");
        // Play b's device: the worker dispatched b's op before a's (one
        // queue, FIFO), so it is parked by now.
        let (op, ticket) = slot.lock().take().expect("b's op at its device");
        ticket.complete(op, Ok(1));
        assert_eq!(second.take().wait().1, Ok(1));
        assert_eq!(first.take().wait().1, Ok(1));
        assert_eq!(long.take().wait().1, Ok(1));
        pools.shutdown(ShutdownMode::Drain);
    });
}

//! Dormancy and wake-up: two producers, one worker that falls asleep on
//! its pool's `pending` condvar (sleep/README.md).

use super::{Keep, async_op, model, nop};
use crate::SubmitFlags;
use crate::config::{Class, PoolConfig};
use crate::set::{PoolSet, ShutdownMode, Submitted};
use aio_core::OpKind;
use aio_core::sync::{Arc, thread};

/// Two threads each submit one read while the read pool's only worker
/// goes to sleep; both ops must be delivered.
///
/// A lost wake-up leaves an op queued with the worker asleep, so a
/// producer waits for its op forever: loom reports a deadlock. Mutants:
/// `pool-no-notify` (the producer marks the worker awake but does not
/// notify `pending`), `pool-sleep-unlocked` (the worker decides to sleep,
/// drops the pool lock, and only then publishes `Idle`).
#[test]
fn loom_two_producers_one_sleeping_worker() {
    model(|| {
        // One idle round: the worker may yield once, still awake, before
        // it falls asleep (sleep/README.md, "Idle rounds").
        let cfg = PoolConfig::default()
            .pools_per_class(1)
            .inline(false)
            .idle_rounds(1)
            .only(&[Class::Read]);
        let mut cfg = cfg;
        cfg.pin = false;
        let pools = Keep::new(Arc::new(PoolSet::new(cfg).unwrap()));
        let target = Keep::new(nop());
        let p2 = Arc::clone(&pools);
        let t2 = Arc::clone(&target);
        // The producer only submits; the main thread waits for both ops
        // (a model thread that unwinds out of a loom deadlock while owning
        // loom objects aborts the run instead of failing the test).
        let producer = thread::spawn(move || {
            match p2.submit(async_op(&t2, OpKind::Read), SubmitFlags::NONE) {
                Ok(Submitted::Pending(p)) => p,
                _ => panic!("refused"),
            }
        });
        let Ok(Submitted::Pending(p)) =
            pools.submit(async_op(&target, OpKind::Read), SubmitFlags::NONE)
        else {
            panic!("refused");
        };
        let p = Keep::new(p);
        let other = Keep::new(producer.join().unwrap());
        p.wait_ref();
        other.wait_ref();
        assert_eq!(p.take().wait().1, Ok(1));
        assert_eq!(other.take().wait().1, Ok(1));
        pools.shutdown(ShutdownMode::Drain);
    });
}

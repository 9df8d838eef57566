//! Cancellation: queued ops exactly once, by op and by target; in-flight
//! ops through the device's cancel, or "not cancelable".

mod common;

use aio_core::sync::atomic::{AtomicUsize, Ordering};
use aio_core::{CancelOutcome, Completion, Error, OpKind, Pending};
use aio_pool::{PoolConfig, PoolSet, ShutdownMode, SubmitFlags, Submitted, target_key};
use common::*;

static CANCELLED_CALLS: AtomicUsize = AtomicUsize::new(0);
fn count_cancelled(c: &Completion<'_>) {
    if c.result() == Err(Error::ECANCELED) {
        CANCELLED_CALLS.fetch_add(1, Ordering::SeqCst);
    }
}

fn submit(pools: &PoolSet, mut o: aio_core::Op) -> Pending {
    o.set_callback(count_cancelled);
    match pools.submit(o, SubmitFlags::NONE) {
        Ok(Submitted::Pending(p)) => p,
        other => panic!("not queued: {other:?}"),
    }
}

/// One worker with room for one op, held at the device: everything after
/// the first op stays queued.
fn stuck_pools() -> PoolSet {
    PoolSet::new(
        PoolConfig::default()
            .pools_per_class(1)
            .max_in_flight(1)
            .inline(false),
    )
    .unwrap()
}

#[test]
fn a_queued_op_is_cancelled_exactly_once_and_in_flight_ones_go_to_the_device() {
    let (target, dev) = LaterTarget::create(1 << 16);
    let pools = stuck_pools();
    let held = dev.hold();
    let first = op(&target, OpKind::Read, 0, 8);
    let first = submit(&pools, first);
    wait_until("first op at the device", || dev.queued() == 1);
    let second = op(&target, OpKind::Read, 8, 8);
    let second = submit(&pools, second);
    let base = CANCELLED_CALLS.load(Ordering::SeqCst);

    assert_eq!(pools.cancel(&second, &target), CancelOutcome::Cancelled);
    assert_eq!(pools.cancel(&second, &target), CancelOutcome::AlreadyDone);
    assert_eq!(
        CANCELLED_CALLS.load(Ordering::SeqCst) - base,
        1,
        "callback must run exactly once"
    );
    assert_eq!(wait(second).1, Err(Error::ECANCELED));
    assert_eq!(pools.queued(), 0, "the cancelled op must leave the queue");

    // In flight: the device's cancel takes it.
    assert_eq!(pools.cancel(&first, &target), CancelOutcome::Cancelled);
    assert_eq!(wait(first).1, Err(Error::ECANCELED));
    assert_eq!(dev.cancels_accepted.load(Ordering::SeqCst), 1);
    assert_eq!(CANCELLED_CALLS.load(Ordering::SeqCst) - base, 2);
    drop(held);
    pools.shutdown(ShutdownMode::Drain);
}

#[test]
fn an_in_flight_op_without_a_device_cancel_is_not_cancelable() {
    let (target, gate) = typed(SlowTarget {
        mem: aio_core::MemTarget::new(4096),
        delay: std::time::Duration::from_millis(300),
    });
    let pools = stuck_pools();
    let o = op(&target, OpKind::Read, 0, 8);
    let p = submit(&pools, o);
    wait_until("the op to start", || {
        p.state() == aio_core::OpState::InFlight
    });
    assert_eq!(pools.cancel(&p, &target), CancelOutcome::InFlight);
    assert_eq!(wait(p).1, Ok(8));
    drop(gate);
    pools.shutdown(ShutdownMode::Drain);
}

#[test]
fn the_owner_cancelling_through_its_pending_is_also_exactly_once() {
    let (target, dev) = LaterTarget::create(1 << 16);
    let pools = stuck_pools();
    let held = dev.hold();
    let _first = submit(&pools, op(&target, OpKind::Read, 0, 8));
    wait_until("first op at the device", || dev.queued() == 1);
    let p = submit(&pools, op(&target, OpKind::Read, 8, 8));
    let base = CANCELLED_CALLS.load(Ordering::SeqCst);
    assert_eq!(p.cancel(), CancelOutcome::Cancelled);
    drop(held);
    assert_eq!(wait(p).1, Err(Error::ECANCELED));
    wait_until("the queue to empty", || pools.queued() == 0);
    pools.shutdown(ShutdownMode::Drain);
    assert_eq!(CANCELLED_CALLS.load(Ordering::SeqCst) - base, 1);
}

#[test]
fn cancel_by_target_removes_every_queued_op_of_that_target_only() {
    let (a, dev_a) = LaterTarget::create(1 << 16);
    let (b, dev_b) = LaterTarget::create(1 << 16);
    let pools = stuck_pools();
    let held = dev_a.hold();
    let head = submit(&pools, op(&a, OpKind::Read, 0, 8));
    wait_until("head op at the device", || dev_a.queued() == 1);
    let mut on_a = Vec::new();
    let mut on_b = Vec::new();
    for i in 0..5u64 {
        on_a.push(submit(&pools, op(&a, OpKind::Read, i * 8, 8)));
        on_b.push(submit(&pools, op(&b, OpKind::Read, i * 8, 8)));
    }
    // A write (its pool's worker is free, so it goes to the device) and an
    // fsync parked behind it: the parked fsync is cancelled too, the
    // in-flight write is not.
    let w = submit(&pools, op(&a, OpKind::Write, 0, 8));
    wait_until("the write at the device", || dev_a.queued() == 2);
    let fs = submit(&pools, op(&a, OpKind::Fsync, 0, 0));
    assert_eq!(pools.cancel_target(target_key(&a)), 6);
    for p in on_a {
        assert_eq!(wait(p).1, Err(Error::ECANCELED));
    }
    assert_eq!(wait(fs).1, Err(Error::ECANCELED));
    assert!(!head.is_complete(), "the in-flight op is not touched");
    assert!(!w.is_complete(), "the in-flight write is not touched");
    drop(held);
    assert_eq!(wait(head).1, Ok(8));
    assert_eq!(wait(w).1, Ok(8));
    for p in on_b {
        assert_eq!(wait(p).1, Ok(8));
    }
    drop(dev_b);
    pools.shutdown(ShutdownMode::Drain);
}

/// As [`submit`], with a callback that counts nothing, so these tests do
/// not disturb the exactly-once counts of the others running beside them.
fn submit_quiet(pools: &PoolSet, mut o: aio_core::Op) -> Pending {
    fn ignore(_: &Completion<'_>) {}
    o.set_callback(ignore);
    match pools.submit(o, SubmitFlags::NONE) {
        Ok(Submitted::Pending(p)) => p,
        other => panic!("not queued: {other:?}"),
    }
}

/// Regression: cancellation is keyed by the op, not by its user-settable
/// id. Three ops carry one id: the first in flight at the device, the
/// other two queued behind it. Cancelling one of them must cancel that one
/// alone, in the queue and at the device.
#[test]
fn ops_sharing_an_id_are_cancelled_one_at_a_time() {
    let (target, dev) = LaterTarget::create(1 << 16);
    let pools = stuck_pools();
    let held = dev.hold();
    let mk = |off| {
        let mut o = op(&target, OpKind::Read, off, 8);
        o.set_id(77);
        o
    };
    let first = submit_quiet(&pools, mk(0));
    wait_until("first op at the device", || dev.queued() == 1);
    let second = submit_quiet(&pools, mk(8));
    let third = submit_quiet(&pools, mk(16));

    assert_eq!(pools.cancel(&third, &target), CancelOutcome::Cancelled);
    assert_eq!(wait(third).1, Err(Error::ECANCELED));
    assert!(
        !second.is_complete(),
        "cancelling one queued op cancelled another with the same id"
    );
    assert_eq!(pools.queued(), 1);

    // The second is still queued and the first at the device: cancelling
    // the second must not reach the device's first.
    assert_eq!(pools.cancel(&second, &target), CancelOutcome::Cancelled);
    assert_eq!(wait(second).1, Err(Error::ECANCELED));
    assert!(!first.is_complete());
    drop(held);
    assert_eq!(
        wait(first).1,
        Ok(8),
        "the first op was cancelled for another"
    );
    pools.shutdown(ShutdownMode::Drain);
}

/// Regression: two ops with one id in flight at one device; the owner of
/// the second cancels it, and the device must not cancel the first.
#[test]
fn a_device_cancel_takes_the_op_it_was_asked_for() {
    let (target, dev) = LaterTarget::create(1 << 16);
    let pools = PoolSet::new(
        PoolConfig::default()
            .pools_per_class(1)
            .max_in_flight(2)
            .inline(false),
    )
    .unwrap();
    let held = dev.hold();
    let mk = |off| {
        let mut o = op(&target, OpKind::Read, off, 8);
        o.set_id(78);
        o
    };
    let first = submit_quiet(&pools, mk(0));
    let second = submit_quiet(&pools, mk(8));
    wait_until("both ops at the device", || dev.queued() == 2);
    assert_eq!(pools.cancel(&second, &target), CancelOutcome::Cancelled);
    assert_eq!(wait(second).1, Err(Error::ECANCELED));
    assert!(!first.is_complete(), "the device cancelled the wrong op");
    drop(held);
    assert_eq!(wait(first).1, Ok(8));
    pools.shutdown(ShutdownMode::Drain);
}

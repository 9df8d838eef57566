//! Bounds: queue caps (EAGAIN with the op handed back, or WAIT). The fixed
//! thread count is in `pool_threads.rs` (it needs a process of its own).

mod common;

use aio_core::{Completion, Error, OpKind};
use aio_pool::{PoolConfig, PoolSet, ShutdownMode, SubmitFlags, Submitted};
use common::*;

fn noop(_c: &Completion<'_>) {}

#[test]
fn past_the_cap_an_async_submit_fails_with_eagain_and_gets_its_op_back() {
    let (target, dev) = LaterTarget::create(1 << 16);
    let cfg = PoolConfig::default()
        .pools_per_class(1)
        .max_in_flight(1)
        .queue_caps(2, 100)
        .inline(false);
    let pools = PoolSet::new(cfg).unwrap();
    let held = dev.hold();
    let mut ps = Vec::new();
    let mut o = op(&target, OpKind::Read, 0, 8);
    o.set_callback(noop);
    let Ok(Submitted::Pending(p)) = pools.submit(o, SubmitFlags::NONE) else {
        panic!("refused")
    };
    ps.push(p);
    wait_until("the first op in flight", || dev.queued() == 1);
    for i in 1..3u64 {
        let mut o = op(&target, OpKind::Read, i * 8, 8);
        o.set_callback(noop);
        let Ok(Submitted::Pending(p)) = pools.submit(o, SubmitFlags::NONE) else {
            panic!("refused")
        };
        ps.push(p);
    }
    assert_eq!(pools.queued(), 2);
    let mut o = op(&target, OpKind::Read, 64, 8);
    o.set_callback(noop);
    o.set_private(77);
    let id = o.id();
    let err = pools
        .submit(o, SubmitFlags::NONE)
        .expect_err("the queue is full");
    assert_eq!(err.error, Error::EAGAIN);
    assert_eq!(err.op.id(), id, "the op must come back");
    assert_eq!(err.op.private(), 77);
    assert_eq!(
        err.op.state(),
        aio_core::OpState::Idle,
        "a refused op is untouched"
    );
    assert_eq!(pools.stats()[0].rejected, 1);

    // With WAIT the submitter sleeps for room instead.
    let pools_ref = &pools;
    std::thread::scope(|s| {
        let waiter = s.spawn(move || match pools_ref.submit(err.op, SubmitFlags::WAIT) {
            Ok(Submitted::Pending(p)) => wait(p).1,
            other => panic!("WAIT submit failed: {other:?}"),
        });
        aio_core::sync::thread::sleep(std::time::Duration::from_millis(20));
        assert!(
            !waiter.is_finished(),
            "a WAIT submit returned while the queue was full"
        );
        drop(held);
        assert_eq!(waiter.join().unwrap(), Ok(8));
    });
    for p in ps {
        assert_eq!(wait(p).1, Ok(8));
    }
    pools.shutdown(ShutdownMode::Drain);
}

#[test]
fn the_total_cap_spans_pools() {
    let (target, dev) = LaterTarget::create(1 << 16);
    let cfg = PoolConfig::default()
        .pools_per_class(2)
        .max_in_flight(1)
        .queue_caps(10, 3)
        .inline(false)
        .steal(false);
    let pools = PoolSet::new(cfg).unwrap();
    let held = dev.hold();
    let mut ps = Vec::new();
    let mut refused = 0;
    for i in 0..8u64 {
        let mut o = op(&target, OpKind::Write, i * 8, 8);
        o.set_callback(noop);
        match pools.submit(o, SubmitFlags::NONE) {
            Ok(Submitted::Pending(p)) => ps.push(p),
            Ok(Submitted::Done(..)) => panic!("ran synchronously"),
            Err(e) => {
                assert_eq!(e.error, Error::EAGAIN);
                refused += 1;
            }
        }
        // Let the worker take what it can so the count is deterministic.
        wait_until("the worker to take its op", || dev.queued() >= 1);
    }
    assert!(
        pools.queued() <= 3,
        "total cap exceeded: {}",
        pools.queued()
    );
    assert!(refused >= 8 - 3 - 2, "too few refusals: {refused}");
    drop(held);
    for p in ps {
        assert_eq!(wait(p).1, Ok(8));
    }
    pools.shutdown(ShutdownMode::Drain);
}

/// `SubmitFlags::ADMITTED`: an op its caller admitted earlier (and bounds
/// itself, as aio-posix's slab bounds the ops a stream queue releases) is
/// never refused for queue room, even past both caps. The row 2
/// (`aio_write` returned 0, then the op completed with `EAGAIN` when its
/// stream queue released it into full pools) needs exactly this.
#[test]
fn an_admitted_op_is_never_refused_for_room() {
    let (target, dev) = LaterTarget::create(1 << 16);
    let cfg = PoolConfig::default()
        .pools_per_class(1)
        .max_in_flight(1)
        .queue_caps(2, 2)
        .inline(false);
    let pools = PoolSet::new(cfg).unwrap();
    let held = dev.hold();
    let mut ps = Vec::new();
    let submit = |off: u64, flags: SubmitFlags| {
        let mut o = op(&target, OpKind::Read, off, 8);
        o.set_callback(noop);
        pools.submit(o, flags)
    };
    let Ok(Submitted::Pending(p)) = submit(0, SubmitFlags::NONE) else {
        panic!("refused")
    };
    ps.push(p);
    wait_until("the first op in flight", || dev.queued() == 1);
    for i in 1..3u64 {
        let Ok(Submitted::Pending(p)) = submit(i * 8, SubmitFlags::NONE) else {
            panic!("refused")
        };
        ps.push(p);
    }
    let err = submit(24, SubmitFlags::NONE).expect_err("the queues are full");
    assert_eq!(err.error, Error::EAGAIN);
    for i in 4..20u64 {
        match submit(i * 8, SubmitFlags::ADMITTED | SubmitFlags::NO_INLINE) {
            Ok(Submitted::Pending(p)) => ps.push(p),
            other => panic!("an admitted op was refused: {other:?}"),
        }
    }
    drop(held);
    for p in ps {
        assert_eq!(wait(p).1, Ok(8));
    }
    assert_eq!(pools.queued(), 0, "the caps' accounting is balanced");
    pools.shutdown(ShutdownMode::Drain);
}

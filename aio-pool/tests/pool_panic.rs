//! A panic in a device handler or a callback completes the op with EIO;
//! the worker counts it and keeps serving.

mod common;

use aio_core::{Completion, Error, MemTarget, OpKind};
use aio_pool::{PoolConfig, PoolSet, ShutdownMode, SubmitFlags, Submitted};
use common::*;

fn noop(_c: &Completion<'_>) {}
fn explode(_c: &Completion<'_>) {
    panic!("callback panics (test)");
}

fn go(pools: &PoolSet, o: aio_core::Op, flags: SubmitFlags) -> aio_core::Result<usize> {
    match pools.submit(o, flags) {
        Ok(Submitted::Pending(p)) => wait(p).1,
        other => panic!("not queued: {other:?}"),
    }
}

#[test]
fn a_panicking_device_handler_gives_eio_and_the_worker_keeps_serving() {
    let (target, _) = typed(PanicTarget {
        mem: MemTarget::new(4096),
    });
    let pools = PoolSet::new(PoolConfig::default().pools_per_class(1).inline(false)).unwrap();
    for round in 0..3 {
        let mut bad = op(&target, OpKind::Write, PanicTarget::BAD, 8);
        bad.set_callback(noop);
        assert_eq!(
            go(&pools, bad, SubmitFlags::NONE),
            Err(Error::EIO),
            "round {round}"
        );
        let mut good = op(&target, OpKind::Write, 0, 8);
        good.set_callback(noop);
        assert_eq!(
            go(&pools, good, SubmitFlags::NONE),
            Ok(8),
            "the worker stopped serving"
        );
    }
    pools.shutdown(ShutdownMode::Drain);
    let st = &pools.stats()[1];
    assert_eq!(st.panics, 3);
    assert_eq!(st.completed, 6);
}

#[test]
fn a_panicking_callback_gives_eio_and_the_worker_keeps_serving() {
    let target = aio_core::into_dyn(MemTarget::new(4096));
    let pools = PoolSet::new(PoolConfig::default().pools_per_class(1)).unwrap();
    let mut o = op(&target, OpKind::Read, 0, 8);
    o.set_callback(explode);
    assert_eq!(go(&pools, o, SubmitFlags::NONE), Err(Error::EIO));
    let mut o = op(&target, OpKind::Read, 0, 8);
    o.set_callback(noop);
    assert_eq!(go(&pools, o, SubmitFlags::NONE), Ok(8));
    pools.shutdown(ShutdownMode::Drain);
}

//! Workers are pinned (or say they could not be) and dormant until work is
//! pending: no polling loop.

mod common;

use std::time::Duration;

use aio_core::{Completion, MemTarget, OpKind, into_dyn};
use aio_pool::{PoolConfig, PoolSet, ShutdownMode, SubmitFlags, Submitted};
use common::*;

fn noop(_c: &Completion<'_>) {}

#[test]
fn idle_workers_sleep_and_do_not_wake_without_work() {
    let pools = PoolSet::new(PoolConfig::default().pools_per_class(2).lazy(false)).unwrap();
    let target = into_dyn(MemTarget::new(1 << 16));
    let mut o = op(&target, OpKind::Read, 0, 8);
    o.set_callback(noop);
    let Ok(Submitted::Pending(p)) = pools.submit(o, SubmitFlags::NONE) else {
        panic!("refused")
    };
    assert_eq!(wait(p).1, Ok(8));
    // Every worker has gone to sleep (dormant until work is pending), and
    // is asleep now: each sleep but the current one was followed by a
    // wake-up (the worker that ran the op may still be on its way back) ...
    wait_until("every worker asleep", || {
        pools
            .stats()
            .iter()
            .all(|s| s.sleeps >= 1 && s.sleeps == s.wakeups + 1)
    });
    let before = pools.stats();
    aio_core::sync::thread::sleep(Duration::from_millis(200));
    let after = pools.stats();
    // ... and, with nothing submitted, nobody woke up: no polling, no
    // timed waits.
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(
            a.wakeups, b.wakeups,
            "{:?} pool {} woke up with no work",
            a.class, a.index
        );
        assert_eq!(
            a.sleeps, b.sleeps,
            "{:?} pool {} went round its loop idle",
            a.class, a.index
        );
    }
    pools.shutdown(ShutdownMode::Drain);
}

#[test]
fn workers_are_pinned_and_a_pinning_failure_is_not_fatal() {
    let pools = PoolSet::new(PoolConfig::default().pools_per_class(1).lazy(false)).unwrap();
    let target = into_dyn(MemTarget::new(1 << 16));
    let mut o = op(&target, OpKind::Write, 0, 8);
    o.set_callback(noop);
    let Ok(Submitted::Pending(p)) = pools.submit(o, SubmitFlags::NONE) else {
        panic!("refused")
    };
    assert_eq!(wait(p).1, Ok(8));
    wait_until("workers to pin themselves", || {
        pools.stats().iter().all(|s| s.pinned)
    });
    pools.shutdown(ShutdownMode::Drain);

    // A CPU that does not exist: pinning fails, is logged, and the worker
    // serves anyway.
    let mut cfg = PoolConfig::default().pools_per_class(1);
    cfg.cpus = vec![100_000];
    let pools = PoolSet::new(cfg).unwrap();
    let mut o = op(&target, OpKind::Write, 0, 8);
    o.set_callback(noop);
    let Ok(Submitted::Pending(p)) = pools.submit(o, SubmitFlags::NONE) else {
        panic!("refused")
    };
    assert_eq!(wait(p).1, Ok(8));
    pools.shutdown(ShutdownMode::Drain);
    assert!(pools.stats().iter().all(|s| !s.pinned));
}

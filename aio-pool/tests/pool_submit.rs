//! Submission paths: synchronous mode, queued async ops, inline first,
//! many ops in flight per worker, the device as a wake-up producer.

mod common;

use aio_core::sync::atomic::{AtomicUsize, Ordering};
use aio_core::{Completion, Error, MemTarget, OpKind, into_dyn};
use aio_pool::{PoolConfig, PoolSet, ShutdownMode, SubmitFlags, Submitted};
use common::*;

static CALLS: AtomicUsize = AtomicUsize::new(0);
fn count(_c: &Completion<'_>) {
    CALLS.fetch_add(1, Ordering::SeqCst);
}
fn noop(_c: &Completion<'_>) {}

fn pending(s: Result<Submitted, aio_pool::SubmitError>) -> aio_core::Pending {
    match s {
        Ok(Submitted::Pending(p)) => p,
        Ok(Submitted::Done(..)) => panic!("an async op ran synchronously"),
        Err(e) => panic!("refused: {}", e.error),
    }
}

#[test]
fn synchronous_mode_runs_on_the_caller_and_is_never_queued() {
    let pools = PoolSet::new(PoolConfig::default().pools_per_class(1)).unwrap();
    let target = into_dyn(MemTarget::new(4096));
    let mut o = op(&target, OpKind::Write, 100, 4);
    o.buf_mut()[..4].copy_from_slice(b"sync");
    assert!(o.is_synchronous());
    let (mut o, r) = match pools.submit(o, SubmitFlags::NONE) {
        Ok(Submitted::Done(o, r)) => (o, r),
        other => panic!("expected synchronous completion, got {other:?}"),
    };
    assert_eq!(r, Ok(4));
    o.prepare(OpKind::Read, 100, 4).unwrap();
    o.buf_mut().fill(0);
    let Ok(Submitted::Done(o, r)) = pools.submit(o, SubmitFlags::NONE) else {
        panic!("not synchronous")
    };
    assert_eq!(r, Ok(4));
    assert_eq!(&o.buf()[..4], b"sync");
    let st = pools.stats();
    assert_eq!(
        st.iter().map(|s| s.submitted).sum::<u64>(),
        0,
        "a synchronous op was queued"
    );
    pools.shutdown(ShutdownMode::Drain);
}

#[test]
fn async_ops_on_a_plain_target_are_queued_and_completed_by_a_worker() {
    let pools = PoolSet::new(PoolConfig::default()).unwrap();
    let target = into_dyn(MemTarget::new(1 << 16));
    let before = CALLS.load(Ordering::SeqCst);
    let mut ps = Vec::new();
    for i in 0..64u64 {
        let mut o = op(&target, OpKind::Write, i * 8, 8);
        o.buf_mut()[..8].copy_from_slice(&i.to_le_bytes());
        o.set_callback(count);
        ps.push(pending(pools.submit(o, SubmitFlags::NONE)));
    }
    for p in ps {
        assert_eq!(wait(p).1, Ok(8));
    }
    let mut o = op(&target, OpKind::Read, 8 * 63, 8);
    o.set_callback(count);
    let (o, r) = wait(pending(pools.submit(o, SubmitFlags::NONE)));
    assert_eq!(r, Ok(8));
    assert_eq!(&o.buf()[..8], &63u64.to_le_bytes());
    assert_eq!(CALLS.load(Ordering::SeqCst) - before, 65);
    let st = pools.stats();
    assert_eq!(
        st.iter().map(|s| s.inline).sum::<u64>(),
        0,
        "MemTarget has no strategy: nothing inline"
    );
    let rep = pools.shutdown(ShutdownMode::Drain);
    // Writes and reads only: the sync class's workers never started.
    assert_eq!(rep.joined, 2 * pools.pools_per_class());
    let st = pools.stats();
    assert_eq!(st.iter().map(|s| s.completed).sum::<u64>(), 65);
    assert_eq!(st.iter().map(|s| s.submitted).sum::<u64>(), 65);
}

#[test]
fn inline_first_completes_on_the_submitter_and_punts_when_it_would_block() {
    let (target, _) = typed(NowaitTarget::new(4096));
    let pools = PoolSet::new(PoolConfig::default().pools_per_class(1)).unwrap();
    let mut o = op(&target, OpKind::Write, 0, 4);
    o.set_callback(noop);
    let p = pending(pools.submit(o, SubmitFlags::NONE));
    assert!(
        p.is_complete(),
        "inline op must be complete when submit returns"
    );
    let (mut o, r) = wait(p);
    assert_eq!(r, Ok(4));
    // The flag turns it off for one op: it is queued and a worker submits it.
    o.prepare(OpKind::Read, 0, 4).unwrap();
    let (mut o, r) = wait(pending(pools.submit(o, SubmitFlags::NO_INLINE)));
    assert_eq!(r, Ok(4));
    let st = pools.stats();
    let read = &st[0];
    let write = &st[1];
    assert_eq!(write.inline, 1);
    assert_eq!(read.inline, 0);
    assert_eq!(read.submitted, 1);
    pools.shutdown(ShutdownMode::Drain);
    assert_eq!(pools.stats()[0].completed, 1);

    // The config switch turns it off for the whole pool set.
    let pools = PoolSet::new(PoolConfig::default().pools_per_class(1).inline(false)).unwrap();
    o.prepare(OpKind::Write, 8, 4).unwrap();
    let (_o, r) = wait(pending(pools.submit(o, SubmitFlags::NONE)));
    assert_eq!(r, Ok(4));
    pools.shutdown(ShutdownMode::Drain);
    let st = pools.stats();
    assert_eq!(st[1].inline, 0);
    assert_eq!(st[1].completed, 1);
}

#[test]
fn an_op_that_would_block_inline_is_punted_to_a_worker() {
    let t = NowaitTarget::new(4096);
    t.refuse_nowait.store(true, Ordering::Relaxed);
    let (target, std_arc) = typed(t);
    let pools = PoolSet::new(PoolConfig::default().pools_per_class(1)).unwrap();
    let mut o = op(&target, OpKind::Read, 0, 16);
    o.set_callback(noop);
    let (_o, r) = wait(pending(pools.submit(o, SubmitFlags::NONE)));
    assert_eq!(r, Ok(16));
    assert_eq!(std_arc.nowait_calls.load(Ordering::Relaxed), 1);
    assert_eq!(std_arc.submit_calls.load(Ordering::Relaxed), 1);
    pools.shutdown(ShutdownMode::Drain);
    let st = pools.stats();
    assert_eq!(st[0].inline, 0);
    assert_eq!(st[0].completed, 1);
}

#[test]
fn one_worker_keeps_many_ops_in_flight_and_wakes_on_device_completions() {
    let (target, dev) = LaterTarget::create(1 << 16);
    let pools = PoolSet::new(
        PoolConfig::default()
            .pools_per_class(1)
            .max_in_flight(8)
            .steal(false),
    )
    .unwrap();
    let held = dev.hold();
    let mut ps = Vec::new();
    for i in 0..20u64 {
        let mut o = op(&target, OpKind::Read, i * 16, 16);
        o.set_callback(noop);
        ps.push(pending(pools.submit(o, SubmitFlags::NONE)));
    }
    // One worker, eight in flight at once, the rest queued behind.
    wait_until("8 ops in flight", || dev.queued() == 8);
    aio_core::sync::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(dev.queued(), 8, "the in-flight depth bound was exceeded");
    assert_eq!(pools.queued(), 12);
    drop(held);
    for p in ps {
        assert_eq!(wait(p).1, Ok(16));
    }
    pools.shutdown(ShutdownMode::Drain);
    let st = &pools.stats()[0];
    assert_eq!(st.in_flight_hwm, 8);
    assert_eq!(st.completed, 20);
    assert!(st.sleeps > 0, "the worker never slept in Engine::wait");
    assert_eq!(dev.max_in_flight.load(Ordering::SeqCst), 8);
}

#[test]
fn bad_configuration_is_einval() {
    for cfg in [
        PoolConfig::default().pools_per_class(0),
        PoolConfig::default().max_in_flight(0),
        PoolConfig::default().queue_caps(0, 10),
    ] {
        assert_eq!(PoolSet::new(cfg).err(), Some(Error::EINVAL));
    }
}

/// Regression through the pools' public API: a callback op is waited for
/// while it is held at the device (so the wait registers a waiter), then
/// run in synchronous mode through `PoolSet::submit`, then given its
/// callback back and submitted again. The second wait must wait for the
/// second submission, not return the first one's result at once.
#[test]
fn a_waited_op_run_synchronously_then_resubmitted_is_waited_for_again() {
    let (target, dev) = LaterTarget::create(1 << 16);
    let pools = PoolSet::new(PoolConfig::default().pools_per_class(1).inline(false)).unwrap();
    let mut o = op(&target, OpKind::Read, 0, 8);
    o.set_callback(noop);
    let held = dev.hold();
    let p = pending(pools.submit(o, SubmitFlags::NONE));
    wait_until("the op at the device", || dev.queued() == 1);
    assert!(!p.wait_timeout(std::time::Duration::from_millis(1)));
    drop(held);
    let (mut o, r) = wait(p);
    assert_eq!(r, Ok(8));
    o.clear_notify();
    let mut o = match pools.submit(o, SubmitFlags::NONE) {
        Ok(Submitted::Done(o, r)) => {
            assert_eq!(r, Ok(8));
            o
        }
        other => panic!("not run synchronously: {other:?}"),
    };
    o.set_callback(noop);
    let held = dev.hold();
    let p = pending(pools.submit(o, SubmitFlags::NONE));
    assert!(
        !p.wait_timeout(std::time::Duration::from_millis(1)),
        "the wait returned while the op was still submitted"
    );
    assert!(!p.is_complete());
    drop(held);
    assert_eq!(wait(p).1, Ok(8));
    pools.shutdown(ShutdownMode::Drain);
}

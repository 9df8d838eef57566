//! Ordering: the fsync barrier, FIFO ordered ops, parallel plain ops.

mod common;

use aio_core::sync::atomic::Ordering;
use aio_core::{Completion, OpKind, Pending};
use aio_pool::{PoolConfig, PoolSet, ShutdownMode, SubmitFlags, Submitted};
use common::*;

fn noop(_c: &Completion<'_>) {}

fn submit(pools: &PoolSet, o: aio_core::Op, flags: SubmitFlags) -> Pending {
    let mut o = o;
    o.set_callback(noop);
    match pools.submit(o, flags) {
        Ok(Submitted::Pending(p)) => p,
        Ok(Submitted::Done(..)) => panic!("ran synchronously"),
        Err(e) => panic!("refused: {}", e.error),
    }
}

#[test]
fn fsync_completes_only_after_the_earlier_writes() {
    let (target, dev) = LaterTarget::create(1 << 16);
    let pools = PoolSet::new(PoolConfig::default().pools_per_class(2).inline(false)).unwrap();
    let held = dev.hold();
    let mut writes = Vec::new();
    let mut ids = Vec::new();
    for i in 0..6u64 {
        let o = op(&target, OpKind::Write, i * 512, 512);
        ids.push(o.id());
        writes.push(submit(&pools, o, SubmitFlags::NONE));
    }
    wait_until("6 writes at the device", || dev.queued() == 6);
    let fs = op(&target, OpKind::Fsync, 0, 0);
    let fs_id = fs.id();
    let fsync = submit(&pools, fs, SubmitFlags::NONE);
    // A later write is not part of the barrier: it may run at once (each
    // op is confirmed by its own watch); it must not deadlock either way.
    let later = submit(
        &pools,
        op(&target, OpKind::Write, 8192, 512),
        SubmitFlags::NONE,
    );
    aio_core::sync::thread::sleep(std::time::Duration::from_millis(20));
    assert!(!fsync.is_complete(), "fsync completed before its writes");
    assert!(
        !dev.events().contains(&Ev::Start(fs_id, OpKind::Fsync)),
        "fsync reached the device early"
    );
    drop(held);
    assert_eq!(wait(fsync).1, Ok(0));
    for w in writes {
        assert_eq!(wait(w).1, Ok(512));
    }
    assert_eq!(wait(later).1, Ok(512));
    let ev = dev.events();
    let fs_start = ev
        .iter()
        .position(|e| *e == Ev::Start(fs_id, OpKind::Fsync))
        .unwrap();
    for id in ids {
        let done = ev
            .iter()
            .position(|e| *e == Ev::Done(id, OpKind::Write))
            .unwrap();
        assert!(
            done < fs_start,
            "write {id} completed after the fsync started: {ev:?}"
        );
    }
    pools.shutdown(ShutdownMode::Drain);
}

#[test]
fn fsync_with_no_earlier_writes_is_not_held() {
    let (target, dev) = LaterTarget::create(4096);
    let pools = PoolSet::new(PoolConfig::default().pools_per_class(1)).unwrap();
    let p = submit(
        &pools,
        op(&target, OpKind::Fdatasync, 0, 0),
        SubmitFlags::NONE,
    );
    assert_eq!(wait(p).1, Ok(0));
    drop(dev);
    pools.shutdown(ShutdownMode::Drain);
}

#[test]
fn ordered_writes_run_one_at_a_time_in_submission_order() {
    let (target, dev) = LaterTarget::create(1 << 16);
    // The device completes whatever it holds newest first: only the pool's
    // FIFO can keep the ordered writes in order.
    dev.lifo.store(true, Ordering::Relaxed);
    let pools = PoolSet::new(PoolConfig::default().pools_per_class(2)).unwrap();
    let held = dev.hold();
    let mut ps = Vec::new();
    let mut ids = Vec::new();
    for i in 0..16u64 {
        let mut o = op(&target, OpKind::Write, 0, 8);
        o.buf_mut()[..8].copy_from_slice(&i.to_le_bytes());
        ids.push(o.id());
        ps.push(submit(&pools, o, SubmitFlags::TARGET_FIFO));
    }
    wait_until("the first ordered write at the device", || {
        dev.queued() == 1
    });
    aio_core::sync::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(
        dev.queued(),
        1,
        "two ordered writes of one target in flight at once"
    );
    drop(held);
    for p in ps {
        assert_eq!(wait(p).1, Ok(8));
    }
    let ev = dev.events();
    let starts: Vec<u64> = ev
        .iter()
        .filter_map(|e| {
            if let Ev::Start(id, _) = e {
                Some(*id)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(starts, ids, "ordered writes started out of order");
    // Each started only after the previous one completed.
    for w in ids.windows(2) {
        let done = ev
            .iter()
            .position(|e| *e == Ev::Done(w[0], OpKind::Write))
            .unwrap();
        let start = ev
            .iter()
            .position(|e| *e == Ev::Start(w[1], OpKind::Write))
            .unwrap();
        assert!(done < start, "ordered writes overlapped: {ev:?}");
    }
    assert_eq!(
        &dev.data()[..8],
        &15u64.to_le_bytes(),
        "the last append must win"
    );
    pools.shutdown(ShutdownMode::Drain);
}

#[test]
fn plain_writes_and_reads_run_in_parallel() {
    let (target, dev) = LaterTarget::create(1 << 16);
    let pools = PoolSet::new(PoolConfig::default().pools_per_class(1).max_in_flight(16)).unwrap();
    let held = dev.hold();
    let mut ps = Vec::new();
    for i in 0..8u64 {
        ps.push(submit(
            &pools,
            op(&target, OpKind::Write, i * 64, 64),
            SubmitFlags::NONE,
        ));
        ps.push(submit(
            &pools,
            op(&target, OpKind::Read, i * 64, 64),
            SubmitFlags::NONE,
        ));
    }
    // All sixteen at the device at once: nothing serializes them.
    wait_until("16 ops in flight together", || dev.queued() == 16);
    drop(held);
    for p in ps {
        assert_eq!(wait(p).1, Ok(64));
    }
    pools.shutdown(ShutdownMode::Drain);
}

/// The barrier watches exactly the writes it depends on: an fsync on `a`
/// does not wait for an op of another target `b` that is in flight on the
/// same worker. (Before per-op watches, `a`'s write was confirmed only
/// when the worker's engine drained, so the fsync waited for `b`.)
#[test]
fn fsync_does_not_wait_for_another_targets_op_on_the_same_worker() {
    let (a, dev_a) = LaterTarget::create(4096);
    let (b, dev_b) = LaterTarget::create(4096);
    // One worker per class: both writes share the write worker's engine.
    let pools = PoolSet::new(PoolConfig::default().pools_per_class(1).inline(false)).unwrap();
    let held_b = dev_b.hold();
    let long = submit(&pools, op(&b, OpKind::Write, 0, 512), SubmitFlags::NONE);
    wait_until("b's write at its device", || dev_b.queued() == 1);
    let w = submit(&pools, op(&a, OpKind::Write, 0, 512), SubmitFlags::NONE);
    assert_eq!(wait(w).1, Ok(512));
    let fsync = submit(&pools, op(&a, OpKind::Fsync, 0, 0), SubmitFlags::NONE);
    assert!(
        fsync.wait_timeout(TIMEOUT),
        "the fsync on a waited for b's op (still in flight: {})",
        !long.is_complete()
    );
    assert!(!long.is_complete(), "b's op completed while held");
    assert_eq!(wait(fsync).1, Ok(0));
    drop(held_b);
    assert_eq!(wait(long).1, Ok(512));
    drop(dev_a);
    pools.shutdown(ShutdownMode::Drain);
}

/// The same for FIFO order: the second ordered write of `a` starts as soon
/// as the first has completed, while an op of `b` stays in flight on the
/// same worker.
#[test]
fn ordered_op_does_not_wait_for_another_targets_op_on_the_same_worker() {
    let (a, dev_a) = LaterTarget::create(4096);
    let (b, dev_b) = LaterTarget::create(4096);
    let pools = PoolSet::new(PoolConfig::default().pools_per_class(1).inline(false)).unwrap();
    let held_b = dev_b.hold();
    let long = submit(&pools, op(&b, OpKind::Write, 0, 512), SubmitFlags::NONE);
    wait_until("b's write at its device", || dev_b.queued() == 1);
    let first = submit(
        &pools,
        op(&a, OpKind::Write, 0, 8),
        SubmitFlags::TARGET_FIFO,
    );
    let second = submit(
        &pools,
        op(&a, OpKind::Write, 8, 8),
        SubmitFlags::TARGET_FIFO,
    );
    assert_eq!(wait(first).1, Ok(8));
    assert!(
        second.wait_timeout(TIMEOUT),
        "the second ordered write of a waited for b's op"
    );
    assert!(!long.is_complete(), "b's op completed while held");
    assert_eq!(wait(second).1, Ok(8));
    drop(held_b);
    assert_eq!(wait(long).1, Ok(512));
    drop(dev_a);
    pools.shutdown(ShutdownMode::Drain);
}

//! Load balancing: with every submitter pinned to CPU 0, idle workers of
//! the other pools steal, and every pool of the class gets work; a write
//! goes to its target's pool whatever CPU submits it.

mod common;

use std::time::Duration;

use aio_core::{Completion, MemTarget, OpKind};
use aio_pool::{PoolConfig, PoolSet, ShutdownMode, SubmitFlags, Submitted};
use common::*;

fn noop(_c: &Completion<'_>) {}

#[test]
fn all_submitters_on_cpu0_still_spread_over_both_pools() {
    // A target slow enough that pool 0's worker is busy while the queue
    // fills: the sibling must be woken and steal.
    let (target, _) = typed(SlowTarget {
        mem: MemTarget::new(1 << 20),
        delay: Duration::from_micros(200),
    });
    let pools = PoolSet::new(PoolConfig::default().pools_per_class(2)).unwrap();
    let pools = &pools;
    std::thread::scope(|s| {
        for t in 0..2u64 {
            let target = target.clone();
            s.spawn(move || {
                pin_to_cpu0();
                let mut ps = Vec::new();
                for i in 0..200u64 {
                    let mut o = op(&target, OpKind::Read, (t * 200 + i) * 512, 512);
                    o.set_callback(noop);
                    match pools.submit(o, SubmitFlags::WAIT) {
                        Ok(Submitted::Pending(p)) => ps.push(p),
                        other => panic!("submit failed: {other:?}"),
                    }
                }
                for p in ps {
                    assert_eq!(wait(p).1, Ok(512));
                }
            });
        }
    });
    pools.shutdown(ShutdownMode::Drain);
    let st = pools.stats();
    let writes: Vec<_> = st
        .iter()
        .filter(|s| s.class == aio_pool::Class::Read)
        .collect();
    let total: u64 = writes.iter().map(|s| s.completed).sum();
    assert_eq!(total, 400);
    for w in &writes {
        println!(
            "read pool {}: completed {} stolen_in {} stolen_out {}",
            w.index, w.completed, w.stolen_in, w.stolen_out
        );
    }
    assert_eq!(
        writes[1].submitted, 0,
        "submitters on CPU 0 must use pool 0"
    );
    assert!(
        writes[0].completed > 0 && writes[1].completed > 0,
        "one pool got no work: {writes:?}"
    );
    assert_eq!(
        writes[1].stolen_in, writes[1].completed,
        "pool 1 only had stolen work"
    );
    assert_eq!(writes[0].stolen_out, writes[1].stolen_in);
}

#[test]
fn stealing_off_keeps_work_on_the_submitters_pool() {
    let (target, _) = typed(SlowTarget {
        mem: MemTarget::new(1 << 20),
        delay: Duration::from_micros(50),
    });
    let pools = PoolSet::new(PoolConfig::default().pools_per_class(2).steal(false)).unwrap();
    let pools = &pools;
    std::thread::scope(|s| {
        s.spawn(move || {
            pin_to_cpu0();
            let mut ps = Vec::new();
            for i in 0..100u64 {
                let mut o = op(&target, OpKind::Read, i * 512, 512);
                o.set_callback(noop);
                let Ok(Submitted::Pending(p)) = pools.submit(o, SubmitFlags::WAIT) else {
                    panic!("refused")
                };
                ps.push(p);
            }
            for p in ps {
                assert_eq!(wait(p).1, Ok(512));
            }
        });
    });
    pools.shutdown(ShutdownMode::Drain);
    let st = pools.stats();
    assert_eq!(st[0].completed, 100);
    assert_eq!(st[1].completed, 0);
    assert_eq!(st[1].stolen_in, 0);
}

#[test]
fn a_targets_writes_share_one_pool_from_every_cpu() {
    // One slow target written from threads on every CPU: each write is
    // charged to the target's pool (one file's writes share one worker
    // and ring). Stealing is off, so nothing moves them afterwards.
    let (target, _) = typed(SlowTarget {
        mem: MemTarget::new(1 << 20),
        delay: Duration::from_micros(20),
    });
    let pools = PoolSet::new(PoolConfig::default().pools_per_class(2).steal(false)).unwrap();
    let pools = &pools;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|s| {
        for t in 0..cpus.max(2) as u64 {
            let target = target.clone();
            s.spawn(move || {
                pin_to_cpu(t as usize % cpus);
                let mut ps = Vec::new();
                for i in 0..50u64 {
                    let mut o = op(&target, OpKind::Write, (t * 50 + i) * 512, 512);
                    o.set_callback(noop);
                    let Ok(Submitted::Pending(p)) = pools.submit(o, SubmitFlags::WAIT) else {
                        panic!("refused")
                    };
                    ps.push(p);
                }
                for p in ps {
                    assert_eq!(wait(p).1, Ok(512));
                }
            });
        }
    });
    pools.shutdown(ShutdownMode::Drain);
    let st = pools.stats();
    let writes: Vec<_> = st
        .iter()
        .filter(|s| s.class == aio_pool::Class::Write)
        .collect();
    let total = 50 * cpus.max(2) as u64;
    assert_eq!(writes.iter().map(|s| s.completed).sum::<u64>(), total);
    assert!(
        writes
            .iter()
            .any(|w| w.submitted == total && w.completed == total),
        "one target's writes were spread: {writes:?}"
    );
    // Many targets: their writes spread over both pools.
    let targets: Vec<_> = (0..64).map(|_| typed(MemTarget::new(4096)).0).collect();
    let pools = PoolSet::new(
        PoolConfig::default()
            .pools_per_class(2)
            .steal(false)
            .inline(false),
    )
    .unwrap();
    let ps: Vec<_> = targets
        .iter()
        .map(|t| {
            let mut o = op(t, OpKind::Write, 0, 512);
            o.set_callback(noop);
            let Ok(Submitted::Pending(p)) = pools.submit(o, SubmitFlags::WAIT) else {
                panic!("refused")
            };
            p
        })
        .collect();
    for p in ps {
        assert_eq!(wait(p).1, Ok(512));
    }
    pools.shutdown(ShutdownMode::Drain);
    let st = pools.stats();
    let per: Vec<u64> = st
        .iter()
        .filter(|s| s.class == aio_pool::Class::Write)
        .map(|s| s.submitted)
        .collect();
    assert_eq!(per.iter().sum::<u64>(), 64);
    assert!(
        per.iter().all(|&n| n > 0),
        "64 targets on one pool: {per:?}"
    );
}

//! Heap allocations per op on the callback path (submit with a callback
//! → completion), counted by a counting global allocator, not assumed.
//! One test per target kind, run one after another in a single test (the
//! allocator is process-wide, so nothing else may run meanwhile).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};

use aio_core::sync::Arc;
use aio_core::sync::atomic::{AtomicU64, Ordering};
use aio_core::{Completion, MemTarget, Op, OpKind, Target, into_dyn};
use aio_pool::{PoolConfig, PoolSet, ShutdownMode, SubmitFlags, Submitted};
use common::*;

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call to the system allocator unchanged; the
// counter is a lock-free atomic that never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on to System.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: as for `alloc`.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as for `alloc`.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

static DONE: AtomicU64 = AtomicU64::new(0);
fn count(_c: &Completion<'_>) {
    DONE.fetch_add(1, Ordering::Relaxed);
}

/// Runs `rounds` rounds of `ops` (each resubmitted after it completes)
/// and returns the allocations seen during the rounds after `warm` ones.
fn allocs_per_round(pools: &PoolSet, mut ops: Vec<Op>, warm: usize, rounds: usize) -> u64 {
    let mut pending = Vec::with_capacity(ops.len());
    let mut start = 0;
    for round in 0..warm + rounds {
        if round == warm {
            start = ALLOCS.load(Ordering::SeqCst);
        }
        for o in ops.drain(..) {
            match pools.submit(o, SubmitFlags::NONE) {
                Ok(Submitted::Pending(p)) => pending.push(p),
                _ => panic!("submit failed"),
            }
        }
        for p in pending.drain(..) {
            let (o, r) = wait(p);
            assert!(r.is_ok(), "op failed: {r:?}");
            ops.push(o);
        }
    }
    ALLOCS.load(Ordering::SeqCst) - start
}

fn ops_on(target: &Arc<dyn Target>, n: u64) -> Vec<Op> {
    (0..n)
        .map(|i| {
            let kind = if i % 2 == 0 {
                OpKind::Write
            } else {
                OpKind::Read
            };
            let mut o = op(target, kind, i * 4096, 4096);
            o.set_callback(count);
            o
        })
        .collect()
}

#[test]
fn zero_heap_allocations_per_op_in_steady_state() {
    let pools = PoolSet::new(PoolConfig::default().pools_per_class(2)).unwrap();
    let results: Vec<(&str, u64, u64)> = [
        (
            "MemTarget (run on the worker)",
            into_dyn(MemTarget::new(1 << 20)),
        ),
        ("NowaitTarget (inline)", typed(NowaitTarget::new(1 << 20)).0),
        (
            "LaterTarget (device thread + engine ticket)",
            LaterTarget::create(1 << 20).0,
        ),
    ]
    .into_iter()
    .map(|(name, target)| {
        let ops = ops_on(&target, 16);
        let rounds = 500;
        let n = allocs_per_round(&pools, ops, 100, rounds);
        (name, n, 16 * rounds as u64)
    })
    .collect();
    pools.shutdown(ShutdownMode::Drain);
    for (name, allocs, ops) in &results {
        println!("{name}: {allocs} allocations over {ops} ops");
    }
    for (name, allocs, ops) in results {
        assert_eq!(
            allocs, 0,
            "{name}: {allocs} heap allocations over {ops} ops in steady state"
        );
    }
}

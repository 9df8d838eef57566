//! The thread count is fixed by the configuration and never grows with
//! load. One test in this file: it counts the threads of its process.

mod common;

use aio_core::{Completion, MemTarget, OpKind, into_dyn};
use aio_pool::{PoolConfig, PoolSet, ShutdownMode, SubmitFlags, Submitted};
use common::*;

fn noop(_c: &Completion<'_>) {}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

#[test]
fn the_thread_count_is_fixed_by_the_configuration() {
    let target = into_dyn(MemTarget::new(1 << 20));
    let before = threads();
    let pools = PoolSet::new(PoolConfig::default().pools_per_class(2).lazy(false)).unwrap();
    let with_pools = threads();
    assert_eq!(
        with_pools - before,
        6,
        "3 classes x 2 pools, one worker each"
    );
    let mut ops: Vec<_> = (0..64u64)
        .map(|i| {
            let mut o = op(
                &target,
                if i % 2 == 0 {
                    OpKind::Read
                } else {
                    OpKind::Write
                },
                i * 4096,
                4096,
            );
            o.set_callback(noop);
            o
        })
        .collect();
    for _ in 0..100 {
        let mut ps = Vec::new();
        for o in ops.drain(..) {
            let Ok(Submitted::Pending(p)) = pools.submit(o, SubmitFlags::NONE) else {
                panic!("refused")
            };
            ps.push(p);
        }
        assert_eq!(threads(), with_pools, "the thread count changed under load");
        for p in ps {
            let (o, r) = wait(p);
            assert_eq!(r, Ok(4096));
            ops.push(o);
        }
    }
    let rep = pools.shutdown(ShutdownMode::Drain);
    assert_eq!(rep.joined, 6);
    // A joined thread can still be listed in /proc for a moment: the
    // kernel wakes the joiner (clear_child_tid) before it releases the
    // task. Wait for the listing to catch up (bounded).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while threads() != before && std::time::Instant::now() < deadline {
        aio_core::sync::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(threads(), before, "every worker must be joined");
}

//! Lazy start (issue item 7, a small footprint): `PoolSet::new` starts no
//! thread; the first op of a class starts that class's workers (and their
//! engines), and nothing else. One test in this file: it counts the
//! threads of its process.

mod common;

use aio_core::{Completion, MemTarget, OpKind, into_dyn};
use aio_pool::{PoolConfig, PoolSet, ShutdownMode, SubmitFlags, Submitted};
use common::*;

fn noop(_c: &Completion<'_>) {}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

#[test]
fn workers_start_with_the_first_op_of_their_class() {
    let target = into_dyn(MemTarget::new(1 << 20));
    let before = threads();
    let pools = PoolSet::new(PoolConfig::default().pools_per_class(2)).unwrap();
    assert_eq!(threads(), before, "no thread before the first op");
    assert_eq!(pools.workers(), 0);
    let run = |kind: OpKind| {
        let len = if kind.is_transfer() { 8 } else { 0 };
        let mut o = aio_core::Op::new(aio_core::sync::Arc::clone(&target), vec![0; 8]);
        o.prepare(kind, 0, len).unwrap();
        o.set_callback(noop);
        let Ok(Submitted::Pending(p)) = pools.submit(o, SubmitFlags::NONE) else {
            panic!("refused")
        };
        let _ = wait(p);
    };
    for _ in 0..3 {
        run(OpKind::Read);
    }
    assert_eq!(pools.workers(), 2, "reads start the read workers only");
    assert_eq!(threads(), before + 2);
    run(OpKind::Write);
    assert_eq!(pools.workers(), 4);
    run(OpKind::Fsync);
    assert_eq!(pools.workers(), 6);
    assert_eq!(threads(), before + 6);
    pools.shutdown(ShutdownMode::Drain);
}

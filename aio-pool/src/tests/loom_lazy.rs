//! Lazy start (sleep/README.md, "Lazy start"): two submitters race to
//! start a class's only worker.

use super::{Keep, async_op, model, nop};
use crate::SubmitFlags;
use crate::config::{Class, PoolConfig};
use crate::set::{PoolSet, ShutdownMode, Submitted};
use aio_core::OpKind;
use aio_core::sync::{Arc, thread};

/// Two threads each submit the first read of a lazy pool set: exactly one
/// worker is started, it makes its engine and installs the waker, and
/// both ops are delivered.
///
/// Fails with "started twice" if the decision to spawn is not re-checked
/// under the start lock (mutant `pool-start-unlocked`: both submitters
/// spawn a worker for the same pool).
#[test]
fn loom_lazy_start_two_submitters() {
    model(|| {
        let mut cfg = PoolConfig::default()
            .pools_per_class(1)
            .inline(false)
            .lazy(true)
            .only(&[Class::Read]);
        cfg.pin = false;
        let pools = Keep::new(Arc::new(PoolSet::new(cfg).unwrap()));
        let target = Keep::new(nop());
        let p2 = Arc::clone(&pools);
        let t2 = Arc::clone(&target);
        let producer = thread::spawn(move || {
            match p2.submit(async_op(&t2, OpKind::Read), SubmitFlags::NONE) {
                Ok(Submitted::Pending(p)) => p,
                _ => panic!("refused"),
            }
        });
        let Ok(Submitted::Pending(p)) =
            pools.submit(async_op(&target, OpKind::Read), SubmitFlags::NONE)
        else {
            panic!("refused");
        };
        let p = Keep::new(p);
        let other = Keep::new(producer.join().unwrap());
        assert_eq!(pools.workers(), 1, "the read worker was started twice");
        p.wait_ref();
        other.wait_ref();
        assert_eq!(p.take().wait().1, Ok(1));
        assert_eq!(other.take().wait().1, Ok(1));
        pools.shutdown(ShutdownMode::Drain);
    });
}

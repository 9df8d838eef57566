//! Shutdown vs a concurrent submit (crate docs, "Shutdown", steps 1-2).

use super::{async_op, model, nop};
use crate::SubmitFlags;
use crate::config::{Class, PoolConfig};
use crate::set::{PoolSet, ShutdownMode, Submitted};
use aio_core::OpKind;
use aio_core::sync::{Arc, thread};

/// A submitter races `shutdown(Drain)`. The op is either refused with
/// `ESHUTDOWN` (and handed back idle) or accepted and delivered; it is
/// never accepted and then left in a queue whose worker has exited.
///
/// Fails with the debug assertion "push to a pool after shutdown" (or a
/// deadlock on the op) under mutant `gate-check-first`, where the submitter
/// tests the CLOSED bit and registers as a submitter in two steps.
#[test]
fn loom_shutdown_vs_submit() {
    model(|| {
        let mut cfg = PoolConfig::default()
            .pools_per_class(1)
            .inline(false)
            .only(&[Class::Read]);
        cfg.pin = false;
        let pools = Arc::new(PoolSet::new(cfg).unwrap());
        let p2 = Arc::clone(&pools);
        let submitter = thread::spawn(move || {
            let target = nop();
            match p2.submit(async_op(&target, OpKind::Read), SubmitFlags::NONE) {
                Ok(Submitted::Pending(p)) => assert_eq!(p.wait().1, Ok(1)),
                Ok(Submitted::Done(..)) => panic!("ran synchronously"),
                Err(e) => {
                    assert_eq!(e.error.errno(), libc::ESHUTDOWN);
                    assert_eq!(e.op.state(), aio_core::OpState::Idle);
                }
            }
        });
        let rep = pools.shutdown(ShutdownMode::Drain);
        assert_eq!(rep.joined, 1);
        submitter.join().unwrap();
        assert_eq!(pools.queued(), 0);
    });
}

//! Shutdown under load: stop accepting, drain or cancel, join; nothing is
//! lost. Every submit either hands its op back with an error or its
//! callback runs exactly once.

mod common;

use std::time::Duration;

use aio_core::sync::atomic::{AtomicUsize, Ordering};
use aio_core::{Completion, Error, MemTarget, OpKind};
use aio_pool::{PoolConfig, PoolSet, ShutdownMode, SubmitFlags, Submitted};
use common::*;

/// Per test, so the two tests do not share counters: [ok, cancelled, other].
static COUNTS: [[AtomicUsize; 3]; 2] = [
    [
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    ],
    [
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    ],
];

fn tally(c: &Completion<'_>) {
    let t = c.private();
    let slot = match c.result() {
        Ok(_) => 0,
        Err(Error::ECANCELED) => 1,
        Err(_) => 2,
    };
    COUNTS[t][slot].fetch_add(1, Ordering::SeqCst);
}

fn run(mode: ShutdownMode, slot: usize) {
    let (target, _) = typed(SlowTarget {
        mem: MemTarget::new(1 << 20),
        delay: Duration::from_micros(20),
    });
    let (later, dev) = LaterTarget::create(1 << 20);
    let pools = PoolSet::new(PoolConfig::default().pools_per_class(2).queue_caps(64, 256)).unwrap();
    let accepted = AtomicUsize::new(0);
    let refused = AtomicUsize::new(0);
    let pools = &pools;
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let target = if t % 2 == 0 {
                target.clone()
            } else {
                later.clone()
            };
            let (accepted, refused) = (&accepted, &refused);
            s.spawn(move || {
                let mut detached = 0;
                for i in 0u64.. {
                    let kind = match i % 5 {
                        0 | 1 => OpKind::Write,
                        2 | 3 => OpKind::Read,
                        _ => OpKind::Fsync,
                    };
                    let mut o = op(&target, kind, (i % 256) * 512, 512);
                    o.set_callback(tally);
                    o.set_private(slot);
                    let flags = if i % 7 == 0 {
                        SubmitFlags::TARGET_FIFO
                    } else {
                        SubmitFlags::NONE
                    };
                    match pools.submit(o, flags) {
                        Ok(Submitted::Pending(p)) => {
                            accepted.fetch_add(1, Ordering::SeqCst);
                            // Detach: the callback is the only witness.
                            drop(p);
                            detached += 1;
                        }
                        Ok(Submitted::Done(..)) => panic!("ran synchronously"),
                        Err(e) if e.error == Error::EAGAIN => {
                            refused.fetch_add(1, Ordering::SeqCst);
                            aio_core::sync::thread::yield_now();
                        }
                        Err(e) => {
                            assert_eq!(e.error.errno(), libc::ESHUTDOWN);
                            assert_eq!(e.op.state(), aio_core::OpState::Idle);
                            return detached;
                        }
                    }
                }
                unreachable!()
            });
        }
        aio_core::sync::thread::sleep(Duration::from_millis(100));
        let rep = pools.shutdown(mode);
        assert_eq!(rep.joined, 6);
        assert_eq!(rep.worker_panics, 0);
        if mode == ShutdownMode::Drain {
            assert_eq!(rep.cancelled, 0);
        }
    });
    assert_eq!(pools.queued(), 0);
    // Every accepted op was delivered, exactly once, by the time shutdown
    // returned (workers exit only with nothing queued or in flight).
    let c: Vec<usize> = COUNTS[slot]
        .iter()
        .map(|a| a.load(Ordering::SeqCst))
        .collect();
    let accepted = accepted.load(Ordering::SeqCst);
    println!(
        "{mode:?}: accepted {accepted}, refused {}, ok {}, cancelled {}, other {}",
        refused.load(Ordering::SeqCst),
        c[0],
        c[1],
        c[2]
    );
    assert!(accepted > 100, "not under load: {accepted} ops");
    assert_eq!(c[0] + c[1] + c[2], accepted, "ops lost or delivered twice");
    assert_eq!(c[2], 0, "unexpected errors");
    if mode == ShutdownMode::Drain {
        assert_eq!(c[1], 0, "drain must not cancel");
    }
    // A second shutdown is a no-op; later submits are refused.
    assert_eq!(
        pools.shutdown(ShutdownMode::Drain),
        aio_pool::ShutdownReport::default()
    );
    let mut o = op(&target, OpKind::Read, 0, 8);
    o.set_callback(tally);
    let e = pools
        .submit(o, SubmitFlags::NONE)
        .expect_err("accepted after shutdown");
    assert_eq!(e.error.errno(), libc::ESHUTDOWN);
    drop(dev);
}

#[test]
fn shutdown_drain_under_load_loses_nothing() {
    run(ShutdownMode::Drain, 0);
}

#[test]
fn shutdown_cancel_under_load_loses_nothing() {
    run(ShutdownMode::Cancel, 1);
}

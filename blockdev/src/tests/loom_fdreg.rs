//! The fork gate. Narration: `fdreg.rs`'s module docs.

use aio_core::sync::Arc;
use aio_core::sync::atomic::{AtomicBool, Ordering};
use aio_core::sync::thread;

use super::model;
use crate::fdreg::ForkGate;

/// A worker creates a descriptor (between entering the gate and dropping
/// its guard) while the program prepares a fork: once `prepare` returns,
/// no creation may be in progress until the parent reopens the gate.
/// Mutant `fork-gate-no-recheck` lets a creator that counted itself in
/// after the preparer looked go ahead: the fork then happens mid-creation.
#[test]
fn loom_fork_gate() {
    model(|| {
        let gate = Arc::new(ForkGate::new());
        let inside = Arc::new(AtomicBool::new(false));
        let t = {
            let (gate, inside) = (Arc::clone(&gate), Arc::clone(&inside));
            thread::spawn(move || {
                let g = gate.enter();
                inside.store(true, Ordering::SeqCst);
                // (the system call and the registration)
                inside.store(false, Ordering::SeqCst);
                drop(g);
            })
        };
        gate.prepare();
        assert!(
            !inside.load(Ordering::SeqCst),
            "fork while a descriptor is half made"
        );
        gate.parent();
        t.join().unwrap();
        assert!(!gate.busy());
    });
}

//! The call-counter registry (`counters.rs`): a block that changes hands
//! keeps its counts.

use super::model;
use crate::counters::Registry;
use aio_core::sync::{Arc, thread};

/// One thread counts twice in its block and gives it back; another takes
/// a block (the given-back one, if it is free by then, else a new one)
/// and counts once. Every count must be in the total.
///
/// Mutant `count-release-relaxed`: the release does not publish the
/// first owner's counts, so the second owner can count on from 0 and
/// the total comes out short.
#[test]
fn loom_counter_block_handover() {
    model(|| {
        let reg = Arc::new(Registry::new());
        let r1 = Arc::clone(&reg);
        let first = thread::spawn(move || {
            let b = r1.take();
            b.bump(0);
            b.bump(0);
            b.release();
        });
        let r2 = Arc::clone(&reg);
        let second = thread::spawn(move || {
            let b = r2.take();
            b.bump(0);
            b.release();
        });
        first.join().unwrap();
        second.join().unwrap();
        assert!(
            reg.total(0) == 3,
            "a count was lost when a block changed hands"
        );
    });
}

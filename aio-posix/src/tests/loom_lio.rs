//! The lio_listio group counter (`README.md`, "lio_listio").

use aio_core::sync::Arc;
use aio_core::sync::atomic::{AtomicUsize, Ordering};
use aio_core::sync::thread;

use super::model;
use crate::group::Group;
use crate::notify::Notification;

/// Two ops of a list complete on two threads while the submitter drops
/// its own reference: exactly one party must see the count reach zero
/// and notify. Mutant `lio-split-decrement` (load, then store) loses a
/// decrement: nobody notifies, and the assertion fails.
#[test]
fn loom_lio_group_notifies_once() {
    model(|| {
        let g = Arc::new(Group::new(Notification::None));
        let notified = Arc::new(AtomicUsize::new(0));
        g.add();
        g.add();
        let ts: Vec<_> = (0..2)
            .map(|_| {
                let (g, n) = (Arc::clone(&g), Arc::clone(&notified));
                thread::spawn(move || {
                    if g.put() {
                        n.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        if g.put() {
            notified.fetch_add(1, Ordering::Relaxed);
        }
        for t in ts {
            t.join().unwrap();
        }
        assert_eq!(
            notified.load(Ordering::Relaxed),
            1,
            "the list notification must be sent exactly once"
        );
        assert!(g.is_done());
    });
}

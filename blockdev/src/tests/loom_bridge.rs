//! The doorbell bridge: a ticket completed on a device thread must reach
//! the bridge's `notify`, and stopping the bridge must always end it.

use std::cell::Cell;

use super::{Keep, model};
use crate::bridge::{run, stop};
use aio_core::Doorbell;
use aio_core::sync::atomic::AtomicBool;
use aio_core::sync::{Arc, thread};

/// The bridge loop runs on the model's main thread. A device thread returns
/// a ticket (which rings), then the engine's owner stops the bridge.
///
/// Fails with a deadlock if the stop can be missed by a sleeping bridge
/// (mutant `bridge-stop-no-ring`).
#[test]
fn loom_bridge_ticket_then_stop() {
    model(|| {
        let bell = Keep::new(Doorbell::new());
        let flag = Keep::new(Arc::new(AtomicBool::new(false)));
        let ticket = Doorbell::ticket(&bell);
        let (b2, f2) = (Arc::clone(&*bell), Arc::clone(&*flag));
        let other = thread::spawn(move || {
            drop(ticket); // the device completes its op
            stop(&b2, &f2); // the engine is dropped
        });
        let notified = Cell::new(0);
        run(&bell, &flag, || notified.set(notified.get() + 1));
        other.join().unwrap();
        assert_eq!(bell.outstanding(), 0);
        assert!(notified.get() <= 1);
        bell.done();
        flag.done();
    });
}

//! An engine's doorbell: a device thread completes an op while the
//! servicing thread sleeps in `Engine::wait`.

use super::{model, nop};
use crate::sync::thread;
use crate::{BasicEngine, Engine, Op};

/// Fails with a deadlock if the ring can be missed (mutant
/// `doorbell-no-notify`), or with an assertion if the in-flight count is
/// seen to drop before the op is delivered.
#[test]
fn loom_ticket_vs_engine_wait() {
    model(|| {
        let mut engine = BasicEngine::new();
        let op = Op::new(nop(), vec![0u8; 1]);
        let (pending, queued) = op.enqueue();
        let f = queued.start().unwrap();
        let ticket = engine.ticket();
        let device = thread::spawn(move || ticket.complete(f, Ok(1)));
        while engine.in_flight() > 0 {
            engine.wait(None).unwrap();
        }
        assert!(pending.is_complete());
        device.join().unwrap();
    });
}

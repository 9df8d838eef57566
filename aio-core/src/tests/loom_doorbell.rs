//! An engine's doorbell: a device thread completes an op while the
//! servicing thread sleeps in `Engine::wait`.

use super::{model, nop};
use crate::sync::thread;
use crate::{BasicEngine, Engine, Op};

/// Fails with a deadlock if the signal can be missed (mutant
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

/// A sticky wake-up outside the doorbell, standing in for an eventfd whose
/// read is armed in an io_uring.
struct FakeEventfd {
    set: crate::sync::Mutex<bool>,
    cv: crate::sync::Condvar,
}

struct FakeWaker(crate::sync::Arc<FakeEventfd>);

impl crate::EngineWaker for FakeWaker {
    fn wake(&self) {
        *self.0.set.lock() = true;
        self.0.cv.notify_one();
    }
}

/// An engine that sleeps only on its own wake-up (as a uring engine sleeps
/// in `io_uring_enter`) learns of a ticketed completion through the
/// doorbell's waker.
///
/// Fails with a deadlock if the doorbell does not call its waker (mutant
/// `doorbell-skip-waker`).
#[test]
fn loom_ticket_wakes_an_engine_through_its_waker() {
    use crate::sync::Arc;
    model(|| {
        let efd = Arc::new(FakeEventfd {
            set: crate::sync::Mutex::new(false),
            cv: crate::sync::Condvar::new(),
        });
        let bell = crate::Doorbell::with_waker(Box::new(FakeWaker(Arc::clone(&efd))));
        let op = Op::new(nop(), vec![0u8; 1]);
        let (pending, queued) = op.enqueue();
        let f = queued.start().unwrap();
        let ticket = crate::Doorbell::ticket(&bell);
        let device = thread::spawn(move || ticket.complete(f, Ok(1)));
        while bell.outstanding() > 0 {
            let mut g = efd.set.lock();
            while !*g {
                g = efd.cv.wait(g);
            }
            *g = false;
        }
        assert!(pending.is_complete());
        device.join().unwrap();
    });
}

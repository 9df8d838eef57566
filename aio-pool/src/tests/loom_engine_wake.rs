//! A worker with an op in flight sleeps in `Engines::wait`; new work must
//! wake it through the engine's waker (sleep/README.md, "With the engine").

use super::{Keep, async_op, model, nop};
use crate::SubmitFlags;
use crate::config::{Class, PoolConfig};
use crate::set::{PoolSet, ShutdownMode, Submitted};
use aio_core::sync::{Arc, Condvar, Mutex, thread};
use aio_core::{Attempt, Engines, FlushKind, InFlight, OpKind, Result, Strategy, Target};

/// A device that completes each op on a thread of its own (with an engine
/// ticket), but only once the model opens its gate.
struct GatedDevice {
    gate: Arc<(Mutex<bool>, Condvar)>,
}

impl Target for GatedDevice {
    fn read_at(&self, b: &mut [u8], _: u64) -> Attempt<Result<usize>> {
        Attempt::Ready(Ok(b.len()))
    }
    fn write_at(&self, b: &[u8], _: u64) -> Attempt<Result<usize>> {
        Attempt::Ready(Ok(b.len()))
    }
    fn flush(&self, _: FlushKind) -> Attempt<Result<()>> {
        Attempt::Ready(Ok(()))
    }
    fn strategy(&self) -> Option<&dyn Strategy> {
        Some(self)
    }
}

impl Strategy for GatedDevice {
    fn submit(&self, op: InFlight, engine: &mut Engines) {
        let held = Keep::new((op, engine.ticket(), Arc::clone(&self.gate)));
        thread::spawn(move || {
            {
                let (m, cv) = &*held.2;
                let mut open = m.lock();
                while !*open {
                    open = cv.wait(open);
                }
            }
            let (op, ticket, _gate) = held.take();
            ticket.complete(op, Ok(1));
        });
    }
}

/// Op 1 goes to the gated device and stays in flight; the worker sleeps in
/// `Engine::wait`. Op 2 (no strategy: run on the worker) is then submitted
/// and must complete *before* the device completes op 1: only the
/// producer's ring can wake the worker for it.
///
/// Fails with a deadlock under mutant `pool-no-ring` (the producer marks
/// an `EngineOpen` worker awake but does not call the engine waker).
#[test]
fn loom_new_work_wakes_a_worker_in_engine_wait() {
    model(|| {
        let mut cfg = PoolConfig::default()
            .pools_per_class(1)
            .inline(false)
            .only(&[Class::Read]);
        cfg.pin = false;
        let pools = Keep::new(Arc::new(PoolSet::new(cfg).unwrap()));
        let gate = Keep::new(Arc::new((Mutex::new(false), Condvar::new())));
        let dev = Keep::new(aio_core::into_dyn(GatedDevice {
            gate: Arc::clone(&gate),
        }));
        let plain = Keep::new(nop());
        let Ok(Submitted::Pending(p1)) =
            pools.submit(async_op(&dev, OpKind::Read), SubmitFlags::NONE)
        else {
            panic!("refused");
        };
        let p1 = Keep::new(p1);
        let Ok(Submitted::Pending(p2)) =
            pools.submit(async_op(&plain, OpKind::Read), SubmitFlags::NONE)
        else {
            panic!("refused");
        };
        let p2 = Keep::new(p2);
        p2.wait_ref();
        {
            let (m, cv) = &**gate;
            *m.lock() = true;
            cv.notify_all();
        }
        p1.wait_ref();
        assert_eq!(p2.take().wait().1, Ok(1));
        assert_eq!(p1.take().wait().1, Ok(1));
        pools.shutdown(ShutdownMode::Drain);
    });
}

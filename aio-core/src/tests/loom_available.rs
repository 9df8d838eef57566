//! Waiting on `available` vs the resource's release.

use super::model;
use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::{Arc, thread};
use crate::{Attempt, Availability, FlushKind, Op, OpKind, Result, Target};

/// A one-slot resource: busy while `held`.
struct OneSlot {
    held: AtomicBool,
    avail: Availability,
}

impl Target for OneSlot {
    fn read_at(&self, b: &mut [u8], _: u64) -> Attempt<Result<usize>> {
        if self.held.load(Ordering::Acquire) {
            Attempt::Busy
        } else {
            Attempt::Ready(Ok(b.len()))
        }
    }
    fn write_at(&self, b: &[u8], _: u64) -> Attempt<Result<usize>> {
        let _ = b;
        Attempt::Busy
    }
    fn flush(&self, _: FlushKind) -> Attempt<Result<()>> {
        Attempt::Busy
    }
    fn availability(&self) -> Option<&Availability> {
        Some(&self.avail)
    }
}

struct Shared(Arc<OneSlot>);
impl Target for Shared {
    fn read_at(&self, b: &mut [u8], o: u64) -> Attempt<Result<usize>> {
        self.0.read_at(b, o)
    }
    fn write_at(&self, b: &[u8], o: u64) -> Attempt<Result<usize>> {
        self.0.write_at(b, o)
    }
    fn flush(&self, k: FlushKind) -> Attempt<Result<()>> {
        self.0.flush(k)
    }
    fn availability(&self) -> Option<&Availability> {
        self.0.availability()
    }
}

/// A synchronous op finds the resource held and sleeps on `available`
/// while another thread releases it.
///
/// Fails with a deadlock if the release can slip between the op's attempt
/// and its sleep (mutant `available-no-gen-check`).
#[test]
fn loom_wait_available_vs_release() {
    model(|| {
        let slot = Arc::new(OneSlot {
            held: AtomicBool::new(true),
            avail: Availability::new(),
        });
        let s2 = Arc::clone(&slot);
        let releaser = thread::spawn(move || {
            s2.held.store(false, Ordering::Release);
            s2.avail.release();
        });
        let mut op = Op::new(crate::into_dyn(Shared(Arc::clone(&slot))), vec![0u8; 2]);
        op.prepare(OpKind::Read, 0, 2).unwrap();
        assert_eq!(op.run_sync(), Ok(2));
        releaser.join().unwrap();
    });
}

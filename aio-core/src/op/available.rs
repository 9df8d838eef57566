//! Waiting for a busy target: [`Availability`] and the op's side of it.
//!
//! The whole availability protocol lives here: the target's event (its
//! release count and waiter list) and the op's `available` flag and
//! condvar, which only this file touches. The narration, steps A1–A4 and
//! R1–R2, is in [the op module's docs](super#waiting-for-a-busy-target-available);
//! the model is `loom_available` (`src/tests/loom_available.rs`), its mutant
//! `available-no-gen-check`.

use super::record::OpShared;
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::{Arc, Mutex};

/// A target's "resource is available again" event, which ops sleep on after
/// [`Attempt::Busy`](crate::Attempt::Busy). The protocol is narrated in
/// [the op module's docs](super#waiting-for-a-busy-target-available).
#[derive(Debug)]
pub struct Availability {
    /// Bumped by every [`Availability::release`] (R1); read with the list
    /// locked (A3).
    releases: AtomicU64,
    /// Ops sleeping on their `available` condvar. (lock: this mutex)
    waiters: Mutex<Vec<Arc<OpShared>>>,
}

impl Default for Availability {
    fn default() -> Self {
        Self::new()
    }
}

impl Availability {
    /// An availability event with no waiters.
    pub fn new() -> Self {
        Availability {
            releases: AtomicU64::new(0),
            waiters: Mutex::ranked(crate::lock_order::AVAILABILITY_WAITERS, Vec::new()),
        }
    }

    /// How many releases there have been (A1). Read it *before* the attempt
    /// that may answer `Busy`, and pass it to the wait.
    #[inline]
    pub fn releases(&self) -> u64 {
        // Acquire: pairs with the AcqRel bump in `release`, so anything the
        // releaser freed before bumping is visible to our next attempt.
        self.releases.load(Ordering::Acquire)
    }

    /// Signals that the resource may be available: wakes every op that is
    /// waiting and makes every caller holding an older release count retry.
    pub fn release(&self) {
        // R1: the bump comes before we take the list lock (R2).
        self.releases.fetch_add(1, Ordering::AcqRel);
        let mut w = self.waiters.lock();
        // Drained under the list lock (lock order: list, then op.mtx) so the
        // vector keeps its capacity and the slow path allocates nothing.
        for op in w.drain(..) {
            op.signal_available();
        }
    }

    /// Number of ops currently asleep on this event.
    pub fn waiters(&self) -> usize {
        self.waiters.lock().len()
    }

    /// Registers `op` and sleeps on its `available` condvar until released.
    /// Returns at once if a release happened since `releases_seen` was read
    /// (A3, A4).
    pub(crate) fn wait(&self, op: &Arc<OpShared>, releases_seen: u64) {
        op.arm_available();
        {
            let mut w = self.waiters.lock();
            let stale = if crate::sync::mutant(crate::sync::Mutant::AvailableNoGenCheck) {
                false
            } else {
                // Relaxed is enough: the list lock orders us against the
                // releaser's lock, which it takes after its bump.
                self.releases.load(Ordering::Relaxed) != releases_seen
            };
            if stale {
                return;
            }
            w.push(Arc::clone(op));
        }
        op.sleep_available();
    }
}

/// The op's side: the `available` flag and condvar under `OpShared::mtx`.
impl OpShared {
    /// A3, first half: clears the flag before registering.
    fn arm_available(&self) {
        self.mtx.lock().available = false;
    }

    /// R2, per waiter: sets the flag and wakes the sleeper.
    fn signal_available(&self) {
        let mut g = self.mtx.lock();
        g.available = true;
        self.available.notify_one();
    }

    /// A4: sleeps until the flag is set.
    fn sleep_available(&self) {
        let mut g = self.mtx.lock();
        while !g.available {
            g = self.available.wait(g);
        }
    }
}

//! Delivery: completing an op (C1–C4) and waiting for it (W1–W3). The narration, the
//! lost wake-up and the early free, is in
//! [the op module's docs](super#delivery); the models are in
//! `src/tests/loom_delivery.rs`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use super::notify::{Completion, Notify};
use super::record::{OpShared, Signals};
use crate::error::{Error, Result};
use crate::ring::CqEntry;
use crate::sync::Arc;

impl OpShared {
    /// Completes the op: stores the result, notifies, delivers. The caller
    /// held the in-flight right, which this consumes.
    pub(super) fn complete(&self, r: Result<usize>) {
        let mut res = Error::to_res(r);
        // SAFETY: we hold the in-flight right: nobody else writes `result`
        // and nobody reads it before the delivering RMW below.
        self.result.with_mut(|p| unsafe { *p = res });

        let run_notify = |this: &OpShared, res: &mut i64| {
            // SAFETY: the descriptor is read-only while submitted and the
            // owner cannot touch it before delivery.
            let notify = unsafe {
                this.desc(|d| match &d.notify {
                    Notify::Wait => None,
                    Notify::Callback(cb) => Some(Ok((*cb, d.id, d.private, d.kind))),
                    Notify::Ring(ring) => Some(Err((Arc::clone(ring), d.id, d.private))),
                })
            };
            match notify {
                None => {}
                Some(Ok((cb, id, private, kind))) => {
                    let c = Completion {
                        id,
                        private,
                        kind,
                        result: Error::check_res(*res),
                        _call: std::marker::PhantomData,
                    };
                    if catch_unwind(AssertUnwindSafe(|| cb(&c))).is_err() {
                        crate::stats::count_callback_panic();
                        *res = Error::to_res(Err(Error::EIO));
                        // SAFETY: still before delivery; we are the only writer.
                        this.result.with_mut(|p| unsafe { *p = *res });
                    }
                }
                Some(Err((ring, id, private))) => {
                    // With the credit the submission took: never sleeps.
                    ring.publish(CqEntry {
                        id,
                        user_data: private as u64,
                        res: *res,
                    });
                }
            }
        };

        let late = crate::sync::mutant(crate::sync::Mutant::CallbackAfterDelivery);
        if !late {
            run_notify(self, &mut res);
        }

        // The delivering RMW (C3; its orderings are argued in `state.rs`).
        let prev = self.state.deliver(res == -i64::from(libc::ECANCELED));

        if late {
            run_notify(self, &mut res);
        }
        if prev.has_waiters() && !crate::sync::mutant(crate::sync::Mutant::DeliveredNoNotify) {
            // A waiter registered before delivery and is waiting for the
            // stamp of this generation: it cannot return (and free the op)
            // until we unlock.
            let mut g = self.mtx.lock();
            g.delivered = prev.generation();
            self.delivered.notify_all();
        }
        // WARNING: from here on the op may already be reused or freed.
    }

    /// Waits until the op is delivered, or `deadline` passes. Returns
    /// whether it was delivered.
    pub(super) fn wait_delivered(&self, deadline: Option<Instant>) -> bool {
        // Fast path: delivered and nobody asked the completer to notify, so
        // the completer is done with the op.
        let s = self.state.load();
        if s.is_terminal() && !s.has_waiters() {
            return true;
        }
        // The execution we wait for. It cannot change while we wait: only
        // the owner's `Op` can start a new one, and it does not exist while
        // a `Pending` does.
        let generation = s.generation();
        let stamped = |g: &Signals| {
            if crate::sync::mutant(crate::sync::Mutant::DeliveredUnstamped) {
                // The old boolean flag: any earlier delivery counts.
                g.delivered != 0
            } else {
                g.delivered == generation
            }
        };
        let mut g = self.mtx.lock();
        loop {
            if stamped(&g) {
                return true;
            }
            let s = self.state.load();
            debug_assert_eq!(s.generation(), generation, "resubmitted while waited for");
            if s.is_terminal() {
                if !s.has_waiters() {
                    // The completer's RMW came before any registration: it
                    // will not take the lock.
                    return true;
                }
                // Somebody registered first: the completer will set the
                // stamp under the lock; wait for it.
            } else if !s.has_waiters() {
                // Register (W3), on a non-terminal state only.
                if !self.state.register_waiter(s) {
                    continue;
                }
            }
            match deadline {
                None => g = self.delivered.wait(g),
                Some(d) => {
                    let (g2, timed_out) = self.delivered.wait_until(g, d);
                    g = g2;
                    if timed_out && !stamped(&g) {
                        let s = self.state.load();
                        return s.is_terminal() && !s.has_waiters();
                    }
                }
            }
        }
    }
}

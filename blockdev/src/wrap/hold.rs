//! Holding a forwarded op's inner result on a [`Timer`] until a deadline:
//! the piece [`DelayDevice`](super::delay::DelayDevice) (every op) and
//! [`FaultDevice`](super::fault::FaultDevice) (reordered ops) share. The
//! timer thread completes the outer op through its engine ticket
//! ([`fire`]).

use std::time::{Duration, Instant};

use aio_core::{CancelOutcome, EngineTicket, Error, InFlight, OpKey, Result};

use super::forward::Then;
use super::timer::{Timer, TimerHandle};

/// An op whose inner result waits for its deadline.
pub(crate) struct Held {
    pub(crate) op: InFlight,
    pub(crate) ticket: EngineTicket,
    pub(crate) result: Result<usize>,
}

/// `now + d`, saturating far in the future instead of overflowing.
pub(crate) fn deadline_after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 86_400)))
        .unwrap_or(now)
}

/// Completes a held op with its inner result (the timer's `fire`).
pub(crate) fn fire(h: Held) {
    h.ticket.complete(h.op, h.result);
}

/// The `then` of a forwarded op that holds its inner result on `timer` for
/// `delay` (completing it at once if the timer is shut down). Shared by
/// `DelayDevice` and `FaultDevice`'s reordering.
pub(crate) fn hold_on_timer(timer: TimerHandle<Held>, delay: Duration) -> Then {
    Box::new(move |op, ticket, result| {
        let held = Held { op, ticket, result };
        if let Err(h) = timer.schedule(deadline_after(delay), held) {
            // Shut down: no more waiting.
            fire(h);
        }
    })
}

/// Cancels the op `key` if its inner result is being held on `timer`: it
/// is taken off and completed with `ECANCELED` (its I/O was done, but its
/// owner never learns the result, as with any cancelled op). Any other op
/// answers `InFlight`. The cancel of both wrappers.
pub(crate) fn cancel_held(timer: &Timer<Held>, key: OpKey) -> CancelOutcome {
    match timer.handle().take(|h| h.op.key() == key) {
        Some(h) => {
            h.ticket.complete(h.op, Err(Error::ECANCELED));
            CancelOutcome::Cancelled
        }
        None => CancelOutcome::InFlight,
    }
}

//! Cancelling a queued op: the CAS out of QUEUED that races
//! [`Queued::start`](crate::Queued::start), and what it achieved
//! ([`CancelOutcome`]). Narrated in
//! [the op module's docs](super#cancel-racing-completion).

use super::record::OpShared;
use super::state::CancelTry;
use crate::error::Error;

/// What [`Pending::cancel`](crate::Pending::cancel) achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The op was still queued: it was completed with `ECANCELED` and
    /// delivered before `cancel` returned.
    Cancelled,
    /// The op is in flight; only its servicer can cancel it now (POSIX's
    /// `AIO_NOTCANCELED`).
    InFlight,
    /// The op had already completed (POSIX's `AIO_ALLDONE`).
    AlreadyDone,
}

/// The cancel transition: the winner of the CAS completes the op with
/// `ECANCELED`. `generation`: the submission a servicer's token names, or
/// `None` for the owner's (the current one).
pub(super) fn cancel_shared(sh: &OpShared, generation: Option<u64>) -> CancelOutcome {
    match sh.state.cancel(generation) {
        CancelTry::Won => {
            sh.complete(Err(Error::ECANCELED));
            CancelOutcome::Cancelled
        }
        CancelTry::InFlight => CancelOutcome::InFlight,
        CancelTry::AlreadyDone => CancelOutcome::AlreadyDone,
    }
}

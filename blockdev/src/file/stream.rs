//! The stream path: a transfer on a non-seekable descriptor (pipe, FIFO,
//! socket, pty) goes to the process's readiness waiter
//! ([`crate::ready`], whose module docs narrate the protocol), *detached*
//! from the submitting engine: no [`EngineTicket`](aio_core::EngineTicket)
//! is taken and nothing is counted in the engine's `in_flight`.

use aio_core::sync::Arc;
use aio_core::{CancelOutcome, InFlight, OpKey};

use super::shared::{FileShared, Plan};
use crate::ready::{self, Waiter};

/// Hands the stream transfer `op` to the readiness waiter: `None` when it
/// was completed or parked, `Some(op)` back when it must take the engine's
/// path (no waiter can be made, or the waiter refuses the descriptor).
pub(super) fn park(sh: &Arc<FileShared>, op: InFlight, plan: &Plan) -> Option<InFlight> {
    let mut w = Waiter {
        op,
        keep: Some(Box::new(Arc::clone(sh))),
        len: plan.len,
        done: 0,
        nonblock: plan.status.nonblock,
        attempt: ready::epoll::attempt,
        plain: false,
        fd: sh.fd,
        key: Arc::as_ptr(sh) as usize,
    };
    // Until some op has had to wait, there is no waiter (no thread, no
    // epoll descriptor) and nothing queued to keep order with: try the
    // transfer here first.
    let r = match ready::epoll::global(false) {
        Some(r) => Some(r),
        None => match w.try_now() {
            Some(res) => {
                w.op.complete(res);
                return None;
            }
            None => ready::epoll::global(true),
        },
    };
    match r {
        Some(r) => match r.submit(w) {
            Ok(()) => None,
            Err(w) => Some(w.op),
        },
        // No waiter can be made (no thread or descriptor left): a write
        // that moved bytes ends with its count, anything else takes the
        // engine's path.
        None if w.done > 0 => {
            w.op.complete(Ok(w.done));
            None
        }
        None => Some(w.op),
    }
}

/// Cancels `op` if it is parked on the readiness waiter for this device
/// ([`Readiness::cancel`](crate::ready::Readiness::cancel)); `None` if it
/// is not parked there.
pub(super) fn cancel(sh: &Arc<FileShared>, op: OpKey) -> Option<CancelOutcome> {
    ready::epoll::global(false)?.cancel(Arc::as_ptr(sh) as usize, op)
}

/// Stream ops waiting for their peer right now.
pub(super) fn waiting() -> usize {
    ready::epoll::global(false).map_or(0, |r| r.parked())
}

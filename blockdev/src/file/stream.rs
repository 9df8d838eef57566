//! The stream path: a transfer on a non-seekable descriptor (pipe, FIFO,
//! socket, pty) goes to the process's readiness waiter
//! ([`crate::ready`], whose module docs narrate the protocol), *detached*
//! from the submitting engine: no [`EngineTicket`](aio_core::EngineTicket)
//! is taken and nothing is counted in the engine's `in_flight`. What the
//! waiter cannot park goes to the device's lane for its direction
//! ([`crate::ready::lane`]), equally detached.

use aio_core::sync::Arc;
use aio_core::{CancelOutcome, InFlight, OpKey, OpKind};

use super::shared::{FileShared, Plan};
use crate::ready::lane::Lane;
use crate::ready::{self, Waiter};

/// The lane of `sh` for ops of `kind` (a stream device has both).
fn lane(sh: &FileShared, kind: OpKind) -> Option<&Arc<Lane>> {
    let lanes = sh.lanes.as_ref()?;
    Some(&lanes[usize::from(kind != OpKind::Read)])
}

/// Hands the stream transfer `op` to the readiness waiter, or to its
/// lane: `None` when it was completed, parked or queued, `Some(op)` back
/// only when neither can take it (no thread can be started: the engine's
/// path is all that is left).
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
    let lane = lane(sh, plan.kind);
    // FIFO per direction: while the lane's thread serves this direction,
    // every op of it goes there, behind the ones it holds.
    if let Some(l) = lane {
        match l.offer(w) {
            Ok(()) => return None,
            Err(back) => w = back,
        }
    }
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
    if let Some(r) = r {
        match r.submit(w) {
            Ok(()) => return None,
            Err(back) => w = back,
        }
    }
    // The waiter cannot park it (a pty master; no descriptor for the
    // waiter's duplicate or epoll instance): the lane's thread makes the
    // blocking call, continuing a write from what it moved already.
    if let Some(l) = lane {
        match Lane::submit(l, w) {
            Ok(()) => return None,
            Err(back) => w = back,
        }
    }
    // No thread can be started either: a write that moved bytes ends with
    // its count, anything else takes the engine's path.
    if w.done > 0 {
        let n = w.done;
        w.op.complete(Ok(n));
        return None;
    }
    Some(w.op)
}

/// Cancels `op` if it is parked on the readiness waiter for this device
/// ([`Readiness::cancel`](crate::ready::Readiness::cancel)) or queued on
/// one of its lanes ([`Lane::cancel`]); `None` if it is in neither.
pub(super) fn cancel(sh: &Arc<FileShared>, op: OpKey) -> Option<CancelOutcome> {
    if let Some(o) =
        ready::epoll::global(false).and_then(|r| r.cancel(Arc::as_ptr(sh) as usize, op))
    {
        return Some(o);
    }
    sh.lanes.as_ref()?.iter().find_map(|l| l.cancel(op))
}

/// Stream ops waiting for their peer on the readiness waiter right now
/// (not those on lanes).
pub(super) fn waiting() -> usize {
    ready::epoll::global(false).map_or(0, |r| r.parked())
}

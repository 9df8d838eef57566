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
/// lane, or completes it (`EAGAIN` if neither can take it: no thread can
/// be started). A stream transfer never takes the engine's path.
pub(super) fn park(sh: &Arc<FileShared>, op: InFlight, plan: &Plan) {
    let mut w = Waiter {
        op,
        keep: Some(Box::new(Arc::clone(sh))),
        len: plan.len,
        done: 0,
        nonblock: plan.status.nonblock,
        attempt: ready::epoll::attempt,
        plain: false,
        once: false,
        fd: sh.fd,
        key: Arc::as_ptr(sh) as usize,
    };
    let lane = lane(sh, plan.kind);
    // FIFO per direction: while the lane's thread serves this direction,
    // every op of it goes there, behind the ones it holds.
    if let Some(l) = lane {
        match l.offer(w) {
            Ok(()) => return,
            Err(back) => w = back,
        }
    }
    // A blocking socket with a receive or send time-out for this
    // direction: recv(2)/send(2) give up after it (EAGAIN, or the count so
    // far), which only a blocking call does; epoll knows no time-outs.
    if sh.socket
        && !w.nonblock
        && let Some(l) = lane
        && socket_timeout(sh.fd, plan.kind)
    {
        match Lane::submit(l, w) {
            Ok(()) => return,
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
                return;
            }
            None => ready::epoll::global(true),
        },
    };
    if let Some(r) = r {
        match r.submit(w) {
            Ok(()) => return,
            Err(back) => w = back,
        }
    }
    // The waiter cannot park it (a pty master; no descriptor for the
    // waiter's duplicate or epoll instance): the lane's thread makes the
    // blocking call, continuing a write from what it moved already.
    if let Some(l) = lane {
        match Lane::submit(l, w) {
            Ok(()) => return,
            Err(back) => w = back,
        }
    }
    // No thread can be started either (RLIMIT_NPROC): a write that moved
    // bytes ends with its count; anything else fails with EAGAIN, glibc's
    // answer when it has no thread for a request. It must not take the
    // engine's path, where it would wait in a worker's ring or a blocking
    // pool thread that file I/O needs (a pty write nobody read held a
    // file write behind it).
    let r = if w.done > 0 {
        Ok(w.done)
    } else {
        Err(aio_core::Error::EAGAIN)
    };
    w.op.complete(r);
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

/// Whether the socket `fd` has a time-out set for transfers of `kind`
/// (`SO_RCVTIMEO` for reads, `SO_SNDTIMEO` for writes).
fn socket_timeout(fd: std::os::fd::RawFd, kind: OpKind) -> bool {
    let opt = if kind == OpKind::Read {
        libc::SO_RCVTIMEO
    } else {
        libc::SO_SNDTIMEO
    };
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    let mut len = std::mem::size_of::<libc::timeval>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `tv`.
    let r = unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, opt, (&raw mut tv).cast(), &mut len) };
    r == 0 && (tv.tv_sec != 0 || tv.tv_usec != 0)
}

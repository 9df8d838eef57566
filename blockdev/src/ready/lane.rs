//! [`Lane`]: one direction of one stream device, served by a thread of
//! its own that makes blocking calls, for the stream ops the readiness
//! waiter cannot park (a pty master; no descriptor left for the waiter's
//! duplicate or epoll instance). The protocol is narrated in the parent
//! module's docs ("Lanes"); the model is `src/tests/loom_lane.rs`.

use std::collections::VecDeque;
use std::fmt;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use aio_core::sync::{Arc, Condvar, Mutex};
use aio_core::{CancelOutcome, Error, OpKey, Result};

use super::{Try, Waiter};

/// The operating system's side of a lane (the model's is a fake).
pub(crate) struct LaneOs {
    /// A duplicate of the descriptor for the lane's thread to use while it
    /// lives (so that the program closing or reusing the number changes
    /// nothing for the ops queued), or `None` if none can be had (the
    /// thread then uses the number itself, as the engine's path would).
    pub(crate) dup: fn(RawFd) -> Option<RawFd>,
    /// Closes one of `dup`'s descriptors.
    pub(crate) close: fn(RawFd),
    /// Starts a thread running the job, with every signal blocked; false
    /// if no thread can be started.
    pub(crate) spawn: fn(Box<dyn FnOnce() + Send>) -> bool,
}

/// What a lane holds. (lock: `Lane::state`, a leaf)
#[derive(Default)]
struct LaneState {
    /// The ops waiting for the thread, in submission order.
    q: VecDeque<Waiter>,
    /// A thread serves this lane: it takes every op in `q`. Cleared only
    /// by that thread, in the critical section that finds `q` empty.
    served: bool,
    /// The process whose thread that is (a fork child has none of it).
    pid: u32,
    /// The op the thread is transferring now (out of `q`).
    current: Option<OpKey>,
}

/// One direction of one stream device (see the module docs).
pub(crate) struct Lane {
    state: Mutex<LaneState>,
    more: Condvar,
    os: &'static LaneOs,
    /// How long an idle thread waits for the next op before it exits
    /// (`None`: it exits at once; the models use that, loom having no
    /// clock).
    linger: Option<Duration>,
}

impl fmt::Debug for Lane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lane").finish_non_exhaustive()
    }
}

/// A blocking transfer of `w` on `fd` (the lane's thread), from
/// `w.done` on: what `read(2)`/`write(2)` give on that descriptor, a
/// write continued to its full count (as the readiness waiter completes
/// one on a blocking descriptor).
fn transfer(w: &mut Waiter, fd: RawFd) -> Result<usize> {
    w.plain = true;
    match (w.attempt)(w, fd) {
        Try::Done(r) => r,
        // EAGAIN on a descriptor the program made non-blocking since, or
        // a send time-out: write(2)'s answer.
        Try::Wait if w.done > 0 => Ok(w.done),
        Try::Wait => Err(Error::EAGAIN),
        Try::Unsupported if w.done > 0 => Ok(w.done),
        Try::Unsupported => Err(Error::EOPNOTSUPP),
    }
}

impl Lane {
    /// A lane with no thread yet.
    pub(crate) fn new(os: &'static LaneOs, linger: Option<Duration>) -> Lane {
        Lane {
            state: Mutex::ranked(crate::lock_order::LANE_STATE, LaneState::default()),
            more: Condvar::new(),
            os,
            linger,
        }
    }

    /// Queues `w` behind the lane's ops if a thread serves the lane now
    /// (FIFO per direction: an op must not pass the ones queued here by
    /// taking the readiness waiter); else gives it back.
    pub(crate) fn offer(&self, w: Waiter) -> std::result::Result<(), Waiter> {
        let mut st = self.state.lock();
        if !self.live(&mut st) {
            return Err(w);
        }
        st.q.push_back(w);
        drop(st);
        self.more.notify_one();
        Ok(())
    }

    /// Queues `w` on the lane, starting its thread if none serves it.
    /// Gives it back if no thread can be started.
    pub(crate) fn submit(this: &Arc<Lane>, w: Waiter) -> std::result::Result<(), Waiter> {
        let mut st = this.state.lock();
        if this.live(&mut st) {
            st.q.push_back(w);
            drop(st);
            this.more.notify_one();
            return Ok(());
        }
        let own = (this.os.dup)(w.fd);
        let fd = own.unwrap_or(w.fd);
        st.q.push_back(w);
        st.served = true;
        st.pid = std::process::id();
        let lane = Arc::clone(this);
        // Spawned with the lock held: the new thread blocks on it until
        // this decision is final, and nobody can queue behind an op that
        // is about to be given back.
        if (this.os.spawn)(Box::new(move || lane.serve(fd, own))) {
            return Ok(());
        }
        st.served = false;
        if let Some(d) = own {
            (this.os.close)(d);
        }
        Err(st.q.pop_back().expect("pushed above, nobody else queues"))
    }

    /// Whether a thread of this process serves the lane. A fork child's
    /// copy of a parent's lane has no thread: its ops belong to the
    /// parent and are forgotten (never completed here). (under `state`)
    fn live(&self, st: &mut LaneState) -> bool {
        if st.served && st.pid != std::process::id() {
            std::mem::forget(std::mem::take(&mut st.q));
            st.served = false;
            st.current = None;
        }
        st.served
    }

    /// The lane's thread: runs the ops in order until the queue stays
    /// empty for the linger time.
    /// Its transfers use `fd`, which is `own` (closed when it exits) or
    /// the device's number if no duplicate could be had.
    fn serve(&self, fd: RawFd, own: Option<RawFd>) {
        let mut st = self.state.lock();
        let mut idle_since: Option<Instant> = None;
        loop {
            if let Some(mut w) = st.q.pop_front() {
                idle_since = None;
                st.current = Some(w.op.key());
                drop(st);
                let r = transfer(&mut w, fd);
                w.op.complete(r);
                drop(w.keep);
                st = self.state.lock();
                st.current = None;
                continue;
            }
            let wait = self.linger.and_then(|l| {
                let since = *idle_since.get_or_insert_with(Instant::now);
                let end = since + l;
                (Instant::now() < end).then_some(end)
            });
            match wait {
                Some(end) => st = self.more.wait_until(st, end).0,
                None => {
                    if aio_core::sync::mutant(aio_core::sync::Mutant::LaneExitSplit) {
                        // Mutant: decide to exit, unlock, then say so; an
                        // op queued in between finds the lane served and
                        // is never run.
                        drop(st);
                        st = self.state.lock();
                    }
                    st.served = false;
                    drop(st);
                    if let Some(d) = own {
                        (self.os.close)(d);
                    }
                    return;
                }
            }
        }
    }

    /// Cancels `op` if it is this lane's: `Cancelled` if it was still
    /// queued (it completes with `ECANCELED`), `InFlight` if the thread is
    /// transferring it (a blocking call cannot be taken back, as glibc and
    /// FreeBSD answer), `None` if it is not here.
    pub(crate) fn cancel(&self, op: OpKey) -> Option<CancelOutcome> {
        let w = {
            let mut st = self.state.lock();
            if !self.live(&mut st) {
                return None;
            }
            if st.current == Some(op) {
                return Some(CancelOutcome::InFlight);
            }
            let i = st.q.iter().position(|w| w.op.key() == op)?;
            st.q.remove(i).expect("index found above")
        };
        if w.done > 0 {
            // Bytes moved on the readiness waiter before it came here.
            let n = w.done;
            w.op.complete(Ok(n));
            return Some(CancelOutcome::InFlight);
        }
        w.op.complete(Err(Error::ECANCELED));
        Some(CancelOutcome::Cancelled)
    }
}

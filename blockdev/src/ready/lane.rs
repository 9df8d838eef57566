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
    /// A duplicate of an op's descriptor, taken when the op is queued (so
    /// that the program closing or reusing the number changes nothing for
    /// it), or `None` if none can be had (the op then uses the number
    /// itself).
    pub(crate) dup: fn(RawFd) -> Option<RawFd>,
    /// Closes one of `dup`'s descriptors.
    pub(crate) close: fn(RawFd),
    /// Starts a thread running the job, with every signal blocked; false
    /// if no thread can be started.
    pub(crate) spawn: fn(Box<dyn FnOnce() + Send>) -> bool,
}

/// One queued op and the descriptor its transfer uses.
struct Entry {
    w: Waiter,
    /// A duplicate of the op's descriptor taken when it was queued (so it
    /// transfers on the file the program named, whatever the number names
    /// later), closed as soon as the op is done; `None` if no descriptor
    /// was left: then the number itself.
    own: Option<RawFd>,
}

impl Entry {
    fn fd(&self) -> RawFd {
        self.own.unwrap_or(self.w.fd)
    }
}

/// What a lane holds. (lock: `Lane::state`, a leaf)
#[derive(Default)]
struct LaneState {
    /// The ops waiting for the thread, in submission order.
    q: VecDeque<Entry>,
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
/// `w.done` on: what one `read(2)`/`write(2)` gives on that descriptor.
/// A blocking write returns its full count (the kernel waits for room),
/// unless a send time-out or an error cuts it short: then its count, as
/// `write(2)`, and not another wait of a whole time-out.
fn transfer(w: &mut Waiter, fd: RawFd) -> Result<usize> {
    w.plain = true;
    w.once = true;
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
        let e = self.entry(w);
        st.q.push_back(e);
        drop(st);
        self.more.notify_one();
        Ok(())
    }

    /// `w` with a duplicate of its descriptor, taken now. (under `state`,
    /// so that a fork finds no duplicate half registered: the fork gate)
    fn entry(&self, w: Waiter) -> Entry {
        let own = (self.os.dup)(w.fd);
        Entry { w, own }
    }

    /// Closes an entry's duplicate.
    fn release(&self, own: Option<RawFd>) {
        if let Some(d) = own {
            (self.os.close)(d);
        }
    }

    /// Queues `w` on the lane, starting its thread if none serves it.
    /// Gives it back if no thread can be started.
    pub(crate) fn submit(this: &Arc<Lane>, w: Waiter) -> std::result::Result<(), Waiter> {
        let mut st = this.state.lock();
        let served = this.live(&mut st);
        let e = this.entry(w);
        st.q.push_back(e);
        if served {
            drop(st);
            this.more.notify_one();
            return Ok(());
        }
        st.served = true;
        st.pid = std::process::id();
        let lane = Arc::clone(this);
        // Spawned with the lock held: the new thread blocks on it until
        // this decision is final, and nobody can queue behind an op that
        // is about to be given back.
        if (this.os.spawn)(Box::new(move || lane.serve())) {
            return Ok(());
        }
        st.served = false;
        let e = st.q.pop_back().expect("pushed above, nobody else queues");
        drop(st);
        this.release(e.own);
        Err(e.w)
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
    /// empty for the linger time. Each transfer uses its entry's
    /// duplicate, closed before the op completes (so a program that closes
    /// its own descriptor once the op is done closes the file).
    fn serve(&self) {
        let mut st = self.state.lock();
        let mut idle_since: Option<Instant> = None;
        loop {
            if let Some(mut e) = st.q.pop_front() {
                idle_since = None;
                st.current = Some(e.w.op.key());
                drop(st);
                let fd = e.fd();
                let r = transfer(&mut e.w, fd);
                self.release(e.own);
                let w = e.w;
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
            let i = st.q.iter().position(|e| e.w.op.key() == op)?;
            st.q.remove(i).expect("index found above")
        };
        self.release(w.own);
        let w = w.w;
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

#![doc = include_str!("README.md")]

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::os::fd::RawFd;

use aio_core::sync::Mutex;
use aio_core::{CancelOutcome, Error, InFlight, OpKind, Result};

#[cfg(not(loom))]
pub(crate) mod epoll;
pub(crate) mod lane;

/// The two directions of a descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    /// Reads (`EPOLLIN`).
    Read,
    /// Writes (`EPOLLOUT`).
    Write,
}

/// What one non-blocking attempt at an op's transfer gave.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Try {
    /// Finished, with this result.
    Done(Result<usize>),
    /// Would block: wait for readiness (some bytes may have moved).
    Wait,
    /// The descriptor cannot do non-blocking transfers this way.
    Unsupported,
}

/// The operating-system side, abstracted so that the protocol can be
/// modeled: the real one is epoll and `RWF_NOWAIT`; the model's is a
/// loom-visible fake.
pub(crate) trait Poller: Send + Sync + 'static {
    /// Starts watching the file behind `fd`: returns the descriptor the
    /// parked ops use from now on (a duplicate the waiter owns, so that
    /// the program closing or reusing its number changes nothing for
    /// them), registered disarmed with `key` as its event data. `Err` if
    /// the file cannot be watched.
    fn watch(&self, fd: RawFd, key: usize) -> Result<RawFd>;
    /// As `watch`, for a file that cannot do `RWF_NOWAIT` (a tty): opens
    /// the file again (`/proc/self/fd/N`) in non-blocking mode, so that a
    /// plain `read`/`write` on the new descriptor never blocks, whatever
    /// the program's descriptor is set to. `Err` if it cannot be reopened
    /// (a socket).
    fn watch_reopen(&self, fd: RawFd, key: usize) -> Result<RawFd>;
    /// Arms `fd` (one of `watch`'s, one-shot) for the directions set;
    /// `(false, false)` leaves it disarmed.
    fn arm(&self, fd: RawFd, key: usize, read: bool, write: bool) -> Result<()>;
    /// Stops watching `fd` (one of `watch`'s) and closes it.
    fn unwatch(&self, fd: RawFd);
    /// Blocks until some watched files are ready; appends their keys.
    fn wait(&self, out: &mut Vec<usize>);
}

/// One parked op.
pub(crate) struct Waiter {
    /// The op (its buffer is ours until it completes).
    pub(crate) op: InFlight,
    /// Keeps whatever the op needs alive (the device's descriptor state).
    pub(crate) keep: Option<Box<dyn Send>>,
    /// The bytes to move.
    pub(crate) len: usize,
    /// Bytes moved so far (a blocking write that came back short).
    pub(crate) done: usize,
    /// `O_NONBLOCK` at submission: one attempt, whatever it gives.
    pub(crate) nonblock: bool,
    /// Does one non-blocking attempt on `fd` (from `done` on; advances
    /// `done`).
    pub(crate) attempt: fn(&mut Waiter, RawFd) -> Try,
    /// The attempt is a plain `read`/`write` on a non-blocking reopened
    /// descriptor (see [`Poller::watch_reopen`]), not `RWF_NOWAIT`.
    pub(crate) plain: bool,
    /// A short write ends the op with its count (a lane's blocking write:
    /// on a blocking descriptor only a send time-out or an error cuts one
    /// short, and `write(2)` returns the count then), instead of the rest
    /// being tried at once.
    pub(crate) once: bool,
    /// The program's descriptor (the first attempt uses it; a parked op
    /// uses the waiter's duplicate).
    pub(crate) fd: RawFd,
    /// Which device's queues the op joins (the address of its shared
    /// state, alive while the op is): each device has one FIFO per
    /// direction.
    pub(crate) key: usize,
}

impl fmt::Debug for Waiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waiter")
            .field("id", &self.op.id())
            .field("fd", &self.fd)
            .field("len", &self.len)
            .field("done", &self.done)
            .finish()
    }
}

impl Waiter {
    fn dir(&self) -> Dir {
        if self.op.kind() == OpKind::Read {
            Dir::Read
        } else {
            Dir::Write
        }
    }

    /// One attempt on the program's descriptor when no op can be queued
    /// ahead (no waiter exists yet): the result if that finished the op,
    /// `None` if it must wait (or the descriptor cannot do it this way;
    /// the waiter then decides). A partial write is kept in `done`.
    pub(crate) fn try_now(&mut self) -> Option<Result<usize>> {
        match self.step(self.fd) {
            Try::Done(r) => Some(r),
            Try::Wait | Try::Unsupported => None,
        }
    }

    /// One attempt on `fd`, and what it means for this op. A descriptor
    /// without `RWF_NOWAIT` (inotify, some character devices) that the
    /// program made non-blocking gets one plain transfer on it: that cannot
    /// block, and says `EAGAIN` as `read(2)` would (the reopen the waiter
    /// tries otherwise does not exist for such files).
    fn step(&mut self, fd: RawFd) -> Try {
        let mut t = (self.attempt)(self, fd);
        if matches!(t, Try::Unsupported) && self.nonblock && !self.plain {
            self.plain = true;
            t = (self.attempt)(self, fd);
            self.plain = false;
        }
        match t {
            Try::Wait if self.nonblock => Try::Done(if self.done > 0 {
                Ok(self.done)
            } else {
                Err(Error::EAGAIN)
            }),
            other => other,
        }
    }
}

/// The parked ops of one device, and the watched duplicate of its
/// descriptor they use. Exists exactly while an op is parked.
struct FdQueues {
    dup: RawFd,
    /// `dup` is a non-blocking reopen (plain transfers on it).
    plain: bool,
    read: VecDeque<Waiter>,
    write: VecDeque<Waiter>,
}

impl FdQueues {
    fn q(&mut self, d: Dir) -> &mut VecDeque<Waiter> {
        match d {
            Dir::Read => &mut self.read,
            Dir::Write => &mut self.write,
        }
    }
}

/// Parked ops by device key. (lock: `Readiness::state`, a leaf)
#[derive(Default)]
struct State {
    fds: HashMap<usize, FdQueues>,
}

/// The process-wide readiness waiter (see the module docs).
pub(crate) struct Readiness {
    poller: Box<dyn Poller>,
    state: Mutex<State>,
}

impl fmt::Debug for Readiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Readiness").finish_non_exhaustive()
    }
}

/// Completions collected under the lock, run after unlocking.
type Done = Vec<(InFlight, Result<usize>, Option<Box<dyn Send>>)>;

fn finish(done: Done) {
    for (op, r, keep) in done {
        op.complete(r);
        drop(keep);
    }
}

impl Readiness {
    /// A waiter over `poller` (no thread: see [`Readiness::run`]).
    pub(crate) fn new(poller: Box<dyn Poller>) -> Readiness {
        Readiness {
            poller,
            state: Mutex::ranked(crate::lock_order::READINESS_STATE, State::default()),
        }
    }

    /// Arms the device's duplicate for its directions with waiters, or,
    /// if none is left, stops watching it and forgets the entry. (under
    /// `state`) `Err` if the arm failed; the entry is then still there.
    fn rearm_locked(&self, st: &mut State, key: usize) -> Result<()> {
        let Some(q) = st.fds.get(&key) else {
            return Ok(());
        };
        let (r, w) = (!q.read.is_empty(), !q.write.is_empty());
        if !r && !w {
            let dup = q.dup;
            st.fds.remove(&key);
            self.poller.unwatch(dup);
            return Ok(());
        }
        self.poller.arm(q.dup, key, r, w)
    }

    /// Parks or completes `w`. Gives it back if the descriptor cannot be
    /// waited on here; a write may have moved bytes already (`w.done`),
    /// and whoever takes it continues from there.
    pub(crate) fn submit(&self, mut w: Waiter) -> std::result::Result<(), Waiter> {
        let key = w.key;
        let dir = w.dir();
        let mut st = self.state.lock();
        if let Some(q) = st.fds.get_mut(&key)
            && !q.q(dir).is_empty()
        {
            // FIFO per direction: behind the ops already waiting; the
            // duplicate is armed for this direction already.
            q.q(dir).push_back(w);
            return Ok(());
        }
        let fd = w.fd;
        // A device whose ops use a reopened descriptor keeps using it.
        let plain_dup = st.fds.get(&key).filter(|q| q.plain).map(|q| q.dup);
        let first = match plain_dup {
            Some(d) => {
                w.plain = true;
                w.step(d)
            }
            None => w.step(fd),
        };
        match first {
            Try::Done(r) => {
                drop(st);
                w.op.complete(r);
                drop(w.keep);
                Ok(())
            }
            Try::Unsupported if w.done == 0 && !w.plain && !st.fds.contains_key(&key) => {
                // No RWF_NOWAIT here (a tty): wait on a non-blocking reopen.
                let Ok(dup) = self.poller.watch_reopen(fd, key) else {
                    return Err(w);
                };
                st.fds.insert(
                    key,
                    FdQueues {
                        dup,
                        plain: true,
                        read: VecDeque::new(),
                        write: VecDeque::new(),
                    },
                );
                w.plain = true;
                match w.step(dup) {
                    Try::Done(r) => {
                        let _ = self.rearm_locked(&mut st, key);
                        drop(st);
                        w.op.complete(r);
                        drop(w.keep);
                        Ok(())
                    }
                    Try::Wait => self.park_locked(st, key, w),
                    Try::Unsupported => {
                        let _ = self.rearm_locked(&mut st, key);
                        drop(st);
                        w.plain = false;
                        Err(w)
                    }
                }
            }
            Try::Unsupported if w.done == 0 => Err(w),
            Try::Unsupported => {
                drop(st);
                let n = w.done;
                w.op.complete(Ok(n));
                drop(w.keep);
                Ok(())
            }
            Try::Wait => {
                if let std::collections::hash_map::Entry::Vacant(v) = st.fds.entry(key) {
                    let Ok(dup) = self.poller.watch(fd, key) else {
                        drop(st);
                        return Err(w);
                    };
                    v.insert(FdQueues {
                        dup,
                        plain: false,
                        read: VecDeque::new(),
                        write: VecDeque::new(),
                    });
                }
                if aio_core::sync::mutant(aio_core::sync::Mutant::ReadyArmBeforeQueue) {
                    // Mutant: arm for the direction first, unlock, then
                    // queue (without arming again); an event in the gap
                    // finds nothing to do and is gone.
                    let q = st.fds.get(&key).expect("inserted above");
                    let dup = q.dup;
                    let (r, wr) = (
                        dir == Dir::Read || !q.read.is_empty(),
                        dir == Dir::Write || !q.write.is_empty(),
                    );
                    let _ = self.poller.arm(dup, key, r, wr);
                    drop(st);
                    let mut st = self.state.lock();
                    st.fds
                        .entry(key)
                        .or_insert_with(|| FdQueues {
                            dup,
                            plain: false,
                            read: VecDeque::new(),
                            write: VecDeque::new(),
                        })
                        .q(dir)
                        .push_back(w);
                    return Ok(());
                }
                self.park_locked(st, key, w)
            }
        }
    }

    /// Queues `w` on its device's entry (which exists) and arms the
    /// watch; if the arm fails, takes it back out and gives it back (with
    /// what it moved so far: the caller's lane continues a write).
    fn park_locked(
        &self,
        mut st: aio_core::sync::MutexGuard<'_, State>,
        key: usize,
        w: Waiter,
    ) -> std::result::Result<(), Waiter> {
        let dir = w.dir();
        st.fds
            .get_mut(&key)
            .expect("the device's entry exists")
            .q(dir)
            .push_back(w);
        match self.rearm_locked(&mut st, key) {
            Ok(()) => Ok(()),
            Err(_) => {
                let q = st.fds.get_mut(&key).expect("arm failed: still there");
                let w = q.q(dir).pop_back().expect("just pushed");
                let _ = self.rearm_locked(&mut st, key);
                drop(st);
                Err(w)
            }
        }
    }

    /// Handles readiness of the device `key` (the readiness thread).
    pub(crate) fn ready(&self, key: usize) {
        let mut done: Done = Vec::new();
        {
            let mut st = self.state.lock();
            let Some(q) = st.fds.get_mut(&key) else {
                return; // a stale event: the entry is gone
            };
            let (dup, plain) = (q.dup, q.plain);
            // A one-shot event says "something changed"; trying both
            // directions is cheap (a would-block attempt is one syscall)
            // and covers EPOLLHUP/EPOLLERR, which end both.
            for d in [Dir::Read, Dir::Write] {
                while let Some(front) = q.q(d).front_mut() {
                    front.plain = plain;
                    match front.step(dup) {
                        Try::Wait => break,
                        Try::Done(r) => {
                            let w = q.q(d).pop_front().expect("front exists");
                            done.push((w.op, r, w.keep));
                        }
                        Try::Unsupported => {
                            let w = q.q(d).pop_front().expect("front exists");
                            let r = if w.done > 0 {
                                Ok(w.done)
                            } else {
                                Err(Error::EOPNOTSUPP)
                            };
                            done.push((w.op, r, w.keep));
                        }
                    }
                }
            }
            if self.rearm_locked(&mut st, key).is_err() {
                // Cannot re-arm: the ops fail rather than wait forever.
                if let Some(q) = st.fds.remove(&key) {
                    for w in q.read.into_iter().chain(q.write) {
                        let r = if w.done > 0 {
                            Ok(w.done)
                        } else {
                            Err(Error::EIO)
                        };
                        done.push((w.op, r, w.keep));
                    }
                    self.poller.unwatch(q.dup);
                }
            }
        }
        finish(done);
    }

    /// Cancels the parked op `op` (its protocol key, never the user id)
    /// of device `key`: `None` if it is not parked here.
    pub(crate) fn cancel(&self, key: usize, op: aio_core::OpKey) -> Option<CancelOutcome> {
        let w = {
            let mut st = self.state.lock();
            let q = st.fds.get_mut(&key)?;
            let mut found = None;
            for d in [Dir::Read, Dir::Write] {
                if let Some(i) = q.q(d).iter().position(|w| w.op.key() == op) {
                    found = Some((d, i));
                }
            }
            let (d, i) = found?;
            let w = q.q(d).remove(i).expect("index found above");
            // The next op may be ready already: let the thread look (or
            // stop watching if it was the last).
            let _ = self.rearm_locked(&mut st, key);
            w
        };
        let n = w.done;
        if n > 0 {
            // Bytes moved already: not cancelled (glibc's and FreeBSD's
            // answer for a transfer under way), and the transfer stops
            // where it is, as a write(2) interrupted after a partial
            // transfer returns its count. Waiting on instead could wait
            // forever: a peer that shuts down reading never makes the
            // descriptor writable, and epoll reports nothing.
            w.op.complete(Ok(n));
            Some(CancelOutcome::InFlight)
        } else {
            w.op.complete(Err(Error::ECANCELED));
            Some(CancelOutcome::Cancelled)
        }
    }

    /// Ops parked now (tests and statistics).
    pub(crate) fn parked(&self) -> usize {
        let st = self.state.lock();
        st.fds.values().map(|q| q.read.len() + q.write.len()).sum()
    }

    /// The readiness thread's loop: wait, handle, forever.
    pub(crate) fn run(&self) {
        let mut ready = Vec::with_capacity(64);
        loop {
            ready.clear();
            self.poller.wait(&mut ready);
            for &key in &ready {
                self.ready(key);
            }
        }
    }

    /// One round of the loop (the models drive the thread by hand);
    /// false if the poller returned nothing (the model's stop).
    #[cfg(loom)]
    pub(crate) fn run_once(&self) -> bool {
        let mut ready = Vec::new();
        self.poller.wait(&mut ready);
        let any = !ready.is_empty();
        for key in ready {
            self.ready(key);
        }
        any
    }
}

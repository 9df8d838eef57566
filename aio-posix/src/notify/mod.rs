//! Completion notifications: a validated copy of a `struct sigevent`, taken
//! at submission (the aiocb may be freed as soon as its error code is
//! stored, so the completer never reads the caller's sigevent), and the
//! threads that run `SIGEV_THREAD` functions.
//!
//! The longest file of the crate (about 420 lines of code), for a
//! reason: [`Notification`], [`Deferred`] and [`Dispatcher`] are mutually
//! recursive (a notification is sent through
//! the dispatcher, which sends batches of deferred notifications), so
//! splitting them would make an import cycle. The leaves are apart:
//! [`signal`] (queueing a signal, blocking signals) and [`sent`] (the
//! sent marks).
//!
//! # The `SIGEV_THREAD` dispatcher (see `README.md`, [SIGEV_THREAD](crate::protocols#sigev_thread-notify))
//!
//! ```text
//!   Lock order: Dispatcher::q alone. No lock is held while a function runs.
//!
//!   q   under Dispatcher::q        a   atomic
//!
//!   jobs      q   functions to call, oldest first (at most `credit_max`)
//!   idle      q   pool threads asleep on `cv`
//!   threads   q   threads alive, pool and dedicated (at most `max`)
//!   exit      q   set by shutdown: threads leave once `jobs` is empty
//!   credits   a   notifications accepted and not yet started
//! ```
//!
//! POSIX runs a `SIGEV_THREAD` function "as if it were the start routine
//! of a new thread". So: a function without `sigev_notify_attributes` runs
//! on a pool thread made with default attributes (glibc's default stack,
//! `RLIMIT_STACK`), one with attributes on a thread of its own made with
//! them; both start with every signal blocked, as glibc's do. The pool
//! grows on demand: a job finds an idle thread, or a new one is made while
//! fewer than `max` threads live, so functions that block or wait for each
//! other do not stall the rest until `max` of them block at once. A
//! function may `pthread_exit` or be cancelled: the frames between the
//! thread's start and the function are plain (`extern "C-unwind"`, nothing
//! to drop), and the thread's exit, however it happens, runs one
//! thread-specific-data destructor that does the accounting (and starts a
//! replacement if jobs wait). The backlog is bounded by credits taken at
//! submission (`reserve`): past `credit_max` notifications not yet
//! started, submission fails with `EAGAIN` instead of queueing without
//! limit.

use std::collections::VecDeque;

use aio_core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
#[cfg(loom)]
use aio_core::sync::thread::{self, JoinHandle};
use aio_core::sync::{Condvar, Mutex};
use aio_core::{Error, Result};

use crate::abi::RawSigevent;

mod sent;
mod signal;

pub(crate) use sent::{NEVER_SENT, mark_sent, was_sent};
use signal::send_signal;
#[cfg_attr(loom, allow(unused_imports))]
pub(crate) use signal::with_signals_blocked;

/// A `SIGEV_THREAD` function: `void f(union sigval)`.
pub type ThreadFn = extern "C" fn(libc::sigval);

/// How one completion (or one `lio_listio` list) is announced; a validated
/// copy of a `struct sigevent`.
#[derive(Debug, Clone, Copy)]
pub enum Notification {
    /// `SIGEV_NONE`: nothing; the program polls or suspends.
    None,
    /// `SIGEV_SIGNAL`: queue `signo` to the process, with `si_code`
    /// `SI_ASYNCIO` and `si_value` = `value`.
    Signal {
        /// The signal number.
        signo: i32,
        /// `sigev_value`.
        value: usize,
    },
    /// `SIGEV_THREAD_ID` (Linux): queue `signo` to thread `tid`.
    ThreadId {
        /// The signal number.
        signo: i32,
        /// `sigev_value`.
        value: usize,
        /// The kernel thread id.
        tid: i32,
    },
    /// `SIGEV_THREAD`: call `function(value)` as the start routine of a
    /// thread (see the module docs).
    Thread {
        /// The function.
        function: ThreadFn,
        /// `sigev_value`.
        value: usize,
        /// `sigev_notify_attributes` of a C caller (`None`: the library's
        /// pool threads).
        attributes: Option<ThreadAttr>,
    },
}

/// A C caller's `pthread_attr_t *` (`sigev_notify_attributes`), used when
/// the notification's thread is made: only [`Notification::from_raw`]
/// makes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadAttr(usize);

/// A signal number a notification may name: 0 is valid and sends nothing
/// (as glibc: `sigqueue` with signal 0 only checks), above `SIGRTMAX` is
/// `EINVAL`.
fn valid_signo(s: i32) -> bool {
    (0..=libc::SIGRTMAX()).contains(&s)
}

impl Notification {
    /// Whether completing the op sends a signal (`SIGEV_SIGNAL` or
    /// `SIGEV_THREAD_ID` with a signal other than 0). Such an op is never
    /// completed in the submitting thread: the signal would be delivered
    /// there before `aio_read` returns (a process-directed signal goes to
    /// the sending thread when it does not block it), which glibc never
    /// does, and a handler that waits for the op in `aio_suspend` would
    /// wait for its own return.
    pub(crate) fn signals(&self) -> bool {
        matches!(self, Notification::Signal { signo, .. } | Notification::ThreadId { signo, .. } if *signo != 0)
    }

    /// Validates and copies a C `struct sigevent`: `EINVAL` for an unknown
    /// `sigev_notify`, a signal number outside 0..=`SIGRTMAX`, a
    /// `SIGEV_THREAD` without a function or a `SIGEV_THREAD_ID` with a
    /// signal but no thread id. Signal 0 (a zero-filled sigevent is
    /// `SIGEV_SIGNAL` with signal 0) is valid and sends nothing.
    pub fn from_raw(ev: &RawSigevent) -> Result<Notification> {
        match ev.sigev_notify {
            libc::SIGEV_NONE => Ok(Notification::None),
            libc::SIGEV_SIGNAL if ev.sigev_signo == 0 => Ok(Notification::None),
            libc::SIGEV_SIGNAL if valid_signo(ev.sigev_signo) => Ok(Notification::Signal {
                signo: ev.sigev_signo,
                value: ev.sigev_value,
            }),
            libc::SIGEV_THREAD_ID => {
                // SAFETY: every bit pattern is a valid `c_int`.
                let tid = unsafe { ev.un.tid };
                if ev.sigev_signo == 0 {
                    Ok(Notification::None)
                } else if valid_signo(ev.sigev_signo) && tid > 0 {
                    Ok(Notification::ThreadId {
                        signo: ev.sigev_signo,
                        value: ev.sigev_value,
                        tid,
                    })
                } else {
                    Err(Error::EINVAL)
                }
            }
            libc::SIGEV_THREAD => {
                // SAFETY: read as a plain address; a null one is rejected.
                let f = unsafe { ev.un.pad };
                let function = (u64::from(f[0] as u32) | (u64::from(f[1] as u32) << 32)) as usize;
                let attr = (u64::from(f[2] as u32) | (u64::from(f[3] as u32) << 32)) as usize;
                if function == 0 {
                    Err(Error::EINVAL)
                } else {
                    Ok(Notification::Thread {
                        // SAFETY: a non-null `void (*)(union sigval)` from
                        // the C caller, who promises it is callable.
                        function: unsafe { std::mem::transmute::<usize, ThreadFn>(function) },
                        value: ev.sigev_value,
                        attributes: (attr != 0).then_some(ThreadAttr(attr)),
                    })
                }
            }
            _ => Err(Error::EINVAL),
        }
    }

    /// Sends the notification. Never blocks for long and never fails
    /// visibly: a signal the kernel refuses (`EAGAIN`: the queue of
    /// real-time signals is full) is dropped, as glibc does. A
    /// `SIGEV_THREAD` notification uses the credit its submitter reserved
    /// ([`Dispatcher::reserve`]).
    pub(crate) fn send(&self, dispatch: &Dispatcher) {
        match *self {
            Notification::None => {}
            Notification::Signal { signo, value } => send_signal(signo, value, None),
            Notification::ThreadId { signo, value, tid } => send_signal(signo, value, Some(tid)),
            Notification::Thread {
                function,
                value,
                attributes,
            } => dispatch.push(Job {
                function,
                value,
                attr: attributes.map_or(0, |a| a.0),
            }),
        }
    }
}

/// A notification to send, and the slot marker that records it sent (see
/// `README.md`, "Notification before return").
#[derive(Debug)]
pub(crate) struct Deferred {
    /// What to send.
    pub(crate) notify: Notification,
    /// The slot's sent marker (null: a list's own notification).
    pub(crate) marker: *const AtomicU32,
    /// The op's generation in that slot.
    pub(crate) generation: u32,
}

// SAFETY: `marker` points into a slab slot, which lives as long as the
// process-wide instance (never freed), or a model's core, which outlives
// its threads; it is only used for atomic operations.
unsafe impl Send for Deferred {}

impl Deferred {
    /// Sends with `send`, then marks the op's notification sent.
    pub(crate) fn send_with(self, send: impl FnOnce(&Notification)) {
        let mark = || {
            if !self.marker.is_null() {
                // SAFETY: see the Send impl: the slot outlives this.
                mark_sent(unsafe { &*self.marker }, self.generation);
            }
        };
        if aio_core::sync::mutant(aio_core::sync::Mutant::SentBeforeSignal) {
            // Mutant: the mark is published before the signal is sent; a
            // woken aio_suspend returns with the signal still unsent.
            mark();
            send(&self.notify);
            return;
        }
        send(&self.notify);
        mark();
    }
}

/// One `SIGEV_THREAD` call: `function(value)`, on a thread made with the
/// attributes at `attr` (0: a pool thread).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Job {
    pub(crate) function: ThreadFn,
    pub(crate) value: usize,
    pub(crate) attr: usize,
}

/// What takes the notifications kept while a batch was being sent (its
/// group's `release(None)`): the dispatcher sends them too, until it gives
/// nothing.
pub(crate) type Then = Box<dyn FnMut() -> Vec<Deferred> + Send>;

/// Held-back notifications, and what to ask for more once they are sent.
struct Batch {
    items: Vec<Deferred>,
    then: Then,
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("items", &self.items.len())
            .finish()
    }
}

#[derive(Debug, Default)]
struct Queue {
    jobs: VecDeque<Job>,
    /// Notifications held back while their `lio_listio` ran, to send.
    batches: VecDeque<Batch>,
    idle: usize,
    threads: usize,
    exit: bool,
}

/// The threads that run `SIGEV_THREAD` functions (module docs).
#[derive(Debug)]
pub(crate) struct Dispatcher {
    q: Mutex<Queue>,
    cv: Condvar,
    /// Most threads alive at once.
    max: usize,
    /// Notifications accepted (credit taken) and not yet started.
    credits: AtomicUsize,
    /// Most such notifications.
    credit_max: usize,
    #[cfg(loom)]
    joins: Mutex<Vec<JoinHandle<()>>>,
}

impl Dispatcher {
    /// A dispatcher that runs up to `max` threads at once and accepts up
    /// to `credit_max` notifications not yet started.
    pub(crate) fn new(max: usize, credit_max: usize) -> Dispatcher {
        Dispatcher {
            q: Mutex::ranked(crate::lock_order::DISPATCHER_Q, Queue::default()),
            cv: Condvar::new(),
            max: max.max(1),
            credits: AtomicUsize::new(0),
            credit_max: credit_max.max(1),
            #[cfg(loom)]
            joins: Mutex::ranked(crate::lock_order::DISPATCHER_JOINS, Vec::new()),
        }
    }

    /// Takes the credit a `SIGEV_THREAD` notification needs before its op
    /// is accepted: `Ok(true)` if one was taken, `Ok(false)` if `n` needs
    /// none, `EAGAIN` if the backlog is full.
    pub(crate) fn reserve(&self, n: &Notification) -> Result<bool> {
        if !matches!(n, Notification::Thread { .. }) {
            return Ok(false);
        }
        // Relaxed: a counter; the job itself is published under `q`.
        if self.credits.fetch_add(1, Ordering::Relaxed) >= self.credit_max {
            self.credits.fetch_sub(1, Ordering::Relaxed);
            return Err(Error::EAGAIN);
        }
        Ok(true)
    }

    /// Gives back a credit [`Dispatcher::reserve`] took for an op that was
    /// not accepted after all.
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn unreserve(&self, taken: bool) {
        if taken {
            self.credits.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Queues a call (its credit was reserved). Never blocks for long.
    pub(crate) fn push(&self, job: Job) {
        let mut q = self.q.lock();
        if job.attr != 0 && q.threads < self.max {
            // A thread of its own, with the caller's attributes.
            q.threads += 1;
            drop(q);
            self.start_counted(Some(job));
            return;
        }
        q.jobs.push_back(job);
        if q.idle > 0 {
            if !aio_core::sync::mutant(aio_core::sync::Mutant::DispatchNoNotify) {
                self.cv.notify_one();
            }
            return;
        }
        if q.threads >= self.max {
            return; // a thread will come back for it, or exit and replace itself
        }
        q.threads += 1;
        drop(q);
        self.start_counted(None);
    }

    /// Queues notifications to be sent from a library thread (those a
    /// `lio_listio(LIO_NOWAIT)` held back until it returned).
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn push_batch(&self, batch: Vec<Deferred>, then: Then) {
        if batch.is_empty() {
            return;
        }
        let mut q = self.q.lock();
        q.batches.push_back(Batch { items: batch, then });
        if q.idle > 0 {
            self.cv.notify_one();
            return;
        }
        if q.threads >= self.max {
            return;
        }
        q.threads += 1;
        drop(q);
        self.start_counted(None);
    }

    /// Sends a batch, then what its `then` gives, until it gives nothing
    /// (on a pool thread, or the completing thread when none can start).
    fn send_batch(&self, batch: Batch) {
        let Batch {
            mut items,
            mut then,
        } = batch;
        while !items.is_empty() {
            for d in items {
                d.send_with(|n| n.send(self));
            }
            items = then();
        }
    }

    /// The next job for a pool thread: waits while there is none; `None`
    /// once the dispatcher shuts down. A job with attributes found here
    /// (queued while `max` threads lived) is handed to a thread of its own
    /// that takes this thread's place.
    fn next_job(&self) -> Option<Job> {
        let mut q = self.q.lock();
        loop {
            if let Some(batch) = q.batches.pop_front() {
                drop(q);
                self.send_batch(batch);
                q = self.q.lock();
                continue;
            }
            if let Some(job) = q.jobs.pop_front() {
                drop(q);
                if job.attr != 0 {
                    // This thread leaves, for a thread of the job's own:
                    // that one is counted now, and this one's exit uncounts
                    // it (`thread_gone`). (It used to hand its count over
                    // and then drop it again on exit: two decrements for
                    // one thread, until no thread could be started.)
                    self.q.lock().threads += 1;
                    self.start_counted(Some(job));
                    return None;
                }
                self.credits.fetch_sub(1, Ordering::Relaxed);
                return Some(job);
            }
            if q.exit {
                return None;
            }
            q.idle += 1;
            q = self.cv.wait(q);
            q.idle -= 1;
        }
    }

    /// A thread counted in `threads` ended (however: its loop returned,
    /// its function called `pthread_exit`, or it was cancelled): uncount
    /// it, and start a replacement if jobs wait and no thread is idle.
    fn thread_gone(&self) {
        let mut q = self.q.lock();
        q.threads -= 1;
        if !q.exit && (!q.jobs.is_empty() || !q.batches.is_empty()) && q.idle == 0 {
            q.threads += 1;
            drop(q);
            self.start_counted(None);
        }
    }

    /// Starts a thread already counted in `threads`: a pool thread
    /// (`job` None) or a dedicated one for `job`.
    #[cfg(not(loom))]
    fn start_counted(&self, job: Option<Job>) {
        if let Err(job) = sys::spawn(self, job) {
            // No thread (EAGAIN: a process or memory limit). Keep the job
            // for a live thread; if none lives, run the queue here rather
            // than lose it (the completing thread: late, never lost).
            let mut q = self.q.lock();
            q.threads -= 1;
            if let Some(j) = job {
                q.jobs.push_back(Job { attr: 0, ..j });
            }
            if q.threads == 0 {
                while let Some(b) = q.batches.pop_front() {
                    drop(q);
                    // Signals only here: a SIGEV_THREAD one would come
                    // back to this queue, run just below.
                    self.send_batch(b);
                    q = self.q.lock();
                }
                while let Some(j) = q.jobs.pop_front() {
                    drop(q);
                    self.credits.fetch_sub(1, Ordering::Relaxed);
                    // SAFETY: a function the caller registered.
                    unsafe { sys::call(j) };
                    q = self.q.lock();
                }
            }
        }
    }

    #[cfg(loom)]
    fn start_counted(&self, job: Option<Job>) {
        let this = self as *const Dispatcher as usize;
        let h = thread::spawn(move || {
            // SAFETY: the dispatcher outlives its threads (shutdown joins).
            let d = unsafe { &*(this as *const Dispatcher) };
            if let Some(j) = job {
                d.credits.fetch_sub(1, Ordering::Relaxed);
                (j.function)(libc::sigval {
                    sival_ptr: j.value as *mut libc::c_void,
                });
            } else {
                while let Some(j) = d.next_job() {
                    (j.function)(libc::sigval {
                        sival_ptr: j.value as *mut libc::c_void,
                    });
                }
            }
            d.thread_gone();
        });
        self.joins.lock().push(h);
    }

    /// Counts one pool thread and starts it (models: before any push).
    #[cfg(loom)]
    pub(crate) fn start_pool_thread(&self) {
        self.q.lock().threads += 1;
        self.start_counted(None);
    }

    /// Stops the pool threads once the queue is empty and waits (up to
    /// ten seconds: a function that never returns keeps its thread) for
    /// every thread to end. Only an instance that was never used, or a
    /// model, shuts down.
    pub(crate) fn shutdown(&self) {
        {
            let mut q = self.q.lock();
            q.exit = true;
            self.cv.notify_all();
        }
        #[cfg(loom)]
        {
            let joins = std::mem::take(&mut *self.joins.lock());
            for h in joins {
                let _ = h.join();
            }
        }
        #[cfg(not(loom))]
        for _ in 0..10_000 {
            if self.q.lock().threads == 0 {
                break;
            }
            aio_core::sync::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

/// The threads themselves: raw pthreads, because a `SIGEV_THREAD`
/// function is a thread's start routine for POSIX (its attributes, its
/// `pthread_exit`, its cancellation).
#[cfg(not(loom))]
mod sys {
    use std::ffi::c_void;

    use super::{Dispatcher, Job, with_signals_blocked};

    /// The function as it is called: `C-unwind`, so that a forced unwind
    /// (`pthread_exit`, cancellation) may leave it through our frames,
    /// which hold nothing to drop.
    type CallFn = unsafe extern "C-unwind" fn(libc::sigval);

    /// Calls `job`'s function.
    ///
    /// # Safety
    /// The function is what a C caller registered: callable with a
    /// `union sigval`.
    #[inline(always)]
    pub(super) unsafe fn call(job: Job) {
        // SAFETY: `extern "C"` and `extern "C-unwind"` differ only in what
        // an unwind out of the function means; the C function may end the
        // thread by a forced unwind, which `C-unwind` allows to pass.
        let f: CallFn = unsafe { std::mem::transmute::<super::ThreadFn, CallFn>(job.function) };
        // No signal blocked while the function runs, as in glibc's
        // notification threads (which empty their mask before calling it):
        // a function that raises a signal, or waits for one, gets it.
        // SAFETY: plain libc calls on a local set.
        unsafe {
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        }
        // SAFETY: the caller's function (caller's contract).
        unsafe {
            f(libc::sigval {
                sival_ptr: job.value as *mut c_void,
            })
        };
    }

    /// The key whose destructor runs at every exit of our threads.
    static KEY: aio_core::sync::OnceLock<libc::pthread_key_t> = aio_core::sync::OnceLock::new();

    extern "C" fn on_exit(d: *mut c_void) {
        // SAFETY: the value is the dispatcher the thread served, which
        // outlives its threads (the instance is never freed; a shut-down
        // one waits for them).
        let d = unsafe { &*(d as *const Dispatcher) };
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| d.thread_gone()));
    }

    fn key() -> Option<libc::pthread_key_t> {
        let k = KEY.get_or_init(|| {
            let mut k: libc::pthread_key_t = 0;
            // SAFETY: plain libc call with a valid out pointer.
            if unsafe { libc::pthread_key_create(&mut k, Some(on_exit)) } != 0 {
                return libc::pthread_key_t::MAX;
            }
            k
        });
        (*k != libc::pthread_key_t::MAX).then_some(*k)
    }

    /// What a new thread gets: the dispatcher and its job, if dedicated.
    struct Start {
        d: *const Dispatcher,
        job: Option<Job>,
    }

    /// Starts a thread (already counted); the job back if none could be
    /// made.
    pub(super) fn spawn(d: &Dispatcher, job: Option<Job>) -> Result<(), Option<Job>> {
        let Some(_) = key() else { return Err(job) };
        let start = Box::into_raw(Box::new(Start { d, job }));
        // SAFETY: only glibc calls the start routine; the type differs from
        // libc's declaration only in allowing a forced unwind to pass,
        // which is what glibc's pthread_exit and cancellation do.
        let main = unsafe {
            std::mem::transmute::<
                extern "C-unwind" fn(*mut c_void) -> *mut c_void,
                extern "C" fn(*mut c_void) -> *mut c_void,
            >(thread_main)
        };
        let r = with_signals_blocked(|| {
            let mut tid: libc::pthread_t = 0;
            // SAFETY: attribute objects are initialised before use and
            // destroyed after; `start` is freed by the thread (or below).
            unsafe {
                match job.map(|j| j.attr) {
                    Some(a) if a != 0 => libc::pthread_create(
                        &mut tid,
                        a as *const libc::pthread_attr_t,
                        main,
                        start.cast(),
                    ),
                    _ => {
                        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
                        libc::pthread_attr_init(&mut attr);
                        libc::pthread_attr_setdetachstate(&mut attr, libc::PTHREAD_CREATE_DETACHED);
                        let r = libc::pthread_create(&mut tid, &attr, main, start.cast());
                        libc::pthread_attr_destroy(&mut attr);
                        r
                    }
                }
            }
        });
        if r != 0 {
            // SAFETY: the thread was not made; the box is still ours.
            drop(unsafe { Box::from_raw(start) });
            return Err(job);
        }
        Ok(())
    }

    /// A thread's start routine. A plain frame: `d` is a raw pointer and
    /// the jobs are `Copy`, so a forced unwind out of a function finds
    /// nothing to drop here; the thread's exit runs [`on_exit`].
    extern "C-unwind" fn thread_main(arg: *mut c_void) -> *mut c_void {
        // SAFETY: `spawn` passed a boxed Start, ours to free.
        let Start { d, job } = *unsafe { Box::from_raw(arg.cast::<Start>()) };
        if let Some(k) = key() {
            // SAFETY: a valid key; the value is read back by `on_exit`.
            unsafe { libc::pthread_setspecific(k, d.cast()) };
        }
        // SAFETY: see `on_exit`.
        let dr = unsafe { &*d };
        if let Some(j) = job {
            dr.credits.fetch_sub(1, super::Ordering::Relaxed);
            // SAFETY: the caller's function.
            unsafe { call(j) };
            return std::ptr::null_mut();
        }
        while let Some(j) = dr.next_job() {
            // SAFETY: the caller's function.
            unsafe { call(j) };
            // SAFETY: plain libc calls: undo what the function may have
            // changed about this thread, then act on a cancellation it
            // requested without reaching a cancellation point (here, not
            // in the next function).
            unsafe { reset_thread() };
        }
        std::ptr::null_mut()
    }

    /// Restores a pool thread between functions: every signal blocked,
    /// cancellation enabled and deferred; a pending cancellation ends the
    /// thread here.
    ///
    /// # Safety
    /// Called from [`thread_main`]'s plain frame only.
    unsafe fn reset_thread() {
        // SAFETY: plain libc calls on locals.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, std::ptr::null_mut());
            use crate::pthread as pt;
            let mut old = 0;
            pt::pthread_setcancelstate(pt::PTHREAD_CANCEL_ENABLE, &mut old);
            pt::pthread_setcanceltype(pt::PTHREAD_CANCEL_DEFERRED, &mut old);
            pt::pthread_testcancel();
        }
    }
}

//! Completion notifications: a validated copy of a `struct sigevent`, taken
//! at submission (the aiocb may be freed as soon as its error code is
//! stored, so the completer never reads the caller's sigevent), and the
//! bounded set of threads that runs `SIGEV_THREAD` functions.
//!
//! # The `SIGEV_THREAD` dispatcher (see `README.md`)
//!
//! ```text
//!   Lock order: Dispatcher::q alone. No lock is held while a function runs.
//!
//!   q   under Dispatcher::q
//!
//!   jobs      q   functions to call, oldest first
//!   idle      q   threads asleep on `cv`
//!   threads   q   threads started (at most `max`)
//!   exit      q   set by shutdown: threads leave once `jobs` is empty
//! ```
//!
//! A completion pushes a job; if a thread is idle it is notified (under
//! the lock, so a thread that counted itself idle is either already in
//! `wait` or will find the job when it re-checks), otherwise a thread is
//! started if fewer than `max` run, otherwise the job waits for a busy
//! thread to come back to the queue. Threads are started with every signal
//! blocked, so that process-directed signals go to the application's
//! threads.

use std::collections::VecDeque;

use aio_core::sync::thread::{self, JoinHandle};
use aio_core::sync::{Condvar, Mutex};
use aio_core::{Error, Result};

use crate::abi::RawSigevent;

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
    /// `SIGEV_THREAD`: call `function(value)` on one of the library's
    /// notification threads.
    Thread {
        /// The function.
        function: ThreadFn,
        /// `sigev_value`.
        value: usize,
    },
}

fn valid_signo(s: i32) -> bool {
    s > 0 && s <= libc::SIGRTMAX()
}

impl Notification {
    /// Validates and copies a C `struct sigevent`: `EINVAL` for an unknown
    /// `sigev_notify`, a bad signal number, a `SIGEV_THREAD` without a
    /// function or a `SIGEV_THREAD_ID` without a thread id.
    pub fn from_raw(ev: &RawSigevent) -> Result<Notification> {
        match ev.sigev_notify {
            libc::SIGEV_NONE => Ok(Notification::None),
            libc::SIGEV_SIGNAL if valid_signo(ev.sigev_signo) => Ok(Notification::Signal {
                signo: ev.sigev_signo,
                value: ev.sigev_value,
            }),
            libc::SIGEV_THREAD_ID => {
                // SAFETY: every bit pattern is a valid `c_int`.
                let tid = unsafe { ev.un.tid };
                if valid_signo(ev.sigev_signo) && tid > 0 {
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
                if function == 0 {
                    Err(Error::EINVAL)
                } else {
                    Ok(Notification::Thread {
                        // SAFETY: a non-null `void (*)(union sigval)` from
                        // the C caller, who promises it is callable.
                        function: unsafe { std::mem::transmute::<usize, ThreadFn>(function) },
                        value: ev.sigev_value,
                    })
                }
            }
            _ => Err(Error::EINVAL),
        }
    }

    /// Sends the notification. Never blocks for long and never fails
    /// visibly: a signal the kernel refuses (`EAGAIN`: the queue of
    /// real-time signals is full) is dropped, as glibc does.
    pub(crate) fn send(&self, dispatch: &Dispatcher) {
        match *self {
            Notification::None => {}
            Notification::Signal { signo, value } => send_signal(signo, value, None),
            Notification::ThreadId { signo, value, tid } => send_signal(signo, value, Some(tid)),
            Notification::Thread { function, value } => dispatch.push(function, value),
        }
    }
}

/// The first fields of the kernel's `siginfo_t` for a queued signal
/// (`_rt`), padded to its 128 bytes.
#[repr(C)]
struct QueuedSiginfo {
    signo: i32,
    errno: i32,
    code: i32,
    _pad: i32,
    pid: i32,
    uid: u32,
    value: usize,
    _rest: [u8; 128 - 32],
}

const _: () = assert!(std::mem::size_of::<QueuedSiginfo>() == 128);

#[cfg(not(loom))]
fn send_signal(signo: i32, value: usize, tid: Option<i32>) {
    // SAFETY: plain syscalls.
    let (pid, uid) = unsafe { (libc::getpid(), libc::getuid()) };
    let info = QueuedSiginfo {
        signo,
        errno: 0,
        code: libc::SI_ASYNCIO,
        _pad: 0,
        pid,
        uid,
        value,
        _rest: [0; 96],
    };
    // SAFETY: the kernel reads 128 bytes of `info`; a negative si_code is
    // allowed for signals a process sends itself.
    unsafe {
        match tid {
            None => libc::syscall(
                libc::SYS_rt_sigqueueinfo,
                pid,
                signo,
                &info as *const QueuedSiginfo,
            ),
            Some(t) => libc::syscall(
                libc::SYS_rt_tgsigqueueinfo,
                pid,
                t,
                signo,
                &info as *const QueuedSiginfo,
            ),
        }
    };
}

#[cfg(loom)]
fn send_signal(_signo: i32, _value: usize, _tid: Option<i32>) {
    // Models use SIGEV_NONE and SIGEV_THREAD only.
    let _ = QueuedSiginfo {
        signo: 0,
        errno: 0,
        code: 0,
        _pad: 0,
        pid: 0,
        uid: 0,
        value: 0,
        _rest: [0; 96],
    };
}

/// Runs `f` with every signal blocked on this thread, so that threads it
/// starts inherit a full mask.
pub(crate) fn with_signals_blocked<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(not(loom))]
    {
        // SAFETY: sigset_t is a plain C type; the calls only read and write
        // the two local sets.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
            let r = f();
            libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
            r
        }
    }
    #[cfg(loom)]
    f()
}

#[derive(Debug, Default)]
struct Queue {
    jobs: VecDeque<(ThreadFn, usize)>,
    idle: usize,
    threads: usize,
    exit: bool,
}

/// The bounded set of threads that runs `SIGEV_THREAD` functions.
#[derive(Debug)]
pub(crate) struct Dispatcher {
    q: Mutex<Queue>,
    cv: Condvar,
    max: usize,
    joins: Mutex<Vec<JoinHandle<()>>>,
}

impl Dispatcher {
    /// A dispatcher that starts up to `max` threads, on demand.
    pub(crate) fn new(max: usize) -> Dispatcher {
        Dispatcher {
            q: Mutex::new(Queue::default()),
            cv: Condvar::new(),
            max: max.max(1),
            joins: Mutex::new(Vec::new()),
        }
    }

    /// Queues a call of `function(value)`.
    pub(crate) fn push(&self, function: ThreadFn, value: usize) {
        let mut q = self.q.lock();
        q.jobs.push_back((function, value));
        if q.idle > 0 {
            if !aio_core::sync::mutant("dispatch-no-notify") {
                self.cv.notify_one();
            }
            return;
        }
        if q.threads >= self.max {
            return; // a busy thread will come back for it
        }
        q.threads += 1;
        drop(q);
        self.start_thread();
    }

    /// Starts one more thread (the models start theirs up front).
    pub(crate) fn start_thread(&self) {
        let this = self as *const Dispatcher as usize;
        let name = "aio-sigev".to_string();
        // SAFETY (of the pointer the thread gets): a Dispatcher is never
        // dropped before `shutdown`, which joins every thread it started.
        let r = with_signals_blocked(|| {
            thread::spawn_named(name, move || {
                // SAFETY: see above; the dispatcher outlives its threads.
                let d = unsafe { &*(this as *const Dispatcher) };
                d.run();
            })
        });
        match r {
            Ok(h) => self.joins.lock().push(h),
            Err(_) => {
                // No thread: the job stays queued for a running thread; if
                // there is none, run the queue here rather than lose it.
                let mut q = self.q.lock();
                q.threads -= 1;
                if q.threads == 0 {
                    while let Some((f, v)) = q.jobs.pop_front() {
                        drop(q);
                        call(f, v);
                        q = self.q.lock();
                    }
                }
            }
        }
    }

    /// Counts one thread as started (models: before `start_thread`).
    #[cfg(loom)]
    pub(crate) fn reserve_thread(&self) {
        self.q.lock().threads += 1;
    }

    fn run(&self) {
        let mut q = self.q.lock();
        loop {
            if let Some((f, v)) = q.jobs.pop_front() {
                drop(q);
                call(f, v);
                q = self.q.lock();
                continue;
            }
            if q.exit {
                return;
            }
            q.idle += 1;
            q = self.cv.wait(q);
            q.idle -= 1;
        }
    }

    /// Runs every queued job, stops and joins the threads.
    pub(crate) fn shutdown(&self) {
        {
            let mut q = self.q.lock();
            q.exit = true;
            self.cv.notify_all();
        }
        let joins = std::mem::take(&mut *self.joins.lock());
        for h in joins {
            let _ = h.join();
        }
    }
}

fn call(function: ThreadFn, value: usize) {
    // A Rust function registered through the Rust API may panic: keep the
    // thread (and the count of threads) alive.
    let _ = std::panic::catch_unwind(|| {
        function(libc::sigval {
            sival_ptr: value as *mut libc::c_void,
        });
    });
}

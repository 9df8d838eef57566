//! The completion event word that `aio_suspend` and `lio_listio(LIO_WAIT)`
//! sleep on (see `README.md`, "aio_suspend").
//!
//! One word for the whole process: `seq << 1 | WAITERS`. Every completion
//! bumps `seq` (after storing the aiocb's error code with Release) and, if
//! `WAITERS` was set, clears it and wakes every sleeper. A sleeper takes a
//! ticket (`seq`) *before* checking its aiocbs, sets `WAITERS` with a CAS
//! that fails if `seq` moved, and sleeps in `futex(FUTEX_WAIT)` on the word
//! with the expected value, so the kernel re-checks it atomically with the
//! sleep. Both sides change the word with an RMW, so they are totally
//! ordered: either the completion's RMW sees `WAITERS` and wakes, or the
//! sleeper's CAS sees the new `seq` and does not sleep.
//!
//! The sleep is a futex (`FUTEX_WAIT_BITSET`) with an absolute deadline,
//! which a signal handler ends with `EINTR`, or, without a timeout,
//! untimed: the kernel then restarts it after a handler installed with
//! `SA_RESTART` and fails it with `EINTR` otherwise, as glibc's
//! `aio_suspend` behaves. Under loom the futex is modelled by a mutex and a
//! condition variable with the same contract ("sleep only if the word still
//! holds the value; a wake after the change is never lost").

use std::time::Instant;

use aio_core::sync::atomic::{AtomicU32, Ordering};

const WAITERS: u32 = 1;

/// How a [`Events::wait`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(loom, allow(dead_code))]
pub(crate) enum Wake {
    /// A completion happened since the ticket (or a spurious wake): check
    /// again.
    Changed,
    /// The deadline passed.
    TimedOut,
    /// A signal handler ran.
    Interrupted,
}

/// The process-wide completion event word.
#[derive(Debug, Default)]
pub(crate) struct Events {
    word: AtomicU32,
    #[cfg(loom)]
    futex: loom_futex::Futex,
}

impl Events {
    /// A word with no completion and no sleeper.
    pub(crate) fn new() -> Events {
        Events::default()
    }

    /// The ticket: take it *before* checking the condition you will sleep
    /// on. Acquire: pairs with the completer's AcqRel bump, so whatever
    /// the completer published before its bump (the aiocb's error code) is
    /// visible to the check that follows.
    #[inline]
    pub(crate) fn ticket(&self) -> u32 {
        self.word.load(Ordering::Acquire) >> 1
    }

    /// A completion happened: bump `seq`, and wake every sleeper if one
    /// registered. Call it after publishing what sleepers check.
    #[inline]
    pub(crate) fn signal(&self) {
        // AcqRel: Release publishes the completer's earlier stores to
        // sleepers that read the new `seq`; Acquire orders the read of
        // WAITERS. One RMW: see the module docs.
        let prev = match self
            .word
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| {
                Some(w.wrapping_add(2) & !WAITERS)
            }) {
            Ok(p) | Err(p) => p,
        };
        if prev & WAITERS != 0 && !aio_core::sync::mutant(aio_core::sync::Mutant::SuspendSkipWake) {
            self.wake_all();
        }
    }

    /// Sleeps until a completion after `ticket`, `deadline`, or a signal.
    /// Returns at once with [`Wake::Changed`] if one already happened.
    pub(crate) fn wait(&self, ticket: u32, deadline: Option<Instant>) -> Wake {
        match self.arm(ticket) {
            None => Wake::Changed,
            Some(expected) => self.sleep(expected, deadline),
        }
    }

    /// The first half of [`Events::wait`]: registers as a sleeper.
    /// `None` if a completion happened since `ticket` (do not sleep);
    /// otherwise the value to sleep on (with [`sleep_on`]).
    pub(crate) fn arm(&self, ticket: u32) -> Option<u32> {
        let mut w = self.word.load(Ordering::Acquire);
        loop {
            if (w >> 1) != ticket {
                return None;
            }
            if w & WAITERS != 0 || aio_core::sync::mutant(aio_core::sync::Mutant::SuspendNoRegister)
            {
                return Some(w);
            }
            // Register: a CAS, so it fails if a completion bumped `seq`
            // since we looked (then we return instead of sleeping).
            match self
                .word
                .compare_exchange(w, w | WAITERS, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Some(w | WAITERS),
                Err(now) => w = now,
            }
        }
    }

    /// The word's address, for [`sleep_cancellable`] (the C ABI sleeps in its own
    /// frame, where a thread cancellation may unwind).
    #[cfg(not(loom))]
    pub(crate) fn word_addr(&self) -> usize {
        &self.word as *const AtomicU32 as usize
    }

    #[cfg(not(loom))]
    fn sleep(&self, expected: u32, deadline: Option<Instant>) -> Wake {
        sleep_on(self.word_addr(), expected, deadline)
    }

    #[cfg(not(loom))]
    fn wake_all(&self) {
        futex::wake_all(&self.word);
    }

    #[cfg(loom)]
    fn sleep(&self, expected: u32, _deadline: Option<Instant>) -> Wake {
        self.futex.wait(&self.word, expected);
        Wake::Changed
    }

    #[cfg(loom)]
    fn wake_all(&self) {
        self.futex.wake_all();
    }
}

/// The second half of [`Events::wait`]: sleeps on the word at `addr`
/// while it holds `expected`. Holds nothing that needs dropping, so a
/// thread cancellation may unwind through it.
#[cfg(not(loom))]
#[inline]
pub(crate) fn sleep_on(addr: usize, expected: u32, deadline: Option<Instant>) -> Wake {
    futex::wait(addr as *const u32, expected, deadline)
}

/// A word no completion ever moves: what a sleeper waits on when the
/// process has no instance yet (nothing can complete), so `aio_suspend`
/// never builds one (it must be async-signal-safe from the first call).
#[cfg(not(loom))]
pub(crate) static QUIET: AtomicU32 = AtomicU32::new(0);

/// The sleep of the C entry point `aio_suspend`, a cancellation point: the
/// deadline is computed first, and asynchronous cancellation is enabled
/// around the raw futex system call alone (POSIX makes only
/// `pthread_setcanceltype` and its kin async-cancel-safe; glibc's own
/// cancellation points work the same way). A cancellation unwinds from
/// the system call through this frame and the caller's, which hold
/// nothing to drop (the unwind ABI is declared for both calls).
///
/// # Safety
/// `addr` is the address of a live `u32` (the event word); the caller's
/// frames up to the C boundary hold nothing that needs dropping.
#[cfg(not(loom))]
#[inline(always)]
pub(crate) unsafe fn sleep_cancellable(
    addr: usize,
    expected: u32,
    deadline: Option<Instant>,
) -> Wake {
    // No deadline: an untimed wait, which the kernel restarts after a
    // handler installed with SA_RESTART (as glibc's aio_suspend), and
    // fails with EINTR after one without.
    let abs = match deadline {
        None => None,
        Some(_) => match futex::abs_deadline(deadline) {
            Some(t) => Some(t),
            None => return Wake::TimedOut,
        },
    };
    let ts = abs
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    let mut old: libc::c_int = 0;
    // SAFETY: async-cancel-safe calls and the raw system call only; the
    // kernel reads the word and the local timespec.
    let r = unsafe {
        use crate::pthread as pt;
        pt::pthread_setcanceltype(pt::PTHREAD_CANCEL_ASYNCHRONOUS, &mut old);
        let r = pt::syscall(
            libc::SYS_futex,
            addr as *const u32,
            libc::FUTEX_WAIT_BITSET | libc::FUTEX_PRIVATE_FLAG,
            expected,
            ts,
            std::ptr::null::<u32>(),
            libc::FUTEX_BITSET_MATCH_ANY,
        );
        pt::pthread_setcanceltype(old, &mut old);
        r
    };
    futex::classify(r, deadline)
}

#[cfg(not(loom))]
mod futex {
    use std::time::Instant;

    use aio_core::sync::atomic::AtomicU32;

    use super::Wake;

    fn addr(word: &AtomicU32) -> *const u32 {
        // The shim's AtomicU32 is repr(transparent) over std's, which has
        // the size, alignment and bit validity of `u32`.
        (word as *const AtomicU32).cast()
    }

    // The kernel compares the word atomically; the address must stay valid
    // while we sleep (the process-wide instance is never freed).

    /// `FUTEX_WAIT_BITSET` with an absolute CLOCK_MONOTONIC deadline, or
    /// untimed when there is none: the kernel then restarts the wait after
    /// a signal handler installed with `SA_RESTART` and fails it with
    /// `EINTR` after one without, as glibc's waits behave.
    pub(super) fn wait(word: *const u32, expected: u32, deadline: Option<Instant>) -> Wake {
        let abs = match deadline {
            None => None,
            Some(_) => match abs_deadline(deadline) {
                Some(t) => Some(t),
                None => return Wake::TimedOut,
            },
        };
        let ts = abs
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: the word lives as long as `word`; the kernel only reads
        // it (compares it with `expected`) and the timespec.
        let r = unsafe {
            libc::syscall(
                libc::SYS_futex,
                word,
                libc::FUTEX_WAIT_BITSET | libc::FUTEX_PRIVATE_FLAG,
                expected,
                ts,
                std::ptr::null::<u32>(),
                libc::FUTEX_BITSET_MATCH_ANY,
            )
        };
        classify(r, deadline)
    }

    /// The absolute CLOCK_MONOTONIC time to sleep until (at most an hour
    /// ahead), or `None` if `deadline` has passed.
    pub(super) fn abs_deadline(deadline: Option<Instant>) -> Option<libc::timespec> {
        let now = Instant::now();
        let left = match deadline {
            Some(d) if d <= now => return None,
            Some(d) => (d - now).min(std::time::Duration::from_secs(3600)),
            None => std::time::Duration::from_secs(3600),
        };
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: writes the current time into a local.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        let mut nsec = ts.tv_nsec + left.subsec_nanos() as libc::c_long;
        let mut sec = ts.tv_sec + left.as_secs() as libc::time_t;
        if nsec >= 1_000_000_000 {
            nsec -= 1_000_000_000;
            sec += 1;
        }
        Some(libc::timespec {
            tv_sec: sec,
            tv_nsec: nsec,
        })
    }

    /// What a futex wait's result means.
    pub(super) fn classify(r: libc::c_long, deadline: Option<Instant>) -> Wake {
        if r == 0 {
            return Wake::Changed;
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EINTR) => Wake::Interrupted,
            Some(libc::ETIMEDOUT) if deadline.is_some_and(|d| Instant::now() >= d) => {
                Wake::TimedOut
            }
            // EAGAIN: the word changed; ETIMEDOUT of an hour slice: go round.
            _ => Wake::Changed,
        }
    }

    pub(super) fn wake_all(word: &AtomicU32) {
        // SAFETY: plain futex wake on a live word.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                addr(word),
                libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                i32::MAX,
            )
        };
    }
}

#[cfg(loom)]
mod loom_futex {
    use aio_core::sync::atomic::{AtomicU32, Ordering};
    use aio_core::sync::{Condvar, Mutex};

    /// The futex's contract, modelled: `wait` sleeps only if the word
    /// still holds `expected` (checked under the lock `wake_all` takes),
    /// so a wake after the change is never lost.
    #[derive(Debug, Default)]
    pub(super) struct Futex {
        m: Mutex<()>,
        cv: Condvar,
    }

    impl Futex {
        pub(super) fn wait(&self, word: &AtomicU32, expected: u32) {
            let g = self.m.lock();
            if word.load(Ordering::SeqCst) != expected {
                return;
            }
            drop(self.cv.wait(g));
        }

        pub(super) fn wake_all(&self) {
            let _g = self.m.lock();
            self.cv.notify_all();
        }
    }
}

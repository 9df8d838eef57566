//! Lock ranks: a debug-build check of the lock order (NetBSD's LOCKDEBUG
//! is the model).
//!
//! A [`LockRank`] is a level and a name. A mutex made with
//! [`Mutex::ranked`](super::Mutex::ranked) carries one; in non-loom builds
//! with debug assertions each thread keeps the stack of ranked locks it
//! holds, and locking a ranked mutex whose level is not strictly above
//! every ranked lock the thread holds panics, naming both locks. A
//! [`Condvar`](super::Condvar) wait gives the rank up while it sleeps and
//! takes it back with the lock. [`Mutex::new`](super::Mutex::new) makes an
//! unranked mutex, which is never checked; `try_lock` is not checked
//! either (a try cannot deadlock) but records the rank as held.
//! [`Mutex::lock_nested`](super::Mutex::lock_nested) allows a lock of the
//! same level to be held already (Linux's `mutex_lock_nested`): for two
//! instances of one lock whose order a protocol fixes and a rank cannot
//! see (the caller documents why they cannot deadlock).
//!
//! Release builds carry none of it: the rank field, the thread-local stack
//! and the guard's record are all behind `cfg(debug_assertions)`, and the
//! guard is then exactly std's guard in size (asserted at compile time in
//! the std backend). Loom builds accept ranks and ignore them (loom finds
//! lock-order deadlocks itself). The check's own tests are in
//! `aio-core/tests/lock_rank.rs`.
//!
//! # Declaring a crate's table
//!
//! Each crate writes its lock order once, as `LockRank` consts in one
//! place (next to its lock-order table in the crate docs), outermost lock
//! lowest:
//!
//! ```
//! use aio_core::sync::{LockRank, Mutex};
//!
//! /// The crate's lock order, outermost first: a lock may only be taken
//! /// while holding locks listed above it.
//! pub mod rank {
//!     use aio_core::sync::LockRank;
//!     pub const SET: LockRank = LockRank::new(10, "aio_pool::Set::state");
//!     pub const QUEUE: LockRank = LockRank::new(20, "aio_pool::Pool::q");
//! }
//!
//! let set = Mutex::ranked(rank::SET, 0u32);
//! let queue = Mutex::ranked(rank::QUEUE, 0u32);
//! let _s = set.lock();
//! let _q = queue.lock(); // 20 > 10: in order
//! ```
//!
//! Leave gaps between levels so a lock can be inserted later. Levels need
//! only be ordered within the set of locks that can be held together;
//! crates that nest each other's locks must agree (the lower crate's
//! levels below the upper's when its lock is the outer one).

/// A lock's place in its crate's lock order: a level (higher = taken
/// later, i.e. inner) and a name for the panic message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockRank {
    level: u32,
    name: &'static str,
}

impl LockRank {
    /// A rank of level `level`, named `name` (the lock's path, for
    /// messages).
    pub const fn new(level: u32, name: &'static str) -> Self {
        Self { level, name }
    }

    /// The level.
    pub const fn level(self) -> u32 {
        self.level
    }

    /// The name.
    pub const fn name(self) -> &'static str {
        self.name
    }
}

#[cfg(all(debug_assertions, not(loom)))]
mod check {
    use super::LockRank;
    use std::cell::RefCell;

    thread_local! {
        /// The ranked locks this thread holds, in the order it took them.
        static HELD: RefCell<Vec<LockRank>> = const { RefCell::new(Vec::new()) };
    }

    /// Panics if this thread holds a ranked lock whose level is not below
    /// `rank`'s.
    #[track_caller]
    pub(crate) fn check(rank: Option<LockRank>) {
        let Some(r) = rank else { return };
        // `try_with`: a lock may be taken during thread teardown (a pthread
        // key destructor runs after this thread's Rust thread-locals are
        // gone); nothing is checked then.
        let bad = HELD
            .try_with(|h| {
                h.borrow()
                    .iter()
                    .copied()
                    .find(|held| held.level >= r.level)
            })
            .ok()
            .flatten();
        if let Some(held) = bad {
            panic!(
                "lock order violated: taking `{}` (rank {}) while holding `{}` (rank {})",
                r.name, r.level, held.name, held.level
            );
        }
    }

    /// Like [`check`], but another lock of `rank`'s own level may be held
    /// (see [`Mutex::lock_nested`](crate::sync::Mutex::lock_nested)).
    #[track_caller]
    pub(crate) fn check_nested(rank: Option<LockRank>) {
        let Some(r) = rank else { return };
        let bad = HELD
            .try_with(|h| h.borrow().iter().copied().find(|held| held.level > r.level))
            .ok()
            .flatten();
        if let Some(held) = bad {
            panic!(
                "lock order violated: taking `{}` (rank {}, nested) while holding `{}` (rank {})",
                r.name, r.level, held.name, held.level
            );
        }
    }

    fn push(r: LockRank) {
        let _ = HELD.try_with(|h| h.borrow_mut().push(r));
    }

    fn pop(r: LockRank) {
        // Guards may be dropped in any order: forget the latest entry of
        // this rank. `try_with`: a guard may drop during thread teardown.
        let _ = HELD.try_with(|h| {
            let mut h = h.borrow_mut();
            if let Some(i) = h.iter().rposition(|x| *x == r) {
                h.remove(i);
            }
        });
    }

    /// A guard's record that this thread holds a ranked lock; dropping it
    /// (after the lock itself) forgets it.
    #[derive(Debug)]
    pub(crate) struct Held(Option<LockRank>);

    impl Held {
        /// Records that the lock of `rank` is now held.
        pub(crate) fn take(rank: Option<LockRank>) -> Self {
            if let Some(r) = rank {
                push(r);
            }
            Held(rank)
        }

        /// Forgets the lock (a condvar wait is releasing it) and returns
        /// its rank for [`Held::retake`].
        pub(crate) fn release(mut self) -> Option<LockRank> {
            let r = self.0.take();
            if let Some(r) = r {
                pop(r);
            }
            r
        }

        /// Records the lock as held again after a condvar wait, checking
        /// its order again.
        #[track_caller]
        pub(crate) fn retake(rank: Option<LockRank>) -> Self {
            check(rank);
            Self::take(rank)
        }
    }

    impl Drop for Held {
        fn drop(&mut self) {
            if let Some(r) = self.0 {
                pop(r);
            }
        }
    }
}

#[cfg(all(debug_assertions, not(loom)))]
pub(crate) use check::{Held, check, check_nested};

//! The synchronization shim: the one place in the workspace that names a
//! lock, a condition variable, an atomic, an `Arc`, an `UnsafeCell`, a
//! one-time cell or a thread.
//!
//! Two backends with one API, chosen here (tokio's `src/loom/{std,mocked}`
//! is the model): normally `std.rs`, std's types; under `cfg(loom)`
//! `loom.rs`, loom's models of the same things, so that every protocol
//! built on the shim can be model-checked. Neither file interleaves the
//! other's code. The API follows loom's shape, not std's:
//!
//! * [`Mutex::lock`] never poisons and returns the guard directly;
//! * [`Condvar::wait`] takes the guard by value and gives it back (std style);
//! * [`UnsafeCell`] is accessed through `with` / `with_mut` closures, so loom
//!   can check every access for a data race;
//! * [`thread::sleep`] is a yield under loom (loom has no clock), and so is
//!   [`Condvar::wait_until`]'s time-out (never reported);
//! * [`OnceLock`] and [`Once`] are std's in both builds (not modelled; see
//!   their module).
//!
//! `clippy.toml` forbids naming the originals anywhere else, so nobody can
//! reach past this module by accident (tokio's `src/loom`, crossbeam's
//! `primitive` module). The shim itself opts out with `#[allow]`.
//!
//! # Why std's locks and not parking_lot
//!
//! What makes `fork` safe is not the choice of lock: it is aio-posix's
//! `pthread_atfork` child handler (`atfork_child`, next to the process
//! instance in aio-posix's sources), which discards the parent's process
//! instance, so a child never touches a lock, thread or ring of the
//! parent's and builds a fresh instance on its first call. That handler
//! cannot reset state that lives outside the instance, though: parking_lot
//! keeps a process-wide parking table, which a child forked while the
//! parent's workers were parked inherits with their entries (its own new
//! threads then crashed or spun in it, seen in aio-posix's fork tests).
//! std's locks keep all their state in the lock word, inside the discarded
//! instance.
//!
//! # Unmodelled `Arc`
//!
//! The shim's [`Arc`] cannot unsize (`Arc<T>` to `Arc<dyn Trait>`), because
//! loom's cannot. [`unmodeled::Arc`] is std's plain `Arc` for the objects
//! that no protocol depends on, which need not be modelled.
//!
//! # Mutants
//!
//! [`mutant`] says whether a [`Mutant`] (a deliberate weakening of a
//! protocol that exists only in loom builds) is switched on; see
//! [`mutants`] for the list and how each must fail.
//!
//! # Lock ranks
//!
//! [`Mutex::ranked`] gives a mutex a [`LockRank`], and debug builds check
//! that ranked locks are taken in increasing rank; see [`rank`] for the
//! check and for how a crate declares its table of ranks.

#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

/// The operations every integer atomic of the shim forwards to its
/// backend's atomic (`self.0`), written once for both backends (std.rs and
/// loom.rs differ only in how they construct one).
macro_rules! atomic_int_methods {
    ($t:ty) => {
        #[inline(always)]
        pub fn load(&self, o: Ordering) -> $t {
            self.0.load(o)
        }
        #[inline(always)]
        pub fn store(&self, v: $t, o: Ordering) {
            self.0.store(v, o)
        }
        #[inline(always)]
        pub fn swap(&self, v: $t, o: Ordering) -> $t {
            self.0.swap(v, o)
        }
        #[inline(always)]
        pub fn compare_exchange(&self, c: $t, n: $t, s: Ordering, f: Ordering) -> Result<$t, $t> {
            self.0.compare_exchange(c, n, s, f)
        }
        #[inline(always)]
        pub fn compare_exchange_weak(
            &self,
            c: $t,
            n: $t,
            s: Ordering,
            f: Ordering,
        ) -> Result<$t, $t> {
            self.0.compare_exchange_weak(c, n, s, f)
        }
        #[inline(always)]
        pub fn fetch_add(&self, v: $t, o: Ordering) -> $t {
            self.0.fetch_add(v, o)
        }
        #[inline(always)]
        pub fn fetch_sub(&self, v: $t, o: Ordering) -> $t {
            self.0.fetch_sub(v, o)
        }
        #[inline(always)]
        pub fn fetch_or(&self, v: $t, o: Ordering) -> $t {
            self.0.fetch_or(v, o)
        }
        #[inline(always)]
        pub fn fetch_and(&self, v: $t, o: Ordering) -> $t {
            self.0.fetch_and(v, o)
        }
        #[inline(always)]
        pub fn fetch_xor(&self, v: $t, o: Ordering) -> $t {
            self.0.fetch_xor(v, o)
        }
        #[inline(always)]
        pub fn fetch_max(&self, v: $t, o: Ordering) -> $t {
            self.0.fetch_max(v, o)
        }
        #[inline(always)]
        pub fn fetch_update(
            &self,
            s: Ordering,
            f: Ordering,
            g: impl FnMut($t) -> Option<$t>,
        ) -> Result<$t, $t> {
            self.0.fetch_update(s, f, g)
        }
    };
}
pub(crate) use atomic_int_methods;

#[cfg(not(loom))]
#[path = "std.rs"]
mod imp;

#[cfg(loom)]
#[path = "loom.rs"]
mod imp;

pub mod mutants;
mod once;
pub mod rank;

pub use imp::{Arc, Condvar, Mutex, MutexGuard, UnsafeCell, arc_from_std, atomic, mutant, thread};
pub use mutants::{Expect, Mutant};
pub use once::{Once, OnceLock};
pub use rank::LockRank;

/// The stack size of the layers' own service threads (pool workers that
/// run only library code, blocking-call threads, the readiness waiter and
/// the stream lanes), given to [`thread::spawn_named_with_stack`]: 512 KiB,
/// not std's 2 MiB, because a process under a tight `ulimit -v` must still
/// be able to start them (glibc's AIO threads use a minimal stack too).
/// Their frames are shallow and nothing recursive runs on them; a
/// completion callback that runs on one gets what is left of 512 KiB.
pub const SERVICE_STACK: usize = 512 << 10;

/// std's types that the shim deliberately does not model.
///
/// Use these only for objects no concurrency protocol depends on: values
/// whose sharing loom need not see because nothing is ordered by their
/// reference count (a device handle built once and shared read-only, a
/// configuration, a trait object handed across a crate boundary). Anything
/// a model exercises, or whose drop publishes or frees state another thread
/// reads, takes the shim's [`Arc`].
pub mod unmodeled {
    /// std's `Arc`. An alias rather than a re-export, so that it unsizes
    /// (`unmodeled::Arc<dyn Trait>`) and so that `clippy.toml`'s ban on
    /// naming `std::sync::Arc` still catches every use that does not say
    /// `unmodeled`.
    pub type Arc<T> = std::sync::Arc<T>;
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::unmodeled;

    #[test]
    fn unmodeled_arc_unsizes() {
        let a: unmodeled::Arc<dyn Fn() -> u32 + Send + Sync> = unmodeled::Arc::new(|| 7);
        let b = unmodeled::Arc::clone(&a);
        assert_eq!(a() + b(), 14);
    }
}

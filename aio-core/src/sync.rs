//! The synchronization shim: the one place in the workspace that names a
//! lock, a condition variable, an atomic, an `Arc`, an `UnsafeCell` or a
//! thread.
//!
//! Normally it wraps std's locks, condvars, atomics, `Arc` and threads (not
//! parking_lot: its global parking table is not fork-safe; see the comment
//! above `imp`); under `cfg(loom)` it wraps loom's models of the same
//! things, so that every protocol built on it can be model-checked. The API
//! follows loom's shape, not std's:
//!
//! * [`Mutex::lock`] never poisons and returns the guard directly;
//! * [`Condvar::wait`] takes the guard by value and gives it back (std style);
//! * [`UnsafeCell`] is accessed through `with` / `with_mut` closures, so loom
//!   can check every access for a data race.
//!
//! `clippy.toml` forbids naming the originals anywhere else, so nobody can
//! reach past this module by accident (tokio's `src/loom`, crossbeam's
//! `primitive` module).
//!
//! # Mutants
//!
//! [`mutant`] names a deliberate weakening of a protocol that exists only in
//! loom builds. Outside `cfg(loom)` it is a `const fn` returning `false`, so
//! production code carries none of it. `scripts/loom.sh --mutants` sets
//! `AIO_MUTANT` to each name in turn and expects loom to find the bug.

#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

/// Atomic types and orderings: newtypes over std's (or loom's) atomics, so
/// that `clippy.toml` can forbid the originals everywhere else.
pub mod atomic {
    pub use std::sync::atomic::Ordering;

    /// A memory fence (std's, or loom's model of it).
    #[inline(always)]
    pub fn fence(order: Ordering) {
        #[cfg(not(loom))]
        std::sync::atomic::fence(order);
        #[cfg(loom)]
        loom::sync::atomic::fence(order);
    }

    macro_rules! atomic_int {
        ($(#[$m:meta])* $name:ident, $t:ty) => {
            $(#[$m])*
            #[derive(Debug, Default)]
            #[repr(transparent)]
            pub struct $name(
                #[cfg(not(loom))] std::sync::atomic::$name,
                #[cfg(loom)] loom::sync::atomic::$name,
            );

            #[allow(missing_docs)]
            impl $name {
                #[cfg(not(loom))]
                #[inline(always)]
                pub const fn new(v: $t) -> Self {
                    Self(std::sync::atomic::$name::new(v))
                }
                #[cfg(loom)]
                pub fn new(v: $t) -> Self {
                    Self(loom::sync::atomic::$name::new(v))
                }
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
                pub fn compare_exchange_weak(&self, c: $t, n: $t, s: Ordering, f: Ordering) -> Result<$t, $t> {
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
            }
        };
    }

    atomic_int!(/// An atomic `u8`.
        AtomicU8, u8);
    atomic_int!(/// An atomic `u32`.
        AtomicU32, u32);
    atomic_int!(/// An atomic `i32`.
        AtomicI32, i32);
    atomic_int!(/// An atomic `u64`.
        AtomicU64, u64);
    atomic_int!(/// An atomic `i64`.
        AtomicI64, i64);
    atomic_int!(/// An atomic `usize`.
        AtomicUsize, usize);

    /// An atomic `bool`.
    #[derive(Debug, Default)]
    #[repr(transparent)]
    pub struct AtomicBool(
        #[cfg(not(loom))] std::sync::atomic::AtomicBool,
        #[cfg(loom)] loom::sync::atomic::AtomicBool,
    );

    #[allow(missing_docs)]
    impl AtomicBool {
        #[cfg(not(loom))]
        #[inline(always)]
        pub const fn new(v: bool) -> Self {
            Self(std::sync::atomic::AtomicBool::new(v))
        }
        #[cfg(loom)]
        pub fn new(v: bool) -> Self {
            Self(loom::sync::atomic::AtomicBool::new(v))
        }
        #[inline(always)]
        pub fn load(&self, o: Ordering) -> bool {
            self.0.load(o)
        }
        #[inline(always)]
        pub fn store(&self, v: bool, o: Ordering) {
            self.0.store(v, o)
        }
        #[inline(always)]
        pub fn swap(&self, v: bool, o: Ordering) -> bool {
            self.0.swap(v, o)
        }
        #[inline(always)]
        pub fn compare_exchange(
            &self,
            c: bool,
            n: bool,
            s: Ordering,
            f: Ordering,
        ) -> Result<bool, bool> {
            self.0.compare_exchange(c, n, s, f)
        }
        #[inline(always)]
        pub fn fetch_or(&self, v: bool, o: Ordering) -> bool {
            self.0.fetch_or(v, o)
        }
        #[inline(always)]
        pub fn fetch_and(&self, v: bool, o: Ordering) -> bool {
            self.0.fetch_and(v, o)
        }
    }
}

/// Threads: spawn, park, yield (std's, or loom's models), wrapped so that
/// `clippy.toml` can forbid calling std's directly.
pub mod thread {
    #[cfg(not(loom))]
    pub use std::thread::{JoinHandle, Thread, current, yield_now};

    #[cfg(loom)]
    pub use loom::thread::{JoinHandle, Thread, current, yield_now};

    /// Spawns a thread (loom's model under `cfg(loom)`).
    pub fn spawn<F, T>(f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        #[cfg(not(loom))]
        return std::thread::spawn(f);
        #[cfg(loom)]
        return loom::thread::spawn(f);
    }

    /// Spawns a named thread; fails if the OS refuses.
    pub fn spawn_named<F, T>(name: String, f: F) -> std::io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        #[cfg(not(loom))]
        return std::thread::Builder::new().name(name).spawn(f);
        #[cfg(loom)]
        return loom::thread::Builder::new().name(name).spawn(f);
    }

    /// Parks the current thread until unparked (or spuriously).
    pub fn park() {
        #[cfg(not(loom))]
        std::thread::park();
        #[cfg(loom)]
        loom::thread::park();
    }
}

/// A thread-safe reference-counted pointer: a newtype over std's `Arc` (or
/// loom's), so that `clippy.toml` can forbid the original.
#[repr(transparent)]
pub struct Arc<T: ?Sized>(
    #[cfg(not(loom))] std::sync::Arc<T>,
    #[cfg(loom)] loom::sync::Arc<T>,
);

impl<T> Arc<T> {
    /// Allocates `v` with a count of one.
    #[inline]
    pub fn new(v: T) -> Arc<T> {
        #[cfg(not(loom))]
        return Arc(std::sync::Arc::new(v));
        #[cfg(loom)]
        return Arc(loom::sync::Arc::new(v));
    }

    /// Returns the value if this is the only reference.
    pub fn try_unwrap(this: Arc<T>) -> Result<T, Arc<T>> {
        #[cfg(not(loom))]
        return std::sync::Arc::try_unwrap(this.0).map_err(Arc);
        #[cfg(loom)]
        return loom::sync::Arc::try_unwrap(this.0).map_err(Arc);
    }
}

impl<T: ?Sized> Arc<T> {
    /// Another reference to the same value.
    #[inline]
    #[allow(clippy::should_implement_trait)]
    pub fn clone(this: &Arc<T>) -> Arc<T> {
        Arc(this.0.clone())
    }

    /// The address of the value.
    #[inline]
    pub fn as_ptr(this: &Arc<T>) -> *const T {
        #[cfg(not(loom))]
        return std::sync::Arc::as_ptr(&this.0);
        #[cfg(loom)]
        return loom::sync::Arc::as_ptr(&this.0);
    }

    /// Whether two `Arc`s point at the same value.
    #[inline]
    pub fn ptr_eq(a: &Arc<T>, b: &Arc<T>) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
    }

    /// The number of strong references.
    pub fn strong_count(this: &Arc<T>) -> usize {
        #[cfg(not(loom))]
        return std::sync::Arc::strong_count(&this.0);
        #[cfg(loom)]
        return loom::sync::Arc::strong_count(&this.0);
    }
}

impl<T: ?Sized> Clone for Arc<T> {
    #[inline]
    fn clone(&self) -> Arc<T> {
        Arc(self.0.clone())
    }
}

impl<T: ?Sized> std::ops::Deref for Arc<T> {
    type Target = T;
    #[inline(always)]
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: ?Sized + std::fmt::Debug> std::fmt::Debug for Arc<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: Default> Default for Arc<T> {
    fn default() -> Arc<T> {
        Arc::new(T::default())
    }
}

/// Turns an `Arc` of a concrete type into an `Arc` of a trait object.
///
/// `std::sync::Arc` does this by unsized coercion; loom's `Arc` cannot, so
/// both go through this one function.
/// (`Arc<dyn Trait>` is made as a std `Arc` and converted here.)
#[inline]
pub fn arc_from_std<T: ?Sized>(a: std::sync::Arc<T>) -> Arc<T> {
    #[cfg(not(loom))]
    return Arc(a);
    #[cfg(loom)]
    return Arc(loom::sync::Arc::from_std(a));
}

/// Returns whether the loom mutant `name` is switched on.
///
/// Only loom builds read `AIO_MUTANT`; everywhere else this is `false` at
/// compile time.
#[cfg(not(loom))]
#[inline(always)]
pub const fn mutant(_name: &str) -> bool {
    false
}

/// Returns whether the loom mutant `name` is switched on (`AIO_MUTANT=name`).
#[cfg(loom)]
pub fn mutant(name: &str) -> bool {
    std::env::var("AIO_MUTANT").is_ok_and(|v| v == name)
}

// ---------------------------------------------------------------------------
// Mutex and Condvar: std's (futex-based), poison-free.
//
// Not parking_lot: its process-wide parking table is not fork-safe. A child
// forked while the parent's workers were parked inherits their entries, and
// its own new threads then crash or spin in the table (seen with gdb in the
// fork tests of aio-posix and tests/c_faults.rs). std's locks keep all
// their state in the lock word, which a fork copies consistently.
// ---------------------------------------------------------------------------

#[cfg(not(loom))]
mod imp {
    use std::ops::{Deref, DerefMut};
    use std::sync::PoisonError;
    use std::time::Instant;

    /// A mutual-exclusion lock (std's) that never reports poisoning: a
    /// panic while it is held leaves the data as the panicking thread left
    /// it, which every user of this shim is written to tolerate (state is
    /// only changed in whole steps under the lock).
    #[derive(Debug, Default)]
    pub struct Mutex<T: ?Sized>(std::sync::Mutex<T>);

    /// The guard of a locked [`Mutex`].
    #[derive(Debug)]
    pub struct MutexGuard<'a, T: ?Sized>(std::sync::MutexGuard<'a, T>);

    impl<T> Mutex<T> {
        /// Creates an unlocked mutex holding `value`.
        pub const fn new(value: T) -> Self {
            Self(std::sync::Mutex::new(value))
        }

        /// Consumes the mutex and returns its value.
        pub fn into_inner(self) -> T {
            self.0.into_inner().unwrap_or_else(PoisonError::into_inner)
        }
    }

    impl<T: ?Sized> Mutex<T> {
        /// Locks the mutex, blocking until it is free.
        #[inline]
        pub fn lock(&self) -> MutexGuard<'_, T> {
            MutexGuard(self.0.lock().unwrap_or_else(PoisonError::into_inner))
        }

        /// Locks the mutex if it is free.
        #[inline]
        pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            match self.0.try_lock() {
                Ok(g) => Some(MutexGuard(g)),
                Err(std::sync::TryLockError::Poisoned(p)) => Some(MutexGuard(p.into_inner())),
                Err(std::sync::TryLockError::WouldBlock) => None,
            }
        }

        /// Returns the value through a unique reference; no locking needed.
        pub fn get_mut(&mut self) -> &mut T {
            self.0.get_mut().unwrap_or_else(PoisonError::into_inner)
        }
    }

    impl<T: ?Sized> Deref for MutexGuard<'_, T> {
        type Target = T;
        #[inline]
        fn deref(&self) -> &T {
            &self.0
        }
    }

    impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
        #[inline]
        fn deref_mut(&mut self) -> &mut T {
            &mut self.0
        }
    }

    /// A condition variable (std's), used with [`Mutex`].
    #[derive(Debug, Default)]
    pub struct Condvar(std::sync::Condvar);

    impl Condvar {
        /// Creates a condition variable with no waiters.
        pub const fn new() -> Self {
            Self(std::sync::Condvar::new())
        }

        /// Atomically releases the lock and sleeps until notified (or a
        /// spurious wake-up); returns with the lock held again.
        #[inline]
        pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            MutexGuard(self.0.wait(guard.0).unwrap_or_else(PoisonError::into_inner))
        }

        /// Like [`Condvar::wait`] but gives up at `deadline`; the flag is
        /// `true` if the wait timed out.
        #[inline]
        pub fn wait_until<'a, T>(
            &self,
            guard: MutexGuard<'a, T>,
            deadline: Instant,
        ) -> (MutexGuard<'a, T>, bool) {
            let timeout = deadline.saturating_duration_since(Instant::now());
            let (g, r) = self
                .0
                .wait_timeout(guard.0, timeout)
                .unwrap_or_else(PoisonError::into_inner);
            (MutexGuard(g), r.timed_out())
        }

        /// Wakes one waiter.
        #[inline]
        pub fn notify_one(&self) {
            self.0.notify_one();
        }

        /// Wakes every waiter.
        #[inline]
        pub fn notify_all(&self) {
            self.0.notify_all();
        }
    }

    /// Interior mutability checked by loom in model builds; a plain
    /// `UnsafeCell` with loom's closure API otherwise.
    #[derive(Debug, Default)]
    pub struct UnsafeCell<T: ?Sized>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        /// Wraps `value`.
        pub const fn new(value: T) -> Self {
            Self(std::cell::UnsafeCell::new(value))
        }

        /// Consumes the cell and returns its value.
        pub fn into_inner(self) -> T {
            self.0.into_inner()
        }
    }

    impl<T: ?Sized> UnsafeCell<T> {
        /// Gives `f` a shared raw pointer to the value. The caller must make
        /// sure no `with_mut` runs at the same time.
        #[inline(always)]
        pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Gives `f` a unique raw pointer to the value. The caller must make
        /// sure no other access runs at the same time.
        #[inline(always)]
        pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }

        /// Returns the value through a unique reference.
        #[inline(always)]
        pub fn get_mut(&mut self) -> &mut T {
            self.0.get_mut()
        }
    }
}

// ---------------------------------------------------------------------------
// Mutex and Condvar: loom's models, wrapped to the same poison-free API.
// ---------------------------------------------------------------------------

#[cfg(loom)]
mod imp {
    use std::ops::{Deref, DerefMut};
    use std::time::Instant;

    /// A mutual-exclusion lock (loom's model), poison-free.
    #[derive(Debug, Default)]
    pub struct Mutex<T>(loom::sync::Mutex<T>);

    /// The guard of a locked [`Mutex`].
    #[derive(Debug)]
    pub struct MutexGuard<'a, T>(loom::sync::MutexGuard<'a, T>);

    impl<T> Mutex<T> {
        /// Creates an unlocked mutex holding `value`.
        pub fn new(value: T) -> Self {
            Self(loom::sync::Mutex::new(value))
        }

        /// Consumes the mutex and returns its value.
        pub fn into_inner(self) -> T {
            self.0.into_inner().unwrap()
        }

        /// Locks the mutex, blocking until it is free.
        pub fn lock(&self) -> MutexGuard<'_, T> {
            MutexGuard(self.0.lock().unwrap())
        }

        /// Locks the mutex if it is free.
        pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            self.0.try_lock().ok().map(MutexGuard)
        }

        /// Returns the value through a unique reference; no locking needed.
        pub fn get_mut(&mut self) -> &mut T {
            self.0.get_mut().unwrap()
        }
    }

    impl<T> Deref for MutexGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            &self.0
        }
    }

    impl<T> DerefMut for MutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            &mut self.0
        }
    }

    /// A condition variable (loom's model).
    #[derive(Debug, Default)]
    pub struct Condvar(loom::sync::Condvar);

    impl Condvar {
        /// Creates a condition variable with no waiters.
        pub fn new() -> Self {
            Self(loom::sync::Condvar::new())
        }

        /// Releases the lock, sleeps until notified, relocks.
        pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            MutexGuard(self.0.wait(guard.0).unwrap())
        }

        /// Loom has no clock: a timed wait is an untimed wait that never
        /// reports a time-out, so a model that relies on one deadlocks.
        pub fn wait_until<'a, T>(
            &self,
            guard: MutexGuard<'a, T>,
            _deadline: Instant,
        ) -> (MutexGuard<'a, T>, bool) {
            (self.wait(guard), false)
        }

        /// Wakes one waiter.
        pub fn notify_one(&self) {
            self.0.notify_one();
        }

        /// Wakes every waiter.
        pub fn notify_all(&self) {
            self.0.notify_all();
        }
    }

    /// loom's checked `UnsafeCell`, with the closure API.
    #[derive(Debug)]
    pub struct UnsafeCell<T>(loom::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        /// Wraps `value`.
        pub fn new(value: T) -> Self {
            Self(loom::cell::UnsafeCell::new(value))
        }

        /// Consumes the cell and returns its value.
        pub fn into_inner(self) -> T {
            self.0.into_inner()
        }

        /// Gives `f` a shared raw pointer to the value; loom checks that no
        /// `with_mut` runs at the same time.
        pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            self.0.with(f)
        }

        /// Gives `f` a unique raw pointer to the value; loom checks that no
        /// other access runs at the same time.
        pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            self.0.with_mut(f)
        }

        /// Returns the value through a unique reference.
        pub fn get_mut(&mut self) -> &mut T {
            // SAFETY: `&mut self` proves no other access exists.
            self.0.with_mut(|p| unsafe { &mut *p })
        }
    }

    impl<T: Default> Default for UnsafeCell<T> {
        fn default() -> Self {
            Self::new(T::default())
        }
    }
}

pub use imp::{Condvar, Mutex, MutexGuard, UnsafeCell};

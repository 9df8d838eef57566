//! The std backend of the shim: std's locks, condvars, atomics, `Arc`,
//! `UnsafeCell` and threads, wrapped to the shim's API (see [the shim's
//! docs](super)). Debug builds add the lock-rank check ([`super::rank`]).

#[cfg(debug_assertions)]
use super::rank;
use super::rank::LockRank;
use std::ops::{Deref, DerefMut};
use std::sync::PoisonError;
use std::time::Instant;

/// Atomic types and orderings: newtypes over std's atomics, so that
/// `clippy.toml` can forbid the originals everywhere else.
pub mod atomic {
    pub use std::sync::atomic::Ordering;

    /// A memory fence (std's).
    #[inline(always)]
    pub fn fence(order: Ordering) {
        std::sync::atomic::fence(order);
    }

    macro_rules! atomic_int {
        ($(#[$m:meta])* $name:ident, $t:ty) => {
            $(#[$m])*
            #[derive(Debug, Default)]
            #[repr(transparent)]
            pub struct $name(
                std::sync::atomic::$name,
            );

            #[allow(missing_docs)]
            impl $name {
                #[inline(always)]
                pub const fn new(v: $t) -> Self {
                    Self(std::sync::atomic::$name::new(v))
                }
                crate::sync::atomic_int_methods!($t);
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
    pub struct AtomicBool(std::sync::atomic::AtomicBool);

    #[allow(missing_docs)]
    impl AtomicBool {
        #[inline(always)]
        pub const fn new(v: bool) -> Self {
            Self(std::sync::atomic::AtomicBool::new(v))
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

    /// An atomic raw pointer.
    #[repr(transparent)]
    pub struct AtomicPtr<T>(std::sync::atomic::AtomicPtr<T>);

    impl<T> Default for AtomicPtr<T> {
        fn default() -> Self {
            Self::new(std::ptr::null_mut())
        }
    }

    impl<T> std::fmt::Debug for AtomicPtr<T> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            self.0.fmt(f)
        }
    }

    #[allow(missing_docs)]
    impl<T> AtomicPtr<T> {
        #[inline(always)]
        pub const fn new(p: *mut T) -> Self {
            Self(std::sync::atomic::AtomicPtr::new(p))
        }
        #[inline(always)]
        pub fn load(&self, o: Ordering) -> *mut T {
            self.0.load(o)
        }
        #[inline(always)]
        pub fn store(&self, p: *mut T, o: Ordering) {
            self.0.store(p, o)
        }
        #[inline(always)]
        pub fn swap(&self, p: *mut T, o: Ordering) -> *mut T {
            self.0.swap(p, o)
        }
        #[inline(always)]
        pub fn compare_exchange(
            &self,
            c: *mut T,
            n: *mut T,
            s: Ordering,
            f: Ordering,
        ) -> Result<*mut T, *mut T> {
            self.0.compare_exchange(c, n, s, f)
        }
    }
}

/// Threads: spawn, park, yield, sleep (std's), wrapped so that
/// `clippy.toml` can forbid calling std's directly.
pub mod thread {
    pub use std::thread::{JoinHandle, Thread, current};

    /// Spawns a thread.
    pub fn spawn<F, T>(f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        std::thread::spawn(f)
    }

    /// Spawns a named thread; fails if the OS refuses.
    pub fn spawn_named<F, T>(name: String, f: F) -> std::io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        std::thread::Builder::new().name(name).spawn(f)
    }

    /// Spawns a named thread with a stack of `stack` bytes (rounded up to
    /// whole pages by the OS); fails if the OS refuses.
    pub fn spawn_named_with_stack<F, T>(
        name: String,
        stack: usize,
        f: F,
    ) -> std::io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        std::thread::Builder::new()
            .name(name)
            .stack_size(stack)
            .spawn(f)
    }

    /// Parks the current thread until unparked (or spuriously).
    pub fn park() {
        std::thread::park();
    }

    /// Offers the rest of the time slice to another thread (std's).
    #[inline]
    pub fn yield_now() {
        std::thread::yield_now();
    }

    /// Sleeps for `d` (std's). Under loom, which has no clock, this is a
    /// yield.
    #[inline]
    pub fn sleep(d: std::time::Duration) {
        std::thread::sleep(d);
    }
}

/// A thread-safe reference-counted pointer: a newtype over std's `Arc`, so
/// that `clippy.toml` can forbid the original. It cannot unsize (loom's
/// cannot); see [`arc_from_std`] and [`super::unmodeled`].
#[repr(transparent)]
pub struct Arc<T: ?Sized>(std::sync::Arc<T>);

impl<T> Arc<T> {
    /// Allocates `v` with a count of one.
    #[inline]
    pub fn new(v: T) -> Arc<T> {
        Arc(std::sync::Arc::new(v))
    }

    /// Returns the value if this is the only reference.
    pub fn try_unwrap(this: Arc<T>) -> Result<T, Arc<T>> {
        std::sync::Arc::try_unwrap(this.0).map_err(Arc)
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
        std::sync::Arc::as_ptr(&this.0)
    }

    /// Whether two `Arc`s point at the same value.
    #[inline]
    pub fn ptr_eq(a: &Arc<T>, b: &Arc<T>) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
    }

    /// The number of strong references.
    pub fn strong_count(this: &Arc<T>) -> usize {
        std::sync::Arc::strong_count(&this.0)
    }
}

impl<T: ?Sized> Clone for Arc<T> {
    #[inline]
    fn clone(&self) -> Arc<T> {
        Arc(self.0.clone())
    }
}

impl<T: ?Sized> Deref for Arc<T> {
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
/// both backends go through this one function: `Arc<dyn Trait>` is made as
/// a std `Arc` ([`super::unmodeled::Arc`]) and converted here.
#[inline]
pub fn arc_from_std<T: ?Sized>(a: std::sync::Arc<T>) -> Arc<T> {
    Arc(a)
}

/// Returns whether the loom mutant `m` is switched on: never, outside
/// loom builds (`false` at compile time).
#[inline(always)]
pub const fn mutant(_m: super::Mutant) -> bool {
    false
}

/// A mutual-exclusion lock (std's) that never reports poisoning: a
/// panic while it is held leaves the data as the panicking thread left
/// it, which every user of this shim is written to tolerate (state is
/// only changed in whole steps under the lock).
///
/// [`Mutex::ranked`] gives it a [`LockRank`], checked in debug builds.
#[derive(Debug, Default)]
pub struct Mutex<T: ?Sized> {
    #[cfg(debug_assertions)]
    rank: Option<LockRank>,
    inner: std::sync::Mutex<T>,
}

/// The guard of a locked [`Mutex`]. In release builds it is std's guard
/// and nothing more (same size; checked at compile time).
#[derive(Debug)]
pub struct MutexGuard<'a, T: ?Sized> {
    inner: std::sync::MutexGuard<'a, T>,
    #[cfg(debug_assertions)]
    held: rank::Held,
}

#[cfg(not(debug_assertions))]
const _: () = assert!(
    std::mem::size_of::<MutexGuard<'static, u64>>()
        == std::mem::size_of::<std::sync::MutexGuard<'static, u64>>()
);

impl<T> Mutex<T> {
    /// Creates an unlocked mutex holding `value`, with no rank (its order
    /// against other locks is not checked).
    pub const fn new(value: T) -> Self {
        Self {
            #[cfg(debug_assertions)]
            rank: None,
            inner: std::sync::Mutex::new(value),
        }
    }

    /// Creates an unlocked mutex holding `value` with the rank `rank`: in
    /// debug builds, locking it while this thread holds a ranked lock of
    /// an equal or higher rank panics (see [`super::rank`]).
    pub const fn ranked(rank: LockRank, value: T) -> Self {
        #[cfg(not(debug_assertions))]
        let _ = rank;
        Self {
            #[cfg(debug_assertions)]
            rank: Some(rank),
            inner: std::sync::Mutex::new(value),
        }
    }

    /// Consumes the mutex and returns its value.
    pub fn into_inner(self) -> T {
        self.inner
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks the mutex, blocking until it is free.
    #[inline]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        #[cfg(debug_assertions)]
        rank::check(self.rank);
        MutexGuard {
            inner: self.inner.lock().unwrap_or_else(PoisonError::into_inner),
            #[cfg(debug_assertions)]
            held: rank::Held::take(self.rank),
        }
    }

    /// Locks the mutex, blocking until it is free, while this thread may
    /// already hold another lock of the same rank (not a higher one): two
    /// instances of one lock, ordered by a protocol the rank cannot see.
    /// The caller says why no thread takes them the other way round.
    #[inline]
    pub fn lock_nested(&self) -> MutexGuard<'_, T> {
        #[cfg(debug_assertions)]
        rank::check_nested(self.rank);
        MutexGuard {
            inner: self.inner.lock().unwrap_or_else(PoisonError::into_inner),
            #[cfg(debug_assertions)]
            held: rank::Held::take(self.rank),
        }
    }

    /// Locks the mutex if it is free. A try cannot deadlock, so its rank
    /// is not checked (it is recorded as held).
    #[inline]
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        let inner = match self.inner.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        Some(MutexGuard {
            inner,
            #[cfg(debug_assertions)]
            held: rank::Held::take(self.rank),
        })
    }

    /// Returns the value through a unique reference; no locking needed.
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

/// A condition variable (std's), used with [`Mutex`]. A wait gives up the
/// mutex's rank while it sleeps and takes it again with the lock.
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
        #[cfg(debug_assertions)]
        let r = guard.held.release();
        let inner = self
            .0
            .wait(guard.inner)
            .unwrap_or_else(PoisonError::into_inner);
        MutexGuard {
            inner,
            #[cfg(debug_assertions)]
            held: rank::Held::retake(r),
        }
    }

    /// Like [`Condvar::wait`] but gives up at `deadline`; the flag is
    /// `true` if the wait timed out.
    #[inline]
    pub fn wait_until<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        deadline: Instant,
    ) -> (MutexGuard<'a, T>, bool) {
        #[cfg(debug_assertions)]
        let r = guard.held.release();
        let timeout = deadline.saturating_duration_since(Instant::now());
        let (inner, res) = self
            .0
            .wait_timeout(guard.inner, timeout)
            .unwrap_or_else(PoisonError::into_inner);
        let g = MutexGuard {
            inner,
            #[cfg(debug_assertions)]
            held: rank::Held::retake(r),
        };
        (g, res.timed_out())
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

/// Interior mutability: a plain `UnsafeCell` with loom's closure API (loom
/// checks every access in model builds).
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

//! The shim's loom backend: loom's models of locks, condvars, atomics,
//! `Arc`, `UnsafeCell` and threads behind the API described in [the module
//! docs](super), so every protocol built on the shim can be model-checked.
//! Lock ranks are accepted and ignored.

use std::ops::{Deref, DerefMut};
use std::time::Instant;

use super::LockRank;

/// Atomic types and orderings: newtypes over loom's atomics, so that
/// `clippy.toml` can forbid the originals everywhere else.
pub mod atomic {
    pub use std::sync::atomic::Ordering;

    /// A memory fence.
    #[inline(always)]
    pub fn fence(order: Ordering) {
        loom::sync::atomic::fence(order);
    }

    macro_rules! atomic_int {
        ($(#[$m:meta])* $name:ident, $t:ty) => {
            $(#[$m])*
            #[derive(Debug, Default)]
            #[repr(transparent)]
            pub struct $name(loom::sync::atomic::$name);

            #[allow(missing_docs)]
            impl $name {
                pub fn new(v: $t) -> Self {
                    Self(loom::sync::atomic::$name::new(v))
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
    pub struct AtomicBool(loom::sync::atomic::AtomicBool);

    #[allow(missing_docs)]
    impl AtomicBool {
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

    /// An atomic raw pointer.
    #[repr(transparent)]
    pub struct AtomicPtr<T>(loom::sync::atomic::AtomicPtr<T>);

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
        pub fn new(p: *mut T) -> Self {
            Self(loom::sync::atomic::AtomicPtr::new(p))
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

/// Threads: loom's models of spawn, park and yield; `sleep` is a yield,
/// since loom has no clock.
pub mod thread {
    pub use loom::thread::{JoinHandle, Thread, current};
    use std::time::Duration;

    /// Spawns a modelled thread.
    pub fn spawn<F, T>(f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        loom::thread::spawn(f)
    }

    /// Spawns a named modelled thread.
    pub fn spawn_named<F, T>(name: String, f: F) -> std::io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        loom::thread::Builder::new().name(name).spawn(f)
    }

    /// As `spawn_named` (loom threads have no stack size to set).
    pub fn spawn_named_with_stack<F, T>(
        name: String,
        _stack: usize,
        f: F,
    ) -> std::io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        spawn_named(name, f)
    }

    /// Parks the current thread until unparked (or spuriously).
    pub fn park() {
        loom::thread::park();
    }

    /// Lets another modelled thread run.
    pub fn yield_now() {
        loom::thread::yield_now();
    }

    /// Loom has no clock: a sleep is one [`yield_now`], so a model that
    /// needs the time to pass (rather than another thread to run)
    /// deadlocks or spins instead of passing by luck.
    pub fn sleep(_d: Duration) {
        loom::thread::yield_now();
    }
}

/// A thread-safe reference-counted pointer: a newtype over loom's `Arc`,
/// which checks that every allocation is freed by the end of an execution.
#[repr(transparent)]
pub struct Arc<T: ?Sized>(loom::sync::Arc<T>);

impl<T> Arc<T> {
    /// Allocates `v` with a count of one.
    pub fn new(v: T) -> Arc<T> {
        Arc(loom::sync::Arc::new(v))
    }

    /// Returns the value if this is the only reference.
    pub fn try_unwrap(this: Arc<T>) -> Result<T, Arc<T>> {
        loom::sync::Arc::try_unwrap(this.0).map_err(Arc)
    }
}

impl<T: ?Sized> Arc<T> {
    /// Another reference to the same value.
    #[allow(clippy::should_implement_trait)]
    pub fn clone(this: &Arc<T>) -> Arc<T> {
        Arc(this.0.clone())
    }

    /// The address of the value.
    pub fn as_ptr(this: &Arc<T>) -> *const T {
        loom::sync::Arc::as_ptr(&this.0)
    }

    /// Whether two `Arc`s point at the same value.
    pub fn ptr_eq(a: &Arc<T>, b: &Arc<T>) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
    }

    /// The number of strong references.
    pub fn strong_count(this: &Arc<T>) -> usize {
        loom::sync::Arc::strong_count(&this.0)
    }
}

impl<T: ?Sized> Clone for Arc<T> {
    fn clone(&self) -> Arc<T> {
        Arc(self.0.clone())
    }
}

impl<T: ?Sized> Deref for Arc<T> {
    type Target = T;
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

/// Turns a std `Arc` (typically of a trait object, made by unsized
/// coercion) into the shim's `Arc`; loom's `Arc` cannot unsize itself.
pub fn arc_from_std<T: ?Sized>(a: std::sync::Arc<T>) -> Arc<T> {
    Arc(loom::sync::Arc::from_std(a))
}

/// Returns whether the loom mutant `m` is switched on: whether
/// `AIO_MUTANT` names it. An `AIO_MUTANT` that names
/// no [`Mutant`] panics, so a misspelt name cannot pass for a caught
/// mutant.
///
/// [`Mutant`]: super::Mutant
pub fn mutant(m: super::Mutant) -> bool {
    match std::env::var("AIO_MUTANT") {
        Ok(v) if !v.is_empty() => {
            assert!(
                super::Mutant::from_name(&v).is_some(),
                "AIO_MUTANT={v} names no aio_core::sync::Mutant"
            );
            v == m.name()
        }
        _ => false,
    }
}

/// A mutual-exclusion lock (loom's model), poison-free. The lock rank is
/// not checked under loom (loom finds the deadlocks themselves).
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

    /// Creates an unlocked mutex holding `value`; the rank is ignored
    /// under loom.
    pub fn ranked(_rank: LockRank, value: T) -> Self {
        Self::new(value)
    }

    /// Consumes the mutex and returns its value.
    pub fn into_inner(self) -> T {
        self.0.into_inner().unwrap()
    }

    /// Locks the mutex, blocking until it is free.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        MutexGuard(self.0.lock().unwrap())
    }

    /// Locks the mutex while another lock of the same rank may be held;
    /// under loom, [`Mutex::lock`] (ranks are ignored).
    pub fn lock_nested(&self) -> MutexGuard<'_, T> {
        self.lock()
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
        // SAFETY: `&mut self` proves no other access exists, and the
        // reference borrows `self` for as long as it lives.
        self.0.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T: Default> Default for UnsafeCell<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

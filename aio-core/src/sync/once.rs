//! One-time initialization for process-wide statics: [`OnceLock`] and
//! [`Once`], newtypes over std's in both backends.
//!
//! Loom does not model them, and need not: they are meant only for
//! `static`s (a process-wide pool, an `atfork` registration, a pthread
//! key), and a loom model cannot hold a `static` of a modelled type anyway
//! (loom's objects belong to one execution). No protocol that a model
//! checks may depend on the ordering a `OnceLock` gives; under loom the
//! first execution initializes it and every later one sees the value.

/// A cell written at most once (std's `OnceLock`).
#[derive(Debug, Default)]
pub struct OnceLock<T>(std::sync::OnceLock<T>);

impl<T> OnceLock<T> {
    /// An empty cell.
    pub const fn new() -> Self {
        Self(std::sync::OnceLock::new())
    }

    /// The value, if it has been set.
    #[inline]
    pub fn get(&self) -> Option<&T> {
        self.0.get()
    }

    /// The value, initializing it with `f` if it is empty (other callers
    /// wait for the one running `f`).
    #[inline]
    pub fn get_or_init(&self, f: impl FnOnce() -> T) -> &T {
        self.0.get_or_init(f)
    }

    /// Sets the value if the cell is empty; otherwise gives `value` back.
    pub fn set(&self, value: T) -> Result<(), T> {
        self.0.set(value)
    }
}

/// A one-time action (std's `Once`).
#[derive(Debug)]
pub struct Once(std::sync::Once);

impl Once {
    /// A `Once` that has not run.
    pub const fn new() -> Self {
        Self(std::sync::Once::new())
    }

    /// Runs `f` if no call has run yet; every caller returns after it ran.
    #[inline]
    pub fn call_once(&self, f: impl FnOnce()) {
        self.0.call_once(f)
    }

    /// Whether a `call_once` has completed.
    #[inline]
    pub fn is_completed(&self) -> bool {
        self.0.is_completed()
    }
}

impl Default for Once {
    fn default() -> Self {
        Self::new()
    }
}

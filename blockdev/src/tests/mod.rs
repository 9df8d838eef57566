//! Loom models of the protocols blockdev adds. Compiled only under
//! `cfg(loom)`; run by `scripts/loom.sh` (every model) and
//! `scripts/loom.sh --mutants` (each mutant in `scripts/mutants/blockdev.txt`
//! must make its model fail). Each protocol is narrated in the module docs
//! of its code; the crate docs' table (`src/README.md`) maps model to
//! narration.
//!
//! Each model is one small scenario with two or three threads. A comment on
//! each says what a failure looks like.

mod loom_fdreg;
mod loom_lane;
mod loom_nbd_table;
mod loom_pool;
mod loom_queue;
mod loom_ready;
mod loom_timer;

/// A flag one thread raises and another waits for.
#[derive(Default)]
pub(super) struct Flag {
    raised: aio_core::sync::Mutex<usize>,
    cv: aio_core::sync::Condvar,
}

impl Flag {
    pub(super) fn raise(&self) {
        *self.raised.lock() += 1;
        self.cv.notify_all();
    }
    pub(super) fn wait(&self) {
        let mut g = self.raised.lock();
        while *g == 0 {
            g = self.cv.wait(g);
        }
    }
}

/// Holds a loom object on the model's main thread without dropping it
/// when the model panics; [`Keep::done`] drops it on the success path.
///
/// Loom reports a deadlock by panicking in whichever thread blocked last,
/// after it has cleared its notion of the running thread. If that thread's
/// unwinding drops a loom object (an `Arc`), loom panics again and the
/// whole process aborts, so `scripts/loom.sh --mutants` would see a crash
/// instead of a failed model. Dropping explicitly on success keeps loom's
/// leak check meaningful.
pub(super) struct Keep<T>(std::mem::ManuallyDrop<T>);

impl<T> Keep<T> {
    pub(super) fn new(v: T) -> Self {
        Keep(std::mem::ManuallyDrop::new(v))
    }

    pub(super) fn done(mut self) {
        // SAFETY: `self` is consumed, so the value is dropped once and never
        // used again.
        unsafe { std::mem::ManuallyDrop::drop(&mut self.0) }
    }
}

impl<T> std::ops::Deref for Keep<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

#[allow(unused_imports)]
pub(super) use aio_core::loom_support::{model, nop};

//! Loom models of aio-pool's protocols. Compiled only under `cfg(loom)`;
//! run by `scripts/loom.sh` (every model) and `scripts/loom.sh --mutants`
//! (each mutant in `scripts/mutants/aio-pool.txt` must make its model
//! fail).
//!
//! Each model is one small scenario with two or three threads, on the real
//! code (the pools, the worker loop, the order table) with loom's shrunken
//! capacities and one CPU. A comment on each says what a failure looks
//! like.

mod loom_barrier;
mod loom_engine_wake;
mod loom_lazy;
mod loom_shutdown;
mod loom_sleep;
mod loom_steal;
mod loom_watch;

use aio_core::sync::Arc;
use aio_core::{Completion, Op, OpKind, Target};

/// A target that does nothing and has no strategy: a worker runs its ops
/// on its own thread.

fn noop(_c: &Completion<'_>) {}

/// An asynchronous (callback) op of `kind` on `target`.
pub(super) fn async_op(target: &Arc<dyn Target>, kind: OpKind) -> Op {
    let mut op = Op::new(Arc::clone(target), vec![0u8; 1]);
    op.prepare(kind, 0, if kind.is_transfer() { 1 } else { 0 })
        .unwrap();
    op.set_callback(noop);
    op
}

/// Owns a value that holds loom objects, and leaks it instead of dropping
/// it if the thread is unwinding: when loom finds a deadlock it panics, and
/// any loom operation during that unwinding (a loom `Arc`'s drop, say)
/// panics again and aborts the whole run instead of failing the model.
pub(super) struct Keep<T>(Option<T>);

impl<T> Keep<T> {
    pub(super) fn new(v: T) -> Keep<T> {
        Keep(Some(v))
    }
    pub(super) fn take(mut self) -> T {
        self.0.take().expect("taken once")
    }
}

impl<T> std::ops::Deref for Keep<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0.as_ref().expect("not taken")
    }
}

impl<T> Drop for Keep<T> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            std::mem::forget(self.0.take());
        }
    }
}

#[allow(unused_imports)]
pub(super) use aio_core::loom_support::{model, nop};

//! Loom models of aio-posix's protocols. Compiled only under `cfg(loom)`;
//! run by `scripts/loom.sh` (every model) and `scripts/loom.sh --mutants`
//! (each mutant in `scripts/mutants/aio-posix.txt` must make its model
//! fail). `../README.md` is the prose description of each protocol.
//!
//! Each model is one small scenario with two or three threads; a comment
//! on each says what a failure looks like.

mod loom_dispatch;
mod loom_lio;
mod loom_slab;
mod loom_stream;
mod loom_suspend;

use aio_core::sync::Arc;
use aio_core::{Attempt, FlushKind, Result, Target};

/// A target that does nothing, for models where the I/O is not the point.
pub(super) struct Nop;

impl Target for Nop {
    fn read_at(&self, b: &mut [u8], _: u64) -> Attempt<Result<usize>> {
        Attempt::Ready(Ok(b.len()))
    }
    fn write_at(&self, b: &[u8], _: u64) -> Attempt<Result<usize>> {
        Attempt::Ready(Ok(b.len()))
    }
    fn flush(&self, _: FlushKind) -> Attempt<Result<()>> {
        Attempt::Ready(Ok(()))
    }
}

pub(super) fn nop() -> Arc<dyn Target> {
    aio_core::into_dyn(Nop)
}

/// Loom with the bound `scripts/loom.sh` sets (LOOM_MAX_PREEMPTIONS), or 3.
pub(super) fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(3);
    }
    b.check(f);
}

//! Loom models of aio-core's protocols. Compiled only under `cfg(loom)`;
//! run by `scripts/loom.sh` (every model) and `scripts/loom.sh --mutants`
//! (each mutant in `scripts/mutants/aio-core.txt` must make its model fail).
//!
//! Each model is one small scenario with two or three threads. A comment on
//! each says what a failure looks like.

mod loom_available;
mod loom_cancel;
mod loom_delivery;
mod loom_doorbell;
mod loom_ring;

use crate::sync::Arc;
use crate::{Attempt, FlushKind, Result, Target};

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
    crate::into_dyn(Nop)
}

/// Loom with the bound `scripts/loom.sh` sets (LOOM_MAX_PREEMPTIONS), or 3.
pub(super) fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(3);
    }
    b.check(f);
}

//! Shared helpers for every crate's loom models (compiled only under
//! `cfg(loom)`): the model runner with the project's preemption bound, and
//! a target that does nothing.

use crate::sync::Arc;
use crate::{Attempt, FlushKind, Result, Target};

/// Runs `f` under loom with the bound `scripts/loom.sh` sets
/// (`LOOM_MAX_PREEMPTIONS`), or 2 when run by hand.
pub fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(2);
    }
    b.check(f);
}

/// A target that does nothing, for models where the I/O is not the point.
#[derive(Debug)]
pub struct Nop;

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

/// [`Nop`] as an op's target.
pub fn nop() -> Arc<dyn Target> {
    crate::into_dyn(Nop)
}

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
mod loom_engines;
mod loom_ring;

pub(super) use crate::loom_support::{model, nop};

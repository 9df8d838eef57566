//! Loom models of aio-posix's protocols. Compiled only under `cfg(loom)`;
//! run by `scripts/loom.sh` (every model) and `scripts/loom.sh --mutants`
//! (each mutant in `scripts/mutants/aio-posix.txt` must make its model
//! fail). `../README.md` is the prose description of each protocol.
//!
//! Each model is one small scenario with two or three threads; a comment
//! on each says what a failure looks like.

mod loom_dispatch;
mod loom_lio;
mod loom_notify;
mod loom_reap;
mod loom_slab;
mod loom_stream;
mod loom_suspend;

#[allow(unused_imports)]
pub(super) use aio_core::loom_support::{model, nop};

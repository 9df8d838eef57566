//! # aio-tests: integration tests across the layers
//!
//! The tests live in `tests/tests/*.rs`, named by area; the helpers they
//! share with every other crate's tests (C compilation, the library's
//! location, timeouts, `qemu-nbd`, missing tools) are in the `test-support`
//! crate. This library holds nothing else.
//!
//! **Layering.** Sits on top of everything; nothing depends on it.

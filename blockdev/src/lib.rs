//! # blockdev: asynchronous devices at the bottom of the stack
//!
//! The layer where I/O actually happens: devices that accept requests
//! without waiting and complete each exactly once through aio-core's
//! delivery (NetBSD's strategy routine and `biodone`).
//!
//! **Layering.** Depends on `aio-core` only (plus external crates). Nothing
//! of ours depends on it except `aio-posix`, the tests and the benches.
//!
//! Not built yet: see the blockdev issue.

//! # aio-posix: POSIX AIO in Rust and as a C library
//!
//! `aio_read`, `aio_write`, `aio_error`, `aio_return`, `aio_suspend`,
//! `aio_cancel`, `aio_fsync` and `lio_listio` over the service pools.
//!
//! **Layering.** The top of the library stack: wires `aio-core`,
//! `blockdev` and `aio-pool` together. Nothing of ours depends on it but
//! the tests and the benches.
//!
//! Not built yet: see the aio-posix issue.

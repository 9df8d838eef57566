//! # aio-posix: POSIX AIO in Rust and as a C library
//!
//! `aio_read`, `aio_write`, `aio_fsync`, `aio_error`, `aio_return`,
//! `aio_suspend`, `aio_cancel` and `lio_listio` on top of the service pools
//! (`aio-pool`) and the devices (`blockdev`), per POSIX.1-2024, and
//! FreeBSD's vectored `aio_readv`/`aio_writev` (`LIO_READV`/`LIO_WRITEV`)
//! as an extension of the C library.
//!
//! **Layering.** The top of the library stack: wires `aio-core`,
//! `blockdev` and `aio-pool` together. Nothing of ours depends on it but
//! the tests and the benches.
//!
//! ## Two faces
//!
//! * The **C ABI** ([`ffi`]): `libaio_posix.so` exports the eight entry
//!   points, their `*64` twins and `aio_init` on glibc's `struct aiocb`,
//!   unversioned, so an unmodified glibc program runs on it under
//!   `LD_PRELOAD` and a new one links it with `-laio_posix`
//!   (`pkg-config aio_posix`; extension functions in
//!   `include/aio_posix.h`). The module docs hold the errno table.
//! * The **Rust API** ([`api`]): [`Request`] owns its control block and
//!   buffer, [`aio_read`] & co. turn it into an [`InProgress`], which
//!   gives it back with the result.
//!
//! ## How an op runs
//!
//! An aiocb is checked, its descriptor mapped to a `blockdev::FileDevice`
//! (one per direction for streams), and an aio-core `Op` is taken from a
//! bounded slab, pointed at the caller's buffer and submitted to the pools
//! with a callback. The callback stores `__return_value`, then
//! `__error_code` (Release) as its last touch of the aiocb, wakes
//! `aio_suspend` sleepers through one event word (a futex) and sends the
//! notification from a copy of the sigevent taken at submission. Per-op
//! state lives in the aiocb, as in glibc, so `aio_error` is one atomic
//! load and nothing is kept per completed op. `src/README.md` describes
//! the protocols (completion, suspend, slab, stream queues, lio group,
//! `SIGEV_THREAD` dispatcher) with the races, the crate's lock order and a
//! proof sketch; each has a loom model in `src/tests`.
//!
//! ## Limits
//!
//! See [`Config`]: `AIO_POSIX_MAX_OPS`, `AIO_POSIX_THREADS`,
//! `AIO_POSIX_QUEUE_DEPTH`, `AIO_POSIX_NOTIFY_THREADS`,
//! `AIO_POSIX_INLINE_MAX`, `AIO_POSIX_PIN`, and `aio_init`.
//! `AIO_POSIX_TRACE=path` makes each process append its call counters to
//! `path` (the tests use it to prove which library served a program).

// Under loom the library itself (not its tests) is built only as the
// dependency of the cdylib package (a dev-dependency of the tests), where
// the protocol types the models construct are unused.
#![cfg_attr(all(loom, not(test)), allow(dead_code, unused_imports))]

#[cfg(all(loom, not(debug_assertions)))]
compile_error!("loom models need debug assertions: build them with `--profile loom`");

pub mod abi;
#[cfg(not(loom))]
pub mod api;
mod complete;
mod config;
mod counters;
#[cfg(not(loom))]
pub mod ffi;
mod group;
#[cfg(not(loom))]
mod instance;
mod lock_order;
mod notify;
#[cfg(not(loom))]
mod pthread;
mod slab;
mod stats;
mod stream;
mod suspend;
#[cfg(not(loom))]
mod trace;

#[cfg(all(test, loom))]
mod tests;

// The protocols' narration (`src/README.md`), compiled so that its links
// to the code are checked by `cargo doc --document-private-items`.
#[cfg(not(loom))]
#[doc = include_str!("README.md")]
mod protocols {}

#[cfg(not(loom))]
pub use api::{
    InProgress, ListMode, Refused, Request, SyncMode, aio_cancel, aio_fsync, aio_read, aio_suspend,
    aio_write, lio_listio,
};
pub use config::Config;
#[cfg(not(loom))]
pub use instance::{AIO_PRIO_DELTA_MAX, CancelStatus};
pub use notify::{Notification, ThreadFn};

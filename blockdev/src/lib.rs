//! # blockdev: asynchronous devices at the bottom of the stack
//!
//! The layer where I/O actually happens: devices that accept requests
//! without waiting and complete each exactly once through aio-core's
//! delivery (NetBSD's strategy routine and `biodone`).
//!
//! **Layering.** Depends on `aio-core` only (plus libc and io-uring).
//! Nothing of ours depends on it except `aio-posix`, the tests and the
//! benches.
//!
//! ## The interface
//!
//! Every device implements aio-core's [`Target`](aio_core::Target)
//! (synchronous `read_at`/`write_at`/`flush` on the caller's thread, for
//! synchronous mode) and [`Strategy`](aio_core::Strategy) (asynchronous
//! `submit(op, engine)` that never waits for the I/O), and returns itself
//! from `Target::strategy`. The [`Device`] trait adds geometry, a name and
//! shutdown, and documents which thread runs completion callbacks and what
//! a callback must not do.
//!
//! A servicing thread keeps many ops in flight on one device by owning an
//! [`Engine`](aio_core::Engine) and reaping with `poll(budget)` /
//! `wait(timeout)`: a [`UringEngine`] (one io_uring per thread, made by
//! [`new_engine`]) or aio-core's `BasicEngine`.
//!
//! ## Devices
//!
//! * [`RamDisk`]: in memory, sharded locks; completes inside `submit`.
//! * [`FileDevice`]: a host file, block device or any open descriptor,
//!   through the thread's io_uring, or a [`BlockingPool`] without one.
//! * [`NbdDevice`]: an NBD client (fixed newstyle, `NBD_OPT_GO`) over a
//!   Unix socket or TCP; a reader thread completes replies by cookie.
//! * [`DelayDevice`]: adds seeded latency on a timer thread.
//! * [`FaultDevice`]: injects seeded faults.
//!
//! ## Protocols
//!
//! `src/README.md` describes the concurrency protocols this crate adds
//! (the work queue of the pool and the NBD writer, the NBD in-flight table
//! against disconnection, the timer's sleep and wake, the doorbell bridge),
//! with the races thread by thread. Each has a loom model in `src/tests`.

// Under loom the io_uring and socket parts are compiled out, so the pool
// and queue helpers they use look unused there.
#![cfg_attr(loom, allow(dead_code))]

#[cfg(all(loom, not(debug_assertions)))]
compile_error!("loom models need debug assertions: build them with `--profile loom`");

mod bridge;
mod delay;
mod device;
mod fault;
#[cfg(not(loom))]
mod file;
mod forward;
#[cfg(not(loom))]
mod nbd;
mod pool;
mod queue;
mod ramdisk;
mod table;
mod timer;
#[cfg(not(loom))]
mod uring;

#[cfg(all(test, loom))]
mod tests;

pub use delay::{DelayDevice, Latency};
pub use device::{AlignedBuf, Device, Geometry, XorShift};
pub use fault::{Fault, FaultDevice, FaultPolicy};
#[cfg(not(loom))]
pub use file::{FileDevice, FileOptions, new_engine};
pub use forward::SharedDevice;
#[cfg(not(loom))]
pub use nbd::NbdDevice;
pub use pool::BlockingPool;
pub use ramdisk::{RamDisk, RamDiskOptions};
#[cfg(not(loom))]
pub use uring::UringEngine;

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
//! engine set, [`Engines`](aio_core::Engines), and reaping with
//! `poll(budget)` / `wait(timeout)`; the set's home source is a
//! [`UringEngine`] (one io_uring per thread, made by [`new_engine`]) or
//! aio-core's `BasicEngine`.
//!
//! ## Many ops in flight from one thread
//!
//! ```
//! use aio_core::sync::Arc;
//! use aio_core::{Engines, Op, OpKind, into_dyn};
//! use blockdev::{Device, FileDevice, FileOptions};
//! use std::time::Duration;
//!
//! let path = std::env::temp_dir().join(format!("blockdev-doc-{}.img", std::process::id()));
//! let dev = FileDevice::open(&path, FileOptions::new().create(1 << 20)).unwrap();
//! assert_eq!(dev.geometry().capacity, 1 << 20);
//! let disk = into_dyn(dev);
//! // One engine per servicing thread: an io_uring here, or a thread pool
//! // where io_uring cannot be set up.
//! let mut engine = Engines::new(blockdev::new_engine(64));
//! let mut pending = Vec::new();
//! for i in 0..64u64 {
//!     let mut op = Op::new(Arc::clone(&disk), vec![i as u8; 4096]);
//!     op.prepare(OpKind::Write, i * 4096, 4096).unwrap();
//!     let (p, queued) = op.enqueue();
//!     // Never waits for the I/O.
//!     disk.strategy().unwrap().submit(queued.start().unwrap(), &mut engine);
//!     pending.push(p);
//! }
//! // Reap without blocking on any single op; sleep only when nothing is ready.
//! while engine.in_flight() > 0 {
//!     if engine.poll(32).unwrap() == 0 {
//!         engine.wait(Some(Duration::from_millis(10))).unwrap();
//!     }
//! }
//! for p in pending {
//!     assert!(p.wait_timeout(Duration::from_secs(5)));
//!     assert_eq!(p.wait().1, Ok(4096));
//! }
//! std::fs::remove_file(&path).unwrap();
//! ```
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
#![doc = include_str!("README.md")]
// The narrations (README.md files included as module docs, and under
// `protocols`) link to the crate-private functions they describe, so that
// `cargo doc -D warnings` fails when one moves; those links are checked
// but render as plain text in the public docs.
#![allow(rustdoc::private_intra_doc_links)]
// Under loom the io_uring and socket parts are compiled out, so the pool
// and queue helpers they use look unused there.
#![cfg_attr(loom, allow(dead_code))]

#[cfg(all(loom, not(debug_assertions)))]
compile_error!("loom models need debug assertions: build them with `--profile loom`");

mod device;
mod fdreg;
#[cfg(not(loom))]
mod file;
mod iov;
pub mod lock_order;
mod nbd;
mod pool;
mod queue;
mod ramdisk;
mod ready;
mod wrap;

#[cfg(all(test, loom))]
mod tests;

/// The protocol narrations, one per protocol, rendered here so that the
/// public docs carry them and rustdoc checks their links; each is also
/// its module's own docs in the source (`README.md` or `<name>.md` beside
/// the code).
pub mod protocols {
    #[doc = include_str!("queue.md")]
    pub mod queue {}
    #[doc = include_str!("nbd/README.md")]
    pub mod nbd {}
    #[doc = include_str!("wrap/README.md")]
    pub mod wrap {}
    #[doc = include_str!("file/README.md")]
    pub mod file {}
    #[doc = include_str!("file/uring.md")]
    pub mod uring {}
    #[doc = include_str!("ready/README.md")]
    pub mod ready {}
}

pub use device::{AlignedBuf, Device, Geometry, XorShift};

/// The atfork *prepare* handler's part (the caller of `fork`, before it):
/// takes the readiness waiter's cell (`ready/README.md`, the fork
/// paragraph), then closes the descriptor gate.
#[cfg(not(loom))]
pub fn fork_prepare() {
    ready::epoll::fork_prepare();
    fdreg::fork_prepare();
}

/// Whether `fd` is one of the descriptors the library opened for itself
/// (an io_uring instance, an eventfd, the readiness waiter's epoll
/// instance, a duplicate of a stream's descriptor): a program naming it
/// has used a number it closed, which the library has since reused, and
/// must get `EBADF` as it would had the library opened nothing.
#[cfg(not(loom))]
pub fn is_library_fd(fd: std::os::fd::RawFd) -> bool {
    fdreg::is_registered(fd)
}

/// The atfork *parent* handler's part: reopens the gate, releases the cell.
#[cfg(not(loom))]
pub fn fork_parent() {
    fdreg::fork_parent();
    ready::epoll::fork_done();
}

/// The atfork *child* handler's part: reopens the gate, closes the
/// inherited descriptors, releases the cell (atomics, `close`, an
/// uncontended unlock).
#[cfg(not(loom))]
pub fn fork_child() {
    fdreg::fork_child();
    ready::epoll::fork_done();
}
#[cfg(not(loom))]
pub use file::UringEngine;
#[cfg(not(loom))]
pub use file::{
    FileDevice, FileOptions, TryRead, default_pool, new_engine, stream_ops_waiting,
    uring_unavailable,
};
#[cfg(not(loom))]
pub use nbd::NbdDevice;
pub use pool::BlockingPool;
pub use ramdisk::{RamDisk, RamDiskOptions};
pub use wrap::delay::{DelayDevice, Latency};
pub use wrap::fault::{Fault, FaultDevice, FaultPolicy};
pub use wrap::forward::SharedDevice;

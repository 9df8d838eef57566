//! # aio-core: the `aio_ops` protocol
//!
//! The bottom of the workspace: the asynchronous-operation record that every
//! layer above passes around (the NetBSD tech-kern proposal's
//! `struct aio_ops`), its life cycle, its delivery to waiters, callbacks and
//! completion rings, the target trait it runs against, the one error type,
//! and the synchronization shim that every crate uses so that loom can check
//! all of it.
//!
//! **Layering.** aio-core depends on nothing of ours: only libc,
//! crossbeam-utils (cache padding), static_assertions and, under `cfg(loom)`,
//! loom. `blockdev` and `aio-pool` build on it; `aio-posix` wires them
//! together.
//!
//! ## Contents
//!
//! * [`sync`]: the shim (std normally, loom under `cfg(loom)`).
//! * [`Op`], [`Pending`], [`Queued`], [`InFlight`]: the op record and the
//!   handles that encode who may do what in each state; [`OpKey`], the
//!   identity of one submission that cancellation keys on; [`IoBuf`], the
//!   op's buffer (owned, raw, or segments). The protocol, its one state
//!   diagram and the crate's lock order are narrated once, in [`op`].
//! * [`Target`], [`Attempt`], [`Availability`]: what an op runs against,
//!   and how a synchronous caller waits for a busy resource
//!   ([the op docs](op#waiting-for-a-busy-target-available)).
//! * [`Strategy`]: the asynchronous side of a target (NetBSD's strategy
//!   routine). [`Engines`], [`Engine`], [`EngineTicket`]: a servicing
//!   thread's set of completion sources (its io_uring, a device's own
//!   queue), which lets it keep many ops in flight and sleep once for all
//!   of them ([`engine`]). Words: a *ticket* is only
//!   ever an [`EngineTicket`] (a ring's reservations are *credits*, an
//!   availability's counter is its *release count*); a *ring* is only ever a
//!   [`CompletionRing`] (a [`Doorbell`] is *signalled*); a *generation*
//!   counts an op's executions (there is no *epoch*).
//! * [`CompletionRing`], [`Reaper`]: the lock-free completion ring, whose
//!   credits, taken at submission, keep completers from ever sleeping.
//! * [`Error`]: POSIX errno values, converted in one place.
//! * [`MemTarget`]: an in-memory target for tests and benches.
//!
//! ## Synchronous mode in one example
//!
//! ```
//! use aio_core::{MemTarget, Op, OpKind, into_dyn};
//!
//! let target = into_dyn(MemTarget::new(1 << 20));
//! let mut op = Op::new(target, b"hello".to_vec());
//! op.prepare(OpKind::Write, 4096, 5).unwrap();
//! assert_eq!(op.run_sync(), Ok(5)); // no callback: the caller services it
//! op.set_buf(vec![0; 5]);
//! op.prepare(OpKind::Read, 4096, 5).unwrap();
//! assert_eq!(op.run_sync(), Ok(5));
//! assert_eq!(op.buf(), b"hello");
//! ```

#[cfg(all(loom, not(debug_assertions)))]
compile_error!("loom models need debug assertions: build them with `--profile loom`");

pub mod engine;
pub mod error;
pub mod lock_order;
#[cfg(loom)]
pub mod loom_support;
mod mem;
pub mod op;
pub mod ring;
pub mod stats;
pub mod strategy;
pub mod sync;
pub mod target;

#[cfg(all(test, loom))]
mod tests;

pub use engine::{
    BasicEngine, Doorbell, DoorbellWaker, Engine, EngineTicket, EngineWaker, Engines,
};
pub use error::{Error, Result};
pub use mem::MemTarget;
pub use op::{
    Callback, CancelOutcome, Completion, InFlight, IoBuf, Op, OpKey, OpKind, OpState, OpWatch,
    Pending, Queued, Segments, SegmentsMut,
};
pub use ring::{CompletionRing, CqEntry, Reaper};
pub use strategy::Strategy;
pub use target::{Attempt, Availability, FlushKind, Target, into_dyn};

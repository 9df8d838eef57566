//! aio-pool's lock order as [`LockRank`]s: the levels of the crate's one
//! lock-order table (the crate docs, "Locking (whole crate)"), outermost
//! lowest, in aio-pool's band 200–299 (see [`aio_core::lock_order`] for the
//! bands: aio-posix holds a slot lock, band 100–199, while it calls
//! [`PoolSet::cancel`](crate::PoolSet::cancel); no aio-pool lock is held
//! while a device's or aio-core's lock is taken).

use aio_core::sync::LockRank;

/// `Workers::start` (`start.rs`): the outermost; held while a worker is
/// spawned, taking [`POOL_Q`], [`WORKERS_JOINS`] and [`CANCEL_REPLY`].
pub const WORKERS_START: LockRank = LockRank::new(210, "aio_pool::Workers::start");

/// An `OrderTable` shard (`order.rs`): may hold while taking [`POOL_Q`]
/// (allowed, never done).
pub const ORDER_SHARD: LockRank = LockRank::new(220, "aio_pool::OrderTable shard");

/// `Pool::q` (`pool.rs`): never two at once (a stealer drops its own
/// first). Not applied yet.
pub const POOL_Q: LockRank = LockRank::new(240, "aio_pool::Pool::q");

/// `Shared::space` (`shared.rs`): a leaf (waits on `space_cv`).
pub const SHARED_SPACE: LockRank = LockRank::new(250, "aio_pool::Shared::space");

/// The `Wakeup`'s waker slot (`sleep/`): a leaf. Not applied yet.
pub const WAKER_SLOT: LockRank = LockRank::new(260, "aio_pool::Wakeup waker slot");

/// `CancelReply::m` (`pool.rs`): a leaf (waits on its `cv`). Not applied
/// yet.
pub const CANCEL_REPLY: LockRank = LockRank::new(270, "aio_pool::CancelReply::m");

/// `Workers::joins` (`start.rs`): a leaf.
pub const WORKERS_JOINS: LockRank = LockRank::new(280, "aio_pool::Workers::joins");

//! aio-posix's lock order as [`LockRank`]s: the levels of the crate's one
//! lock-order table (`README.md`, "Lock order"), outermost lowest, in
//! aio-posix's band 100–199, the outermost of the workspace (see
//! [`aio_core::lock_order`]): a slot lock is held across
//! [`PoolSet::cancel`](aio_pool::PoolSet::cancel) (aio-pool's locks, then
//! aio-core's op lock) and while a parked op is completed unsubmitted.

use aio_core::sync::LockRank;

/// `Slot::st` (`slab.rs`): the outermost; held while taking [`STREAM_Q`],
/// [`GROUP_PLUG`], [`DISPATCHER_Q`], and (cancel) aio-pool's and
/// aio-core's locks. Under [`SLAB_REAP`] and [`SLAB_FREE`] it is only
/// try-locked (reclaim).
pub(crate) const SLOT: LockRank = LockRank::new(110, "aio_posix::Slot::st");

/// `Slab::reap` (`slab.rs`): held while taking [`SLAB_FREE`] (reclaim,
/// `aio_waitcomplete`); a slot lock is only try-locked under it.
pub(crate) const SLAB_REAP: LockRank = LockRank::new(120, "aio_posix::Slab::reap");

/// `StreamQ::q` (`stream.rs`): a leaf, taken under [`SLOT`].
pub(crate) const STREAM_Q: LockRank = LockRank::new(130, "aio_posix::StreamQ::q");

/// `Slab::free` (`slab.rs`): taken alone or under [`SLAB_REAP`]; under it
/// a slot lock is only try-locked.
pub(crate) const SLAB_FREE: LockRank = LockRank::new(140, "aio_posix::Slab::free");

/// `Group::plug` (`group.rs`): a leaf, taken under [`SLOT`].
pub(crate) const GROUP_PLUG: LockRank = LockRank::new(150, "aio_posix::Group::plug");

/// `Dispatcher::q` (`notify/`): a leaf, taken under [`SLOT`].
pub(crate) const DISPATCHER_Q: LockRank = LockRank::new(160, "aio_posix::Dispatcher::q");

/// `Dispatcher::joins` (`notify/`, loom builds only): a leaf.
#[cfg_attr(not(loom), allow(dead_code))]
pub(crate) const DISPATCHER_JOINS: LockRank = LockRank::new(170, "aio_posix::Dispatcher::joins");

/// `Instance::fds` (`instance/`): a leaf.
pub(crate) const INSTANCE_FDS: LockRank = LockRank::new(180, "aio_posix::Instance::fds");

/// `PENDING_CONFIG` (`instance/`): a leaf.
pub(crate) const PENDING_CONFIG: LockRank = LockRank::new(190, "aio_posix::PENDING_CONFIG");

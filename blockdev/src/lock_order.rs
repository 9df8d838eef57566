//! blockdev's lock order as [`LockRank`]s: the levels of the crate's one
//! lock-order table (the crate docs, "Lock order"), in blockdev's band
//! 300–399 (see [`aio_core::lock_order`] for the bands: a blockdev lock is
//! never held while an op is completed, so aio-core's locks, 400–499, are
//! the only ones above it; aio-posix's and aio-pool's are below).
//!
//! Every lock here but the readiness cell is a leaf; leaves have distinct
//! levels only so that a panic message names the right lock. The fork gate
//! (`fdreg.rs`) is not a mutex and has no rank.

use aio_core::sync::LockRank;

/// The readiness waiter's process cell (`ready/epoll.rs`, `global`): held
/// while the epoll instance is made and the readiness thread spawned;
/// never taken under [`READINESS_STATE`].
pub const READINESS_CELL: LockRank = LockRank::new(310, "blockdev::ready::global cell");

/// `Readiness::state` (`ready/mod.rs`): held across `epoll_ctl`,
/// non-blocking transfers and a `dup` through the fork gate; nothing
/// ranked is taken under it.
pub const READINESS_STATE: LockRank = LockRank::new(320, "blockdev::Readiness::state");

/// `Lane::state` (`ready/lane.rs`): held across a `dup` through the fork
/// gate and a thread spawn; nothing ranked is taken under it.
pub const LANE_STATE: LockRank = LockRank::new(325, "blockdev::ready::Lane::state");

/// `FileShared::pool` (`file/shared.rs`): held while the blocking pool is
/// made.
pub const FILE_POOL: LockRank = LockRank::new(330, "blockdev::FileShared::pool");

/// `BlockingPool::workers` (`pool.rs`): a leaf.
pub const BLOCKING_POOL_WORKERS: LockRank = LockRank::new(340, "blockdev::BlockingPool::workers");

/// `WorkQueue::state` (`queue.rs`): a leaf (with its condvar).
pub const WORK_QUEUE: LockRank = LockRank::new(350, "blockdev::WorkQueue::state");

/// `InflightTable::state` (`nbd/table.rs`): a leaf.
pub const NBD_INFLIGHT: LockRank = LockRank::new(360, "blockdev::nbd::InflightTable::state");

/// `NbdDevice`'s reader thread handle (`nbd/client.rs`): a leaf.
pub const NBD_READER: LockRank = LockRank::new(370, "blockdev::NbdDevice::reader");

/// `NbdDevice`'s writer thread handle (`nbd/client.rs`): a leaf.
pub const NBD_WRITER: LockRank = LockRank::new(372, "blockdev::NbdDevice::writer");

/// `Timer`'s `state` (`wrap/timer.rs`): a leaf (with its condvar).
pub const TIMER_STATE: LockRank = LockRank::new(380, "blockdev::wrap::Timer::state");

/// `Timer`'s thread handle (`wrap/timer.rs`): a leaf.
pub const TIMER_HANDLE: LockRank = LockRank::new(382, "blockdev::wrap::Timer::handle");

/// `DelayDevice`'s `rng` (`wrap/delay.rs`): a leaf.
pub const DELAY_RNG: LockRank = LockRank::new(390, "blockdev::DelayDevice::rng");

/// `FaultDevice`'s `rng` (`wrap/fault.rs`): a leaf.
pub const FAULT_RNG: LockRank = LockRank::new(392, "blockdev::FaultDevice::rng");

/// `FaultDevice`'s `log` (`wrap/fault.rs`): a leaf.
pub const FAULT_LOG: LockRank = LockRank::new(394, "blockdev::FaultDevice::log");

/// A `RamDisk` shard's lock (`ramdisk.rs`): a leaf, one shard at a time.
pub const RAMDISK_SHARD: LockRank = LockRank::new(398, "blockdev::RamDisk shard");

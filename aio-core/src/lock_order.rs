//! aio-core's lock order as [`LockRank`]s, and the workspace's bands.
//!
//! The prose table (who takes each lock, and what it may hold) is in
//! [`op`](crate::op)'s docs, "Lock order (all of aio-core)"; these consts
//! are that table's levels, outermost lowest. [`Mutex::ranked`] gives each
//! lock its rank, so debug builds panic on a lock taken out of order (see
//! [`sync::rank`](crate::sync::rank)).
//!
//! # Bands across crates
//!
//! A lock of one crate is held while a lock of another is taken only
//! downward in the crate stack, so each crate's levels are one band, the
//! upper crate's band lower (outer):
//!
//! | band | crate | why it is outer |
//! |---|---|---|
//! | 100–199 | aio-posix | a slot lock is held across `PoolSet::cancel` (aio-pool's locks, then aio-core's op lock) and while a parked op is completed unsubmitted (aio-core's op lock) |
//! | 200–299 | aio-pool | no aio-pool lock is held across a device or an op call today; the band sits above aio-posix's and below the devices' |
//! | 300–399 | blockdev | no blockdev lock is held while an op is completed; the band sits below aio-core's |
//! | 400–499 | aio-core | innermost: the op and ring locks are taken under any of the above |
//!
//! No lock of a lower band is ever taken while one of a higher band is
//! held (no callback, completion or device call runs under a lock of a
//! lower crate), which is what the check verifies in debug builds.
//!
//! [`Mutex::ranked`]: crate::sync::Mutex::ranked

use crate::sync::LockRank;

/// A target's waiter list ([`Availability`](crate::target::Availability)'s
/// `waiters`): held while a release (R2) takes each waiter's
/// [`OP_SHARED`] lock; the busy wait (A3) takes it alone.
pub const AVAILABILITY_WAITERS: LockRank = LockRank::new(410, "aio_core::Availability::waiters");

/// An op's lock (`OpShared::mtx`, `op/record.rs`): delivery, the busy wait
/// (A3, A4) and a release's wake of one waiter (under
/// [`AVAILABILITY_WAITERS`]). Taken under an aio-posix slot lock and
/// aio-pool's cancel path.
pub const OP_SHARED: LockRank = LockRank::new(420, "aio_core::OpShared::mtx");

/// The completion ring's sleep lock
/// ([`CompletionRing`](crate::ring::CompletionRing)'s `mtx`): a leaf.
pub const COMPLETION_RING: LockRank = LockRank::new(440, "aio_core::CompletionRing::mtx");

/// The engine doorbell's `signals` (`engine/doorbell.rs`): a leaf.
pub const DOORBELL_SIGNALS: LockRank = LockRank::new(460, "aio_core::Doorbell::signals");

/// [`MemTarget`](crate::MemTarget)'s data, the test target's bytes: a
/// leaf.
pub const MEM_TARGET_DATA: LockRank = LockRank::new(480, "aio_core::MemTarget::data");

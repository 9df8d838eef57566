//! # aio-pool: per-CPU service pools, one class of operation each
//!
//! The proposal's `aio_service_pool`: per-(CPU, class) queues served by
//! pinned worker threads that stay dormant until work is pending.
//!
//! **Layering.** Depends on `aio-core` only; it drives whatever implements
//! aio-core's target and device interfaces and never names a `blockdev`
//! type.
//!
//! Not built yet: see the aio-pool issue.

//! Process-wide counters of events that should never happen in a correct
//! program but must not be lost silently when they do.
//!
//! They are statistics, not part of any protocol, so they are plain std
//! atomics with Relaxed ordering, invisible to loom.

#![allow(clippy::disallowed_types)]

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

static CALLBACK_PANICS: AtomicU64 = AtomicU64::new(0);
static DROPPED_INFLIGHT: AtomicU64 = AtomicU64::new(0);
static DROPPED_QUEUED: AtomicU64 = AtomicU64::new(0);

pub(crate) fn count_dropped_queued() {
    DROPPED_QUEUED.fetch_add(1, Relaxed);
}

/// How many queued ops were cancelled because their servicer dropped the
/// `Queued` token without starting them.
pub fn dropped_queued() -> u64 {
    DROPPED_QUEUED.load(Relaxed)
}

pub(crate) fn count_callback_panic() {
    CALLBACK_PANICS.fetch_add(1, Relaxed);
}

pub(crate) fn count_dropped_inflight() {
    DROPPED_INFLIGHT.fetch_add(1, Relaxed);
}

/// How many completion callbacks panicked (each op was delivered with `EIO`).
pub fn callback_panics() -> u64 {
    CALLBACK_PANICS.load(Relaxed)
}

/// How many in-flight tokens were dropped without completing their op (each
/// op was completed with `EIO`).
pub fn dropped_inflight() -> u64 {
    DROPPED_INFLIGHT.load(Relaxed)
}

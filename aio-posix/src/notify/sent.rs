//! A slot's *sent mark*: the generation of its last op whose notification
//! was sent (see `README.md`,
//! [Notification before return](crate::protocols#notification-before-return)).
//! A leaf: it uses nothing of the crate.

use aio_core::sync::atomic::{AtomicU32, Ordering};

/// The generation "before the first" in a slot's sent marker.
pub(crate) const NEVER_SENT: u32 = u32::MAX;

/// Records in a slot's sent marker that the notification of the op of
/// generation `generation` was sent (monotonic: a later op's mark is never
/// overwritten by an earlier one's). Release: pairs with [`was_sent`].
pub(crate) fn mark_sent(marker: &AtomicU32, generation: u32) {
    let mut cur = marker.load(Ordering::Relaxed);
    while (generation.wrapping_sub(cur) as i32) > 0 || cur == NEVER_SENT {
        match marker.compare_exchange_weak(cur, generation, Ordering::Release, Ordering::Relaxed) {
            Ok(_) => return,
            Err(c) => cur = c,
        }
    }
}

/// Whether the notification of the op of generation `generation` (or of a
/// later op of the same slot, which implies it) was sent.
pub(crate) fn was_sent(marker: &AtomicU32, generation: u32) -> bool {
    let cur = marker.load(Ordering::Acquire);
    cur != NEVER_SENT && (cur.wrapping_sub(generation) as i32) >= 0
}

//! The op slab (see `README.md`, [The slab](crate::protocols#the-slab-slab));
//! the completion callback is [`complete`](crate::complete).
//!
//! Every POSIX op runs on an aio-core [`Op`] taken from a bounded slab, so
//! steady-state submission allocates nothing and the number of ops in
//! flight is bounded (`EAGAIN` past it). A slot is:
//!
//! ```text
//!   Lock order: see README.md, "Lock order". Slab::done -> Slab::free; a
//!   slot's `st` is never taken with either held (reclaim uses try_lock).
//!   A callback takes a slot lock only in K7 (Completer::release), that of
//!   the next, parked op of its stream queue, never its own.
//!
//!   s   under Slot::st
//!   o   owned by whoever holds the slot: the submitter while it is off the
//!       free list and not submitted, then (read-only, then `group` taken)
//!       the op's completion callback; published by Op::enqueue's Release
//!
//!   Slot::st.op        s   the idle Op (None while submitted)
//!   Slot::st.pending   s   the submitted op's Pending (None when idle)
//!   Slot::st.{fd, aiocb, generation, target, id}
//!                      s   what aio_cancel needs to find and cancel it
//!   Slot::info         o   what the callback needs: the aiocb, the
//!                          notification copy, the lio group
//! ```
//!
//! Life of a slot: `alloc` (pop `free`) → the submitter fills `info` and
//! `st`, submits → the callback pushes the index on `done` and completes
//! the aiocb → `reclaim` (next time `free` runs dry) takes the `Pending` back
//! with `try_wait`, which succeeds only once aio-core has delivered
//! the op, and pushes the index on `free`. Nothing is kept per completed
//! op beyond the slot itself.

use aio_core::sync::atomic::AtomicU32;
use aio_core::sync::{Arc, Mutex, UnsafeCell};
use aio_core::{Op, Pending, Target};

use crate::abi::RawAiocb;
use crate::group::Group;
use crate::notify::{NEVER_SENT, Notification};
use crate::stream::StreamQ;

/// Retries of `alloc` while completed slots wait for delivery (loom: one,
/// to keep the model small; the model loops itself).
const ALLOC_RETRIES: usize = if cfg!(loom) { 1 } else { 1000 };

/// What the completion callback of a slot's op needs. (o)
#[derive(Debug)]
pub(crate) struct Info {
    /// The [`Completer`](crate::complete::Completer) that owns this slab
    /// (slab, events, dispatcher), type-erased so that the slab does not
    /// name its user (no import cycle between slab.rs and complete.rs).
    pub(crate) core: *const (),
    /// The slot's index.
    pub(crate) idx: u32,
    /// The caller's aiocb.
    pub(crate) aiocb: *mut RawAiocb,
    /// Copy of its sigevent, taken at submission.
    pub(crate) notify: Notification,
    /// The `lio_listio` group, if any.
    pub(crate) group: Option<Arc<Group>>,
    /// The FIFO queue of the op's stream and direction, if any: the next
    /// op of the queue is released when this one completes.
    pub(crate) stream: Option<Arc<StreamQ>>,
    /// The slot's generation for this op (its sent mark).
    pub(crate) generation: u32,
}

/// The lock-protected part of a slot. (s)
#[derive(Default)]
pub(crate) struct SlotState {
    /// The idle op, when not submitted.
    pub(crate) op: Option<Op>,
    /// The submitted op.
    pub(crate) pending: Option<Pending>,
    /// Bumped at every reclaim: an aiocb names its slot by (index, generation).
    pub(crate) generation: u32,
    /// The descriptor of the submitted op.
    pub(crate) fd: i32,
    /// The aiocb of the submitted op.
    pub(crate) aiocb: usize,
    /// The target the op was submitted on (for `PoolSet::cancel`).
    pub(crate) target: Option<Arc<dyn Target>>,
    /// The op's id.
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) id: u64,
    /// Set while the op (and its `Op`) waits in this stream queue for the
    /// op ahead of it; it is then neither submitted nor idle.
    pub(crate) parked: Option<Arc<StreamQ>>,
}

/// One slab slot.
pub(crate) struct Slot {
    pub(crate) st: Mutex<SlotState>,
    pub(crate) info: UnsafeCell<Info>,
    /// The generation of the last op of this slot whose notification was
    /// sent (`notify::mark_sent`; `NEVER_SENT` at first): what a woken
    /// `aio_suspend` checks before it returns.
    pub(crate) sent: AtomicU32,
}

// SAFETY: `info` holds raw pointers to the caller's aiocb and to the Completer,
// and is accessed only by the slot's holder (see the module legend); the
// aiocb is the C caller's to keep valid until completion.
unsafe impl Send for Slot {}
// SAFETY: as for Send: `info` is never accessed by two threads at once.
unsafe impl Sync for Slot {}

/// The bounded set of op records.
pub(crate) struct Slab {
    pub(crate) slots: Box<[Slot]>,
    /// Indexes of idle slots. (lock: this mutex)
    free: Mutex<Vec<u32>>,
    /// Indexes of slots whose callback ran, not yet reclaimed. (lock: this)
    done: Mutex<Vec<u32>>,
}

impl Slab {
    /// A slab of `n` slots (their ops are made on first use).
    pub(crate) fn new(n: usize) -> Slab {
        let n = n.clamp(1, u32::MAX as usize);
        let slots = (0..n)
            .map(|i| Slot {
                st: Mutex::ranked(crate::lock_order::SLOT, SlotState::default()),
                info: UnsafeCell::new(Info {
                    core: std::ptr::null(),
                    idx: i as u32,
                    aiocb: std::ptr::null_mut(),
                    notify: Notification::None,
                    group: None,
                    stream: None,
                    generation: 0,
                }),
                sent: AtomicU32::new(NEVER_SENT),
            })
            .collect();
        Slab {
            slots,
            free: Mutex::ranked(crate::lock_order::SLAB_FREE, (0..n as u32).rev().collect()),
            done: Mutex::ranked(crate::lock_order::SLAB_DONE, Vec::with_capacity(n)),
        }
    }

    /// Takes an idle slot: `None` when every slot holds an op that has not
    /// completed (the caller fails with `EAGAIN`).
    pub(crate) fn alloc(&self) -> Option<u32> {
        for _ in 0..ALLOC_RETRIES {
            if let Some(i) = self.free.lock().pop() {
                return Some(i);
            }
            if !self.reclaim() {
                return None;
            }
            // Some slot's callback ran but aio-core has not delivered its
            // op yet (a few instructions away), or its submitter has not
            // stored the Pending yet: try again.
            aio_core::sync::thread::yield_now();
        }
        None
    }

    /// Gives back a slot that was never submitted.
    pub(crate) fn free(&self, idx: u32) {
        self.free.lock().push(idx);
    }

    /// Moves every completed, delivered op back to the free list. Returns
    /// whether anything is (still) waiting in `done`.
    pub(crate) fn reclaim(&self) -> bool {
        let mut done = self.done.lock();
        let mut free = self.free.lock();
        done.retain(|&idx| {
            let slot = &self.slots[idx as usize];
            let Some(mut st) = slot.st.try_lock() else {
                return true; // aio_cancel holds it: later
            };
            let Some(p) = st.pending.take() else {
                return true; // the submitter has not stored it yet
            };
            match p.try_wait() {
                Ok((op, _)) => {
                    st.op = Some(op);
                    st.generation = st.generation.wrapping_add(1);
                    st.target = None;
                    st.aiocb = 0;
                    st.fd = -1;
                    free.push(idx);
                    false
                }
                Err(p) => {
                    st.pending = Some(p);
                    // Keep it for the next reclaim. Mutant: forget a slot
                    // whose op is not delivered yet; it never comes back.
                    !aio_core::sync::mutant(aio_core::sync::Mutant::SlabDropUndelivered)
                }
            }
        });
        !done.is_empty() || !free.is_empty()
    }

    /// Puts slot `idx` on `done` (the callback, K2).
    pub(crate) fn push_done(&self, idx: u32) {
        // Never allocates: `done` has room for every slot.
        self.done.lock().push(idx);
    }
}

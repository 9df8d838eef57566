//! The op slab and the completion callback (see `README.md`, "The slab"
//! and "Completion").
//!
//! Every POSIX op runs on an aio-core [`Op`] taken from a bounded slab, so
//! steady-state submission allocates nothing and the number of ops in
//! flight is bounded (`EAGAIN` past it). A slot is:
//!
//! ```text
//!   Lock order: Slab::done -> Slab::free. A slot's `st` is never taken
//!   with either held (reclaim uses try_lock), and never across a call that
//!   waits for a completion callback except by aio_cancel, whose callbacks
//!   take neither a slot lock nor block on one.
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

use aio_core::sync::atomic::{AtomicU32, Ordering as AO};
use aio_core::sync::{Arc, Mutex, UnsafeCell};
use aio_core::{Completion, Op, Pending, Target};

use crate::abi::{RawAiocb, field};
use crate::group::Group;
use crate::notify::{Deferred, Dispatcher, NEVER_SENT, Notification};
use crate::suspend::Events;

/// Retries of `alloc` while completed slots wait for delivery (loom: one,
/// to keep the model small; the model loops itself).
const ALLOC_RETRIES: usize = if cfg!(loom) { 1 } else { 1000 };

/// What the completion callback of a slot's op needs. (o)
#[derive(Debug)]
pub(crate) struct Info {
    /// The process core (slab, events, dispatcher).
    pub(crate) core: *const Core,
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

// SAFETY: `info` holds raw pointers to the caller's aiocb and to the Core,
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
                st: Mutex::new(SlotState::default()),
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
            free: Mutex::new((0..n as u32).rev().collect()),
            done: Mutex::new(Vec::with_capacity(n)),
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

    fn push_done(&self, idx: u32) {
        // Never allocates: `done` has room for every slot.
        self.done.lock().push(idx);
    }
}

/// Everything a completion callback reaches: the slab, the event word and
/// the `SIGEV_THREAD` dispatcher. Lives at a fixed address for as long as
/// any op may complete (the process-wide instance is never freed).
pub(crate) struct Core {
    pub(crate) slab: Slab,
    pub(crate) events: Events,
    pub(crate) dispatch: Dispatcher,
    /// Submits a released stream op to the service pools.
    pub(crate) resubmit: Resubmit,
}

/// How [`Core::release`] submits the next op of a stream queue: the
/// `Pending`, or the op back with the error.
pub(crate) type Resubmit = fn(Op) -> Result<Pending, (Op, aio_core::Error)>;

/// The FIFO queue of one stream (pipe, FIFO, socket, pty) in one
/// direction, or of `O_APPEND` writes to one file: at most one of its ops
/// is submitted at a time; the others wait here, in order, with their
/// `Op`. The completion of the active op releases the next (see
/// `README.md`, "Streams").
#[derive(Debug, Default)]
pub(crate) struct StreamQ {
    q: Mutex<StreamState>,
}

#[derive(Debug, Default)]
struct StreamState {
    active: bool,
    waiting: std::collections::VecDeque<(u32, Op)>,
}

impl StreamQ {
    /// Admits slot `idx`'s op: `Some(op)` if it may run now (it becomes
    /// the active op), `None` if it was queued behind the active one.
    /// Called with the slot's lock held (lock order: slot, then queue).
    pub(crate) fn admit(&self, idx: u32, op: Op) -> Option<Op> {
        let mut q = self.q.lock();
        if q.active {
            if aio_core::sync::mutant(aio_core::sync::Mutant::StreamAdmitSplit) {
                // Mutant: decide, unlock, relock, queue; the active op
                // may finish in between, find the queue empty and go idle.
                drop(q);
                q = self.q.lock();
            }
            q.waiting.push_back((idx, op));
            None
        } else {
            q.active = true;
            Some(op)
        }
    }

    /// Removes slot `idx`'s queued op (cancellation).
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn remove(&self, idx: u32) -> Option<Op> {
        let mut q = self.q.lock();
        let pos = q.waiting.iter().position(|(i, _)| *i == idx)?;
        q.waiting.remove(pos).map(|(_, op)| op)
    }

    /// The active op is done: the next one becomes active (returned), or
    /// the queue goes idle.
    fn next(&self) -> Option<(u32, Op)> {
        let mut q = self.q.lock();
        let n = q.waiting.pop_front();
        if n.is_none() {
            q.active = false;
        }
        n
    }
}

impl Core {
    /// A core with `slots` op records and up to `notify_threads`
    /// `SIGEV_THREAD` threads.
    pub(crate) fn new(slots: usize, notify_threads: usize, resubmit: Resubmit) -> Core {
        Core {
            slab: Slab::new(slots),
            events: Events::new(),
            dispatch: Dispatcher::new(notify_threads, slots),
            resubmit,
        }
    }

    /// The active op of `q` completed (or was refused): submit the next
    /// one; one the pools refuse completes at once with its error, and
    /// the one after it is tried.
    pub(crate) fn release(&self, q: &StreamQ) {
        while let Some((idx, op)) = q.next() {
            match (self.resubmit)(op) {
                Ok(p) => {
                    let mut st = self.slab.slots[idx as usize].st.lock();
                    st.pending = Some(p);
                    st.parked = None;
                    return;
                }
                Err((op, e)) => {
                    let mut st = self.slab.slots[idx as usize].st.lock();
                    self.complete_unsubmitted(&mut st, idx, op, e);
                }
            }
        }
    }

    /// Completes an op that never reached the pools (cancelled while
    /// queued in a stream queue, or refused when released), exactly as the
    /// callback would: the aiocb gets the error, sleepers wake, the
    /// notification is sent; the slot goes back to the free list. The
    /// caller holds the slot's lock (`st`).
    pub(crate) fn complete_unsubmitted(
        &self,
        st: &mut SlotState,
        idx: u32,
        op: Op,
        err: aio_core::Error,
    ) {
        let slot = &self.slab.slots[idx as usize];
        // SAFETY: the slot is held by whoever holds its parked op (us).
        let (aiocb, notify, group, generation) = slot.info.with_mut(|p| unsafe {
            let i = &mut *p;
            i.stream = None;
            (i.aiocb, i.notify, i.group.take(), i.generation)
        });
        st.op = Some(op);
        st.parked = None;
        st.target = None;
        st.aiocb = 0;
        st.fd = -1;
        st.generation = st.generation.wrapping_add(1);
        self.slab.free(idx);
        if !aiocb.is_null() {
            // SAFETY: the aiocb is valid until its error code says done;
            // this store is the last access.
            unsafe {
                field::set_ret(aiocb, -1);
                field::set_error(aiocb, err.errno(), AO::Release);
            }
        }
        self.notify_op(slot, notify, generation, group.as_deref());
        let last = group.as_ref().is_some_and(|g| g.put());
        if let Some(g) = group.as_ref().filter(|_| last) {
            g.notify.send(&self.dispatch);
        }
        self.events.signal();
    }

    /// Fills slot `idx`'s callback information. The caller holds the slot
    /// (popped it from the free list and has not submitted it).
    pub(crate) fn set_info(
        &self,
        idx: u32,
        aiocb: *mut RawAiocb,
        notify: Notification,
        group: Option<Arc<Group>>,
        stream: Option<Arc<StreamQ>>,
        generation: u32,
    ) {
        let slot = &self.slab.slots[idx as usize];
        // SAFETY: the slot is ours (legend mark o): no callback can run for
        // it until we submit it, and the previous one finished before its
        // op was delivered, which `reclaim` checked.
        slot.info.with_mut(|p| unsafe {
            *p = Info {
                core: self as *const Core,
                idx,
                aiocb,
                notify,
                group,
                stream,
                generation,
            };
        });
    }

    /// Sends an op's own notification, or holds it back in its list while
    /// the list's `lio_listio` still runs; then (or once the held-back
    /// one is sent) the slot's sent mark says so. Never blocks.
    pub(crate) fn notify_op(
        &self,
        slot: &Slot,
        notify: Notification,
        generation: u32,
        group: Option<&Group>,
    ) {
        if matches!(notify, Notification::None) {
            // Nothing to send, nothing to mark: aio_suspend checks the mark
            // only for an aiocb that asks for a notification (one RMW
            // fewer per completion for SIGEV_NONE ops).
            return;
        }
        let d = Deferred {
            notify,
            marker: &slot.sent,
            generation,
        };
        let d = match group {
            Some(g) => match g.defer(d) {
                Ok(()) => return,
                Err(d) => d,
            },
            None => d,
        };
        d.send_with(|n| n.send(&self.dispatch));
    }

    /// The `private` value that makes [`on_complete`] find slot `idx`.
    pub(crate) fn private_of(&self, idx: u32) -> usize {
        &self.slab.slots[idx as usize] as *const Slot as usize
    }
}

/// The aio-core callback of every POSIX op. In order (the aio-core
/// WARNING: the aiocb may be freed the moment its error code is stored):
///
/// 1. read everything from the slot's `info` (taking the group);
/// 2. push the slot on `done` (it is reclaimed only after aio-core
///    delivers the op, so pushing early is safe; pushing *before* 3 means
///    a program that sees the op done and submits again finds the slot
///    reclaimable, never a spurious `EAGAIN`);
/// 3. write `__return_value`, then `__error_code` with Release: the last
///    touch of the aiocb;
/// 4. drop the op's reference on its lio group (before 6, so a
///    `LIO_WAIT` caller woken in 6 sees the count);
/// 5. send the op's notification, then (last op of a list) the list's
///    (before 6, as glibc: a program woken from `aio_suspend` finds the
///    signal already queued);
/// 6. bump the event word, waking `aio_suspend` / `LIO_WAIT` sleepers;
/// 7. release the next op of its stream queue, if any (it submits to the
///    pools' queues, never to the engine running this callback).
pub(crate) fn on_complete(c: &Completion<'_>) {
    let slot = c.private() as *const Slot;
    // SAFETY: `private` is the address of a slot of a Core that outlives
    // every op it submitted (`Core::private_of`).
    let slot = unsafe { &*slot };
    // SAFETY: the callback holds the slot (mark o); reclaim waits for the
    // op's delivery, which follows this callback.
    let (core, idx, aiocb, notify, group, stream, generation) = slot.info.with_mut(|p| unsafe {
        let i = &mut *p;
        (
            i.core,
            i.idx,
            i.aiocb,
            i.notify,
            i.group.take(),
            i.stream.take(),
            i.generation,
        )
    });
    // SAFETY: the Core outlives its ops (as above).
    let core = unsafe { &*core };
    let (ret, err) = match c.result() {
        Ok(n) => (n as isize, 0),
        Err(e) => (-1, e.errno()),
    };
    core.slab.push_done(idx);
    if !aiocb.is_null() {
        // SAFETY: the caller keeps the aiocb valid until its error code
        // says the op is done; this is that store, and the last access.
        unsafe {
            field::set_ret(aiocb, ret);
            field::set_error(aiocb, err, AO::Release);
        }
    }
    // 5. notifications before waking sleepers, as glibc: a program that
    // returns from aio_suspend or LIO_WAIT finds the signal already sent
    // (held back while its lio_listio(LIO_NOWAIT) still runs).
    core.notify_op(slot, notify, generation, group.as_deref());
    let last = group.as_ref().is_some_and(|g| g.put());
    if let Some(g) = group.as_ref().filter(|_| last) {
        g.notify.send(&core.dispatch);
    }
    // 6. wake aio_suspend / LIO_WAIT sleepers.
    core.events.signal();
    // 7. the next op of the stream queue may start.
    if let Some(q) = stream {
        core.release(&q);
    }
}

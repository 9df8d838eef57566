//! The completion of an op: [`on_complete`], the aio-core callback of
//! every POSIX op, and [`Completer`], everything it reaches. The steps
//! K1–K7 are narrated once, in `README.md`
//! ([Completion](crate::protocols#completion)); the code labels them.

use aio_core::sync::Arc;
use aio_core::sync::atomic::Ordering as AO;
use aio_core::{Completion, Op, Pending};

use crate::abi::{RawAiocb, field};
use crate::group::Group;
use crate::notify::{Deferred, Dispatcher, Notification};
use crate::slab::{Info, Slab, Slot, SlotState};
use crate::stream::StreamQ;
use crate::suspend::Events;

/// Everything a completion callback reaches: the slab, the event word and
/// the `SIGEV_THREAD` dispatcher. Lives at a fixed address for as long as
/// any op may complete (the process-wide instance is never freed).
pub(crate) struct Completer {
    pub(crate) slab: Slab,
    pub(crate) events: Events,
    pub(crate) dispatch: Dispatcher,
    /// Submits a released stream op to the service pools.
    pub(crate) resubmit: Resubmit,
}

/// How [`Completer::release`] submits the next op of a stream queue: the
/// `Pending`, or the op back with the error.
pub(crate) type Resubmit = fn(Op) -> Result<Pending, (Op, aio_core::Error)>;

impl Completer {
    /// A core with `slots` op records and up to `notify_threads`
    /// `SIGEV_THREAD` threads.
    pub(crate) fn new(slots: usize, notify_threads: usize, resubmit: Resubmit) -> Completer {
        Completer {
            slab: Slab::new(slots),
            events: Events::new(),
            dispatch: Dispatcher::new(notify_threads, slots),
            resubmit,
        }
    }

    /// The active op of `q` completed (or was refused): submit the next
    /// one; one the pools refuse completes at once with its error, and
    /// the one after it is tried.
    ///
    /// The next op's slot lock is taken with `lock_nested`: when
    /// `aio_cancel` cancels a queued active op, its callback (and so this
    /// release) runs on the canceller's thread, which holds the cancelled
    /// op's slot lock. Two slot locks nest only so, the completing op's
    /// first; the other order cannot happen because whoever holds a parked
    /// op's slot lock never waits for a callback (README, "Lock order").
    pub(crate) fn release(&self, q: &StreamQ) {
        while let Some((idx, op)) = q.next() {
            match (self.resubmit)(op) {
                Ok(p) => {
                    let mut st = self.slab.slots[idx as usize].st.lock_nested();
                    st.pending = Some(p);
                    st.parked = None;
                    return;
                }
                Err((op, e)) => {
                    let mut st = self.slab.slots[idx as usize].st.lock_nested();
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
        st.home = true;
        st.target = None;
        st.aiocb = 0;
        st.fd = -1;
        self.finish_now(idx, generation, aiocb, Err(err), notify, group);
    }

    /// Completes slot `idx`'s op, which never reached the pools (its `Op`
    /// is home: [`SlotState::home`]), with `res` (a transfer finished in
    /// the submitting thread, or an error): K2, K3, K3b, K6, K4, K5 as the
    /// callback runs them. The caller holds the slot's lock, so reclaim
    /// cannot recycle it before this returns.
    pub(crate) fn finish_now(
        &self,
        idx: u32,
        generation: u32,
        aiocb: *mut RawAiocb,
        res: aio_core::Result<usize>,
        notify: Notification,
        group: Option<Arc<Group>>,
    ) {
        let slot = &self.slab.slots[idx as usize];
        let (ret, err, word) = match res {
            Ok(n) => (n as isize, 0, n as i64),
            Err(e) => (-1, e.errno(), -(e.errno() as i64)),
        };
        self.slab.push_done(idx, generation, aiocb as usize, word);
        if !aiocb.is_null() {
            // SAFETY: the aiocb is valid until its error code says done;
            // this store is the last access.
            unsafe {
                field::set_ret(aiocb, ret);
                field::set_error(aiocb, err, AO::Release);
            }
        }
        self.slab.settle(idx, generation);
        self.notify_op(slot, notify, generation, group.as_deref());
        // As in `on_complete`: behind the entries' held-back notifications.
        if let Some(g) = group.as_ref() {
            g.put_and_notify(&self.dispatch);
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
                core: (self as *const Completer).cast::<()>(),
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

/// The aio-core callback of every POSIX op: the steps K1–K7 of
/// [the completion protocol](crate::protocols#completion), narrated
/// there once; the code below labels each step.
pub(crate) fn on_complete(c: &Completion<'_>) {
    let slot = c.private() as *const Slot;
    // SAFETY: `private` is the address of a slot of a Completer that outlives
    // every op it submitted (`Completer::private_of`).
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
    // SAFETY: the Completer outlives its ops (as above).
    let core = unsafe { &*core.cast::<Completer>() };
    let (ret, err) = match c.result() {
        Ok(n) => (n as isize, 0),
        Err(e) => (-1, e.errno()),
    };
    // K2 (K1 above).
    let res = match c.result() {
        Ok(n) => n as i64,
        Err(e) => -(e.errno() as i64),
    };
    core.slab.push_done(idx, generation, aiocb as usize, res);
    if !aiocb.is_null() {
        // K3. SAFETY: the caller keeps the aiocb valid until its error
        // code says the op is done; this is that store, and the last access.
        unsafe {
            field::set_ret(aiocb, ret);
            field::set_error(aiocb, err, AO::Release);
        }
    }
    // K3b: the result may be reaped now.
    core.slab.settle(idx, generation);
    // K6, then K4 (and the list's K6): notifications before waking
    // sleepers, as glibc (held back while its lio_listio(LIO_NOWAIT)
    // still runs).
    core.notify_op(slot, notify, generation, group.as_deref());
    // The list's own: after every entry's, held back with them if they
    // still are (`Group::list_done`).
    if let Some(g) = group.as_ref() {
        g.put_and_notify(&core.dispatch);
    }
    // K5: wake aio_suspend / LIO_WAIT sleepers.
    core.events.signal();
    // K7: the next op of the stream queue may start.
    if let Some(q) = stream {
        core.release(&q);
    }
}

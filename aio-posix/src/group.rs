//! The `lio_listio` group: one counter per list, so that the list's own
//! notification (`LIO_NOWAIT`) is sent exactly once, after every op of the
//! list completed, and `LIO_WAIT` knows when to return.
//!
//! The count starts at 1, the submitter's own reference, and each op adds
//! one *before* it is submitted; each completion, and finally the
//! submitter once it has submitted the whole list, drop one with an AcqRel
//! RMW. Whoever drops the last sends the notification. Because the
//! submitter holds its reference until the end, the count cannot reach 0
//! while ops are still being added, however fast they complete (FreeBSD's
//! bug 251515 is what happens otherwise). See `README.md`, "lio_listio".

use aio_core::sync::Mutex;
use aio_core::sync::atomic::{AtomicUsize, Ordering};

use crate::notify::{Deferred, Notification};

/// One `lio_listio` call's group.
#[derive(Debug)]
pub(crate) struct Group {
    remaining: AtomicUsize,
    /// The list's notification (`Notification::None` for `LIO_WAIT`).
    pub(crate) notify: Notification,
    /// While `Some`, the list's `lio_listio(LIO_NOWAIT)` is still running:
    /// its entries' notifications are held here, to be sent from a
    /// library thread once it returned (see `README.md`, "Notification
    /// before return"). Lock: alone.
    plug: Mutex<Option<Vec<Deferred>>>,
}

impl Group {
    /// A group held only by its submitter.
    pub(crate) fn new(notify: Notification) -> Group {
        Group {
            remaining: AtomicUsize::new(1),
            notify,
            plug: Mutex::ranked(crate::lock_order::GROUP_PLUG, None),
        }
    }

    /// A group whose entries' notifications are held back until
    /// [`Group::release`] opens the plug (`LIO_NOWAIT`).
    pub(crate) fn plugged(notify: Notification) -> Group {
        Group {
            plug: Mutex::ranked(crate::lock_order::GROUP_PLUG, Some(Vec::new())),
            ..Group::new(notify)
        }
    }

    /// Holds `d` back if the list's submitter is still running; else gives
    /// it back, for the completer to send at once. Deciding and holding
    /// are one critical section, so a notification is either taken by
    /// a `release` or sent by its completer, never both, never neither.
    pub(crate) fn defer(&self, d: Deferred) -> Result<(), Deferred> {
        let mut p = self.plug.lock();
        if aio_core::sync::mutant(aio_core::sync::Mutant::PlugCheckThenPush) {
            // Mutant: decide under one lock hold, push under another; an
            // release in between takes the list, and `d` is lost.
            let plugged = p.is_some();
            drop(p);
            if !plugged {
                return Err(d);
            }
            if let Some(v) = self.plug.lock().as_mut() {
                v.push(d);
            }
            return Ok(());
        }
        match p.as_mut() {
            Some(v) => {
                v.push(d);
                Ok(())
            }
            None => Err(d),
        }
    }

    /// Takes what was held back, with `list` (the list's own notification,
    /// if the caller dropped the last reference) at its end, for the caller
    /// to send in that order. If there is nothing, the plug opens: later
    /// completions send their own. Otherwise the group stays plugged, and
    /// whoever sends the batch calls `release(None)` again afterwards,
    /// until it returns nothing: a notification kept meanwhile, the list's
    /// own included, is sent after the batch, never before it. The
    /// submitter calls it once its list is submitted; the dispatcher after
    /// each batch.
    pub(crate) fn release(&self, list: Option<Deferred>) -> Vec<Deferred> {
        let mut p = self.plug.lock();
        let Some(kept) = p.as_mut() else {
            return list.into_iter().collect();
        };
        let mut batch = std::mem::take(kept);
        batch.extend(list);
        if batch.is_empty() {
            *p = None;
        }
        batch
    }

    /// A completer dropped the last reference: the list's own notification
    /// to send now, or `None` if it was kept behind the entries' held
    /// back ones (the group is plugged), to be sent after them.
    pub(crate) fn list_done(&self) -> Option<Deferred> {
        let d = self.own_notification();
        if aio_core::sync::mutant(aio_core::sync::Mutant::ListBypassesPlug) {
            // Mutant: sent at once, even while the entries' notifications
            // are still held; it can reach the program first.
            return Some(d);
        }
        self.defer(d).err()
    }

    /// The list's own notification, as a held-back one (no sent mark).
    pub(crate) fn own_notification(&self) -> Deferred {
        Deferred {
            notify: self.notify,
            marker: std::ptr::null(),
            generation: 0,
        }
    }

    /// A completer drops its reference: if it was the last, the list's
    /// notification is sent (or kept behind held entries: `list_done`).
    pub(crate) fn put_and_notify(&self, dispatch: &crate::notify::Dispatcher) {
        if self.put()
            && let Some(d) = self.list_done()
        {
            d.send_with(|n| n.send(dispatch));
        }
    }

    /// Counts one more op; call before submitting it.
    pub(crate) fn add(&self) {
        // Relaxed: the submitter's own reference keeps the count above 0,
        // and the op is published to its completer by the submission.
        self.remaining.fetch_add(1, Ordering::Relaxed);
    }

    /// Drops one reference (an op completed, failed to submit, or the
    /// submitter is done). Returns true for the last one: the caller sends
    /// the notification.
    pub(crate) fn put(&self) -> bool {
        if aio_core::sync::mutant(aio_core::sync::Mutant::LioSplitDecrement) {
            // Mutant: check-then-act; two completers can both read 2.
            let n = self.remaining.load(Ordering::Acquire);
            aio_core::sync::thread::yield_now();
            self.remaining.store(n - 1, Ordering::Release);
            return n == 1;
        }
        // AcqRel: the last one sees every other completer's writes (their
        // aiocbs' results) before it notifies.
        self.remaining.fetch_sub(1, Ordering::AcqRel) == 1
    }

    /// Whether every reference was dropped.
    pub(crate) fn is_done(&self) -> bool {
        self.remaining.load(Ordering::Acquire) == 0
    }
}

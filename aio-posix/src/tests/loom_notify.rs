//! Notification before return (`README.md`, "Notification before
//! return"): the sent mark, and the plug of a `lio_listio(LIO_NOWAIT)`
//! group.

use aio_core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicUsize, Ordering};
use aio_core::sync::thread;
use aio_core::sync::{Arc, Mutex};

use super::model;
use crate::group::Group;
use crate::notify::{Deferred, NEVER_SENT, Notification, was_sent};

/// A completer stores the op's status (K3), sends its signal and marks
/// it sent; a sleeper that sees the status waits for the mark, and must
/// then find the signal sent. Mutant `sent-before-signal` publishes the
/// mark first: the sleeper returns with the signal unsent.
#[test]
fn loom_sent_mark_follows_the_signal() {
    model(|| {
        let status = Arc::new(AtomicI32::new(libc::EINPROGRESS));
        let signalled = Arc::new(AtomicBool::new(false));
        let mark = Arc::new(AtomicU32::new(NEVER_SENT));
        let generation = 7;
        let t = {
            let (status, signalled, mark) = (
                Arc::clone(&status),
                Arc::clone(&signalled),
                Arc::clone(&mark),
            );
            thread::spawn(move || {
                status.store(0, Ordering::Release);
                let d = Deferred {
                    notify: Notification::Signal { signo: 1, value: 0 },
                    marker: &*mark as *const AtomicU32,
                    generation,
                };
                d.send_with(|_| signalled.store(true, Ordering::Relaxed));
            })
        };
        if status.load(Ordering::Acquire) == 0 {
            while !was_sent(&mark, generation) {
                thread::yield_now();
            }
            assert!(
                signalled.load(Ordering::Relaxed),
                "aio_suspend returned before the op's signal was sent"
            );
        }
        t.join().unwrap();
    });
}

/// One entry of a plugged list completes while its submitter unplugs:
/// the entry's notification is sent exactly once, by the completer or
/// from what `unplug` took. Mutant `plug-check-then-push` loses it.
#[test]
fn loom_plug_vs_unplug() {
    model(|| {
        let g = Arc::new(Group::plugged(Notification::None));
        let sent = Arc::new(AtomicUsize::new(0));
        let mark = Arc::new(AtomicU32::new(NEVER_SENT));
        let t = {
            let (g, sent, mark) = (Arc::clone(&g), Arc::clone(&sent), Arc::clone(&mark));
            thread::spawn(move || {
                let d = Deferred {
                    notify: Notification::Signal { signo: 1, value: 0 },
                    marker: &*mark as *const AtomicU32,
                    generation: 0,
                };
                if let Err(d) = g.defer(d) {
                    d.send_with(|_| {
                        sent.fetch_add(1, Ordering::Relaxed);
                    });
                }
            })
        };
        // The submitter's release, then the dispatcher's until empty.
        let mut batch = g.release(None);
        while !batch.is_empty() {
            for d in batch {
                d.send_with(|_| {
                    sent.fetch_add(1, Ordering::Relaxed);
                });
            }
            batch = g.release(None);
        }
        t.join().unwrap();
        assert_eq!(
            sent.load(Ordering::Relaxed),
            1,
            "an entry's notification must be sent exactly once"
        );
        assert!(was_sent(&mark, 0));
    });
}

/// The last entry of a plugged list completes while its submitter
/// releases the plug and a dispatcher sends what was held: the entry's
/// notification and then the list's own are each sent once, in that
/// order, whoever sends them. (lio_listio/15-1 of the Open POSIX suite
/// counts the entries' signals when the list's arrives.)
///
/// Fails with "the list's notification came before an entry's" if the
/// completer sends the list's notification at once while the entry's is
/// still held (mutant `list-bypasses-plug`).
#[test]
fn loom_list_notification_follows_its_entries() {
    model(|| {
        let g = Arc::new(Group::plugged(Notification::Signal { signo: 2, value: 0 }));
        g.add();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mark = Arc::new(AtomicU32::new(NEVER_SENT));
        let signo = |n: &Notification| match n {
            Notification::Signal { signo, .. } => *signo as u8,
            _ => 0,
        };
        let t = {
            let (g, order, mark) = (Arc::clone(&g), Arc::clone(&order), Arc::clone(&mark));
            thread::spawn(move || {
                let d = Deferred {
                    notify: Notification::Signal { signo: 1, value: 0 },
                    marker: &*mark as *const AtomicU32,
                    generation: 0,
                };
                if let Err(d) = g.defer(d) {
                    d.send_with(|n| order.lock().push(signo(n)));
                }
                if g.put()
                    && let Some(d) = g.list_done()
                {
                    d.send_with(|n| order.lock().push(signo(n)));
                }
            })
        };
        // The submitter: its reference, then the release; the batch is
        // sent as the dispatcher would, then released again until empty.
        let own = g.put().then(|| g.own_notification());
        let mut batch = g.release(own);
        while !batch.is_empty() {
            for d in batch {
                d.send_with(|n| order.lock().push(signo(n)));
            }
            batch = g.release(None);
        }
        t.join().unwrap();
        let order = order.lock().clone();
        assert!(
            order.iter().position(|&s| s == 2) > order.iter().position(|&s| s == 1),
            "the list's notification came before an entry's"
        );
        assert_eq!(order.len(), 2, "each notification is sent once");
    });
}

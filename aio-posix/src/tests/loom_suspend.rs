//! aio_suspend's sleep against a completion (`README.md`, "aio_suspend").

use aio_core::sync::Arc;
use aio_core::sync::atomic::{AtomicI32, Ordering};
use aio_core::sync::thread;

use super::model;
use crate::suspend::Events;

/// A completer stores the aiocb's error code (Release) and signals; a
/// suspender takes a ticket, checks the code and sleeps. A lost wake-up
/// shows as a deadlock (the suspender asleep forever); mutants
/// `suspend-skip-wake` and `suspend-no-register` produce one.
#[test]
fn loom_suspend_vs_complete() {
    model(|| {
        let ev = Arc::new(Events::new());
        let code = Arc::new(AtomicI32::new(libc::EINPROGRESS));
        let (ev2, code2) = (Arc::clone(&ev), Arc::clone(&code));
        let t = thread::spawn(move || {
            code2.store(0, Ordering::Release);
            ev2.signal();
        });
        loop {
            let ticket = ev.ticket();
            if code.load(Ordering::Acquire) != libc::EINPROGRESS {
                break;
            }
            let _ = ev.wait(ticket, None);
        }
        t.join().unwrap();
    });
}

/// Two suspenders and one completion: both must wake (the completer clears
/// WAITERS and wakes everyone, so the second registrant is not lost).
#[test]
fn loom_suspend_two_waiters() {
    model(|| {
        let ev = Arc::new(Events::new());
        let code = Arc::new(AtomicI32::new(libc::EINPROGRESS));
        let waiter = |ev: Arc<Events>, code: Arc<AtomicI32>| {
            move || loop {
                let ticket = ev.ticket();
                if code.load(Ordering::Acquire) != libc::EINPROGRESS {
                    break;
                }
                let _ = ev.wait(ticket, None);
            }
        };
        let t = thread::spawn(waiter(Arc::clone(&ev), Arc::clone(&code)));
        let (ev2, code2) = (Arc::clone(&ev), Arc::clone(&code));
        let c = thread::spawn(move || {
            code2.store(0, Ordering::Release);
            ev2.signal();
        });
        waiter(ev, code)();
        t.join().unwrap();
        c.join().unwrap();
    });
}

//! Completion vs a waiter on `delivered`, and a callback vs the owner
//! reusing the op.

use super::{model, nop};
use crate::sync::thread;
use crate::{Completion, Error, Op, OpKind};

/// A servicer completes the op while the owner waits on `delivered`.
///
/// Fails if the waiter can read the result before it is published (loom
/// reports a data race on `result`: mutant `delivered-relaxed`) or sleeps
/// forever because the completer did not notify (loom reports a deadlock:
/// mutant `delivered-no-notify`).
#[test]
fn loom_complete_vs_wait() {
    model(|| {
        let mut op = Op::new(nop(), vec![0u8; 4]);
        op.prepare(OpKind::Read, 0, 4).unwrap();
        let (pending, queued) = op.enqueue();
        let servicer = thread::spawn(move || {
            let f = queued.start().unwrap();
            f.complete(Ok(3));
        });
        // `wait` registers on `delivered` unless the op is already done.
        let (op, r) = pending.wait();
        assert_eq!(r, Ok(3));
        assert_eq!(op.result(), Some(Ok(3)));
        servicer.join().unwrap();
    });
}

/// Two threads wait (one by reference, one consuming) while the servicer
/// completes: both must wake, and neither may return early.
#[test]
fn loom_complete_vs_two_waiters() {
    model(|| {
        let op = Op::new(nop(), vec![0u8; 1]);
        let (pending, queued) = op.enqueue();
        let pending = crate::sync::Arc::new(pending);
        let p2 = crate::sync::Arc::clone(&pending);
        let other = thread::spawn(move || {
            p2.wait_ref();
            assert!(p2.is_complete());
        });
        let servicer = thread::spawn(move || queued.start().unwrap().complete(Ok(1)));
        pending.wait_ref();
        assert!(pending.is_complete());
        other.join().unwrap();
        servicer.join().unwrap();
    });
}

fn reads_private(c: &Completion<'_>) {
    // Reads the op's descriptor: the owner must not have touched it yet.
    assert_eq!(c.private(), 7);
}

/// The callback reads the op while the owner waits for delivery and then
/// reuses the op at once (rewriting its private data, as a C caller would
/// free or reuse its aiocb).
///
/// Fails if delivery is announced before the callback has finished with
/// the op (loom reports a data race on the descriptor: mutant
/// `callback-after-delivery`).
#[test]
fn loom_callback_vs_owner_free() {
    model(|| {
        let mut op = Op::new(nop(), vec![0u8; 1]);
        op.set_callback(reads_private);
        op.set_private(7);
        let (pending, queued) = op.enqueue();
        let servicer = thread::spawn(move || queued.start().unwrap().complete(Ok(1)));
        let (mut op, r) = pending.wait();
        assert_eq!(r, Ok(1));
        op.set_private(8); // "free": the owner owns the record again
        servicer.join().unwrap();
    });
}

/// A cancelled op is delivered exactly like a completed one.
#[test]
fn loom_cancel_delivers_to_waiter() {
    model(|| {
        let op = Op::new(nop(), vec![0u8; 1]);
        let (pending, queued) = op.enqueue();
        let pending = crate::sync::Arc::new(pending);
        let p2 = crate::sync::Arc::clone(&pending);
        let canceller = thread::spawn(move || {
            let _ = p2.cancel();
        });
        pending.wait_ref();
        canceller.join().unwrap();
        let pending = crate::sync::Arc::try_unwrap(pending).unwrap();
        let (_, r) = pending.wait();
        assert_eq!(r, Err(Error::ECANCELED));
        drop(queued);
    });
}

/// A delivery to a registered waiter, then a synchronous run, then a new
/// submission that the owner waits for while a second servicer completes
/// it. The first delivery stamps `delivered`; the second wait must not take
/// that stamp for its own.
///
/// Fails if a wait returns on an earlier execution's stamp (mutant
/// `delivered-unstamped`, the hole `run_sync` once opened): the wait
/// returns while the op is still queued, so loom reports the owner's read
/// of `result` racing the second servicer's write, or the assertion on the
/// result fails.
#[test]
fn loom_waited_delivery_then_sync_run_then_resubmit() {
    model(|| {
        let mut op = Op::new(nop(), vec![0u8; 1]);
        op.prepare(OpKind::Read, 0, 1).unwrap();
        let (pending, queued) = op.enqueue();
        let first = thread::spawn(move || queued.start().unwrap().complete(Ok(3)));
        let (mut op, r) = pending.wait();
        assert_eq!(r, Ok(3));
        first.join().unwrap();
        assert_eq!(op.run_sync(), Ok(1));
        let (pending, queued) = op.enqueue();
        let second = thread::spawn(move || queued.start().unwrap().complete(Ok(5)));
        let (op, r) = pending.wait();
        assert_eq!(r, Ok(5), "a wait returned an earlier execution's result");
        assert_eq!(op.result(), Some(Ok(5)));
        second.join().unwrap();
    });
}

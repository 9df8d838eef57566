//! The op life cycle through the public API, on real threads.

use std::time::Duration;

use aio_core::sync::atomic::{AtomicUsize, Ordering};
use aio_core::sync::{Arc, thread};
use aio_core::{
    CancelOutcome, Completion, CompletionRing, Error, MemTarget, Op, OpKind, OpState, Target,
    into_dyn,
};

const T: Duration = Duration::from_secs(10);

fn mem(size: usize) -> (Arc<MemTarget>, Arc<dyn Target>) {
    let t = Arc::new(MemTarget::new(size));
    // A second handle to the same MemTarget, as a trait object.
    struct Shared(Arc<MemTarget>);
    impl Target for Shared {
        fn read_at(&self, b: &mut [u8], o: u64) -> aio_core::Attempt<aio_core::Result<usize>> {
            self.0.read_at(b, o)
        }
        fn write_at(&self, b: &[u8], o: u64) -> aio_core::Attempt<aio_core::Result<usize>> {
            self.0.write_at(b, o)
        }
        fn flush(&self, k: aio_core::FlushKind) -> aio_core::Attempt<aio_core::Result<()>> {
            self.0.flush(k)
        }
        fn availability(&self) -> Option<&aio_core::Availability> {
            self.0.availability()
        }
    }
    let d = into_dyn(Shared(Arc::clone(&t)));
    (t, d)
}

#[test]
fn sync_mode_round_trip_and_bounds() {
    let (_, t) = mem(8192);
    let mut op = Op::new(t, vec![7u8; 4096]);
    assert!(op.is_synchronous());
    op.prepare(OpKind::Write, 4096, 4096).unwrap();
    assert_eq!(op.run_sync(), Ok(4096));
    assert_eq!(op.state(), OpState::Done);
    assert_eq!(op.result(), Some(Ok(4096)));
    // A write crossing the end fails with ENOSPC.
    op.prepare(OpKind::Write, 8000, 4096).unwrap();
    assert_eq!(op.run_sync(), Err(Error::ENOSPC));
    // A read crossing the end is cut short; one past the end reads 0.
    op.buf_mut().fill(0);
    op.prepare(OpKind::Read, 6144, 4096).unwrap();
    assert_eq!(op.run_sync(), Ok(2048));
    assert!(op.buf()[..2048].iter().all(|&b| b == 7));
    op.prepare(OpKind::Read, 8192, 4096).unwrap();
    assert_eq!(op.run_sync(), Ok(0));
    op.prepare(OpKind::Fsync, 0, 0).unwrap();
    assert_eq!(op.run_sync(), Ok(0));
}

#[test]
fn prepare_rejects_bad_input() {
    let (_, t) = mem(4096);
    let mut op = Op::new(t, vec![0u8; 512]);
    assert_eq!(
        op.prepare(OpKind::Read, 0, 513),
        Err(Error::EINVAL),
        "buffer shorter than length"
    );
    assert_eq!(
        op.prepare(OpKind::Read, u64::MAX, 1),
        Err(Error::EINVAL),
        "offset past off_t"
    );
    assert_eq!(
        op.prepare(OpKind::Read, i64::MAX as u64, 2),
        Err(Error::EOVERFLOW)
    );
    assert_eq!(op.prepare(OpKind::Read, 0, usize::MAX), Err(Error::EINVAL));
    // The op is unchanged by a failed prepare.
    op.prepare(OpKind::Write, 100, 10).unwrap();
    assert_eq!(op.prepare(OpKind::Read, 0, 1000), Err(Error::EINVAL));
    assert_eq!((op.kind(), op.offset(), op.len()), (OpKind::Write, 100, 10));
    // Flushes ignore offset and length.
    op.prepare(OpKind::Fdatasync, u64::MAX, usize::MAX).unwrap();
    assert_eq!((op.offset(), op.len()), (0, 0));
}

#[test]
fn sync_mode_sleeps_on_available_until_released() {
    let (m, t) = mem(4096);
    m.close();
    let mut op = Op::new(t, vec![1u8; 16]);
    op.prepare(OpKind::Write, 0, 16).unwrap();
    let m2 = Arc::clone(&m);
    let opener = thread::spawn(move || {
        // Wait until the op sleeps on the target, then release it.
        let deadline = std::time::Instant::now() + T;
        while m2.availability().unwrap().waiters() == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "op never slept on `available`"
            );
            aio_core::sync::thread::sleep(Duration::from_millis(1));
        }
        m2.open();
    });
    assert_eq!(op.run_sync(), Ok(16));
    opener.join().unwrap();
    assert_eq!(&m.snapshot()[..16], &[1u8; 16]);
}

#[test]
fn busy_target_without_availability_fails_with_eagain() {
    struct AlwaysBusy;
    impl Target for AlwaysBusy {
        fn read_at(&self, _: &mut [u8], _: u64) -> aio_core::Attempt<aio_core::Result<usize>> {
            aio_core::Attempt::Busy
        }
        fn write_at(&self, _: &[u8], _: u64) -> aio_core::Attempt<aio_core::Result<usize>> {
            aio_core::Attempt::Busy
        }
        fn flush(&self, _: aio_core::FlushKind) -> aio_core::Attempt<aio_core::Result<()>> {
            aio_core::Attempt::Busy
        }
    }
    let mut op = Op::new(into_dyn(AlwaysBusy), vec![0; 8]);
    op.prepare(OpKind::Read, 0, 8).unwrap();
    assert_eq!(op.run_sync(), Err(Error::EAGAIN));
}

#[test]
fn async_completion_on_another_thread_wakes_the_waiter() {
    let (_, t) = mem(1 << 16);
    let mut op = Op::new(t, vec![9u8; 512]);
    op.prepare(OpKind::Write, 512, 512).unwrap();
    for _ in 0..100 {
        let (pending, queued) = op.enqueue();
        assert_eq!(pending.state(), OpState::Queued);
        let servicer = thread::spawn(move || {
            let mut f = queued.start().expect("not cancelled");
            let r = match f.execute() {
                aio_core::Attempt::Ready(r) => r,
                aio_core::Attempt::Busy => panic!("busy"),
            };
            f.complete(r);
        });
        assert!(pending.wait_timeout(T), "completion never delivered");
        let (back, r) = pending.wait();
        assert_eq!(r, Ok(512));
        servicer.join().unwrap();
        op = back;
    }
}

static CALLS: AtomicUsize = AtomicUsize::new(0);
fn count_cb(c: &Completion<'_>) {
    assert_eq!(c.private(), 0xfeed);
    CALLS.fetch_add(1, Ordering::Relaxed);
}

#[test]
fn callback_runs_once_before_delivery() {
    let (_, t) = mem(4096);
    let mut op = Op::new(t, vec![0; 64]);
    op.prepare(OpKind::Read, 0, 64).unwrap();
    op.set_callback(count_cb);
    op.set_private(0xfeed);
    let before = CALLS.load(Ordering::Relaxed);
    let (pending, queued) = op.enqueue();
    let mut f = queued.start().unwrap();
    let r = match f.execute() {
        aio_core::Attempt::Ready(r) => r,
        aio_core::Attempt::Busy => unreachable!(),
    };
    f.complete(r);
    // Delivered means the callback has returned.
    assert!(pending.is_complete());
    assert_eq!(CALLS.load(Ordering::Relaxed), before + 1);
    let (_, r) = pending.wait();
    assert_eq!(r, Ok(64));
}

fn panicking_cb(_: &Completion<'_>) {
    panic!("callback panics on purpose");
}

#[test]
fn panicking_callback_delivers_eio() {
    let (_, t) = mem(4096);
    let mut op = Op::new(t, vec![0; 8]);
    op.prepare(OpKind::Read, 0, 8).unwrap();
    op.set_callback(panicking_cb);
    let before = aio_core::stats::callback_panics();
    let (pending, queued) = op.enqueue();
    queued.start().unwrap().complete(Ok(8));
    let (_, r) = pending.wait();
    assert_eq!(r, Err(Error::EIO));
    assert!(aio_core::stats::callback_panics() > before);
}

#[test]
fn dropped_inflight_token_completes_with_eio() {
    let (_, t) = mem(4096);
    let op = Op::new(t, vec![0; 8]);
    let (pending, queued) = op.enqueue();
    let f = queued.start().unwrap();
    assert_eq!(pending.state(), OpState::InFlight);
    drop(f);
    let (_, r) = pending.wait();
    assert_eq!(r, Err(Error::EIO));
}

#[test]
fn cancel_outcomes() {
    let (_, t) = mem(4096);
    let op = Op::new(t, vec![0; 8]);
    // Queued: cancelled and delivered at once; the servicer's start fails.
    let (pending, queued) = op.enqueue();
    assert_eq!(pending.cancel(), CancelOutcome::Cancelled);
    assert_eq!(pending.state(), OpState::Cancelled);
    assert!(!queued.is_live());
    assert!(queued.start().is_none());
    let (op, r) = pending.wait();
    assert_eq!(r, Err(Error::ECANCELED));
    assert_eq!(op.state(), OpState::Cancelled);
    // In flight: not cancelable from outside.
    let (pending, queued) = op.enqueue();
    let f = queued.start().unwrap();
    assert_eq!(pending.cancel(), CancelOutcome::InFlight);
    // The servicer may complete it as cancelled (io_uring's ASYNC_CANCEL).
    f.complete(Err(Error::ECANCELED));
    assert_eq!(pending.state(), OpState::Cancelled);
    assert_eq!(pending.cancel(), CancelOutcome::AlreadyDone);
    let (op, _) = pending.wait();
    // A stale Queued from an earlier submission can neither start nor
    // cancel the op's next submission.
    let (p1, q1) = op.enqueue();
    assert_eq!(p1.cancel(), CancelOutcome::Cancelled);
    let (op, _) = p1.wait();
    let (p2, q2) = op.enqueue();
    assert!(!q1.is_live());
    assert_eq!(q1.cancel(), CancelOutcome::AlreadyDone);
    assert_eq!(p2.state(), OpState::Queued);
    q2.start().unwrap().complete(Ok(0));
    assert_eq!(p2.wait().1, Ok(0));
}

#[test]
fn wait_timeout_reports_not_delivered() {
    let (_, t) = mem(4096);
    let op = Op::new(t, vec![0; 8]);
    let (pending, queued) = op.enqueue();
    assert!(!pending.wait_timeout(Duration::from_millis(20)));
    queued.start().unwrap().complete(Ok(3));
    assert!(pending.wait_timeout(T));
    assert_eq!(pending.wait().1, Ok(3));
}

#[test]
fn many_waiters_share_one_pending() {
    let (_, t) = mem(4096);
    let op = Op::new(t, vec![0; 8]);
    let (pending, queued) = op.enqueue();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| assert!(pending.wait_timeout(T)));
        }
        aio_core::sync::thread::sleep(Duration::from_millis(10));
        queued.start().unwrap().complete(Ok(8));
    });
    assert_eq!(pending.wait().1, Ok(8));
}

#[test]
fn ring_delivery_carries_id_private_and_result() {
    let (_, t) = mem(4096);
    let (ring, mut reaper) = CompletionRing::new(4).unwrap();
    let mut op = Op::new(t, vec![0; 8]);
    op.prepare(OpKind::Read, 0, 8).unwrap();
    op.set_ring(Arc::clone(&ring));
    op.set_private(42);
    op.set_id(7);
    let (pending, queued) = op.enqueue();
    queued.start().unwrap().complete(Ok(8));
    let mut got = Vec::new();
    assert_eq!(reaper.reap(16, |e| got.push(e)), 1);
    assert_eq!(got[0].id, 7);
    assert_eq!(got[0].user_data, 42);
    assert_eq!(got[0].result(), Ok(8));
    assert_eq!(pending.wait().1, Ok(8));
}

#[test]
fn raw_buffer_op() {
    let (_, t) = mem(4096);
    let mut storage = vec![5u8; 100];
    // SAFETY: `storage` outlives the op and is not touched while it runs.
    let mut op = unsafe { Op::from_raw_parts(t, storage.as_mut_ptr(), storage.len()) };
    op.prepare(OpKind::Write, 0, 100).unwrap();
    assert_eq!(op.run_sync(), Ok(100));
    assert!(
        op.into_buf().is_none(),
        "a raw buffer is not the op's to give"
    );
    drop(storage);
}

#[test]
fn dropping_a_live_queued_token_cancels_the_op() {
    let (_, t) = mem(4096);
    let op = Op::new(t, vec![0; 8]);
    let before = aio_core::stats::dropped_queued();
    let (pending, queued) = op.enqueue();
    drop(queued);
    assert!(
        pending.wait_timeout(T),
        "a dropped token left its op queued forever"
    );
    let (op, r) = pending.wait();
    assert_eq!(r, Err(Error::ECANCELED));
    assert_eq!(aio_core::stats::dropped_queued(), before + 1);
    // A token whose op was already started is inert when dropped.
    let (pending, queued) = op.enqueue();
    let f = queued.start().unwrap();
    f.complete(Ok(8));
    assert_eq!(pending.wait().1, Ok(8));
}

/// Regression: a waited delivery, then a synchronous run, then a new
/// submission. The first delivery went to a registered waiter (the
/// completer stamped `delivered`); `run_sync` used to clear `WAITERS` by
/// hand and leave the flag set, so the next `wait` returned at once with
/// the *old* result while the op was still queued (and the owner's buffer
/// aliased the servicer's).
#[test]
fn a_wait_after_waited_delivery_and_sync_run_waits_for_the_new_submission() {
    let (_, t) = mem(4096);
    let mut op = Op::new(t, vec![0; 8]);
    op.prepare(OpKind::Read, 0, 8).unwrap();
    let (pending, queued) = op.enqueue();
    // Registers as a waiter while the op is queued (and times out).
    assert!(!pending.wait_timeout(Duration::from_millis(1)));
    queued.start().unwrap().complete(Ok(3)); // delivered to a waiter
    let (mut op, r) = pending.wait();
    assert_eq!(r, Ok(3));
    assert_eq!(op.run_sync(), Ok(8)); // synchronous mode
    let (pending, queued) = op.enqueue();
    assert_eq!(pending.state(), OpState::Queued);
    assert!(
        !pending.wait_timeout(Duration::from_millis(1)),
        "a wait returned while the op was still queued"
    );
    let mut f = queued.start().expect("the servicer can start it");
    f.buf_mut()[0] = 9;
    f.complete(Ok(5));
    let (op, r) = pending.wait();
    assert_eq!(r, Ok(5), "the wait returned a stale result");
    assert_eq!(op.buf()[0], 9);
}

/// Regression: a completer must never sleep on a full completion ring. A
/// one-slot ring: the first op takes the ring's only credit at submission,
/// so a second ring op is refused (or, with `enqueue`, waits) at
/// submission, and the completer of the first finishes at once although
/// nobody reaps. (Before credits, two such ops could be in flight and the
/// second completion slept in the ring until a reap.)
#[test]
fn a_full_ring_never_blocks_the_completer() {
    let (_, t) = mem(4096);
    let (ring, mut reaper) = CompletionRing::new(1).unwrap();
    let ring_op = |i| {
        let mut op = Op::new(Arc::clone(&t), vec![0; 8]);
        op.set_ring(Arc::clone(&ring));
        op.set_private(i);
        op
    };
    let (first, queued) = ring_op(0).enqueue();
    let f = queued.start().unwrap();
    let second = match ring_op(1).try_enqueue() {
        Ok(_) => panic!("a ring op was submitted without a credit"),
        Err(op) => op,
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let completer = {
        let tx = tx.clone();
        thread::spawn(move || {
            f.complete(Ok(1));
            tx.send(0).unwrap();
        })
    };
    assert_eq!(rx.recv_timeout(T), Ok(0), "the completer slept on the ring");
    completer.join().unwrap();
    assert!(first.is_complete());
    // The ring is full and unreaped: a blocking submission waits for the
    // reaper, and its own completion then never waits.
    let submitter = thread::spawn(move || {
        let (p, q) = second.enqueue();
        q.start().unwrap().complete(Ok(2));
        tx.send(1).unwrap();
        p
    });
    let mut got = Vec::new();
    while got.len() < 2 {
        let deadline = std::time::Instant::now() + T;
        assert!(
            reaper.reap_wait(4, Some(deadline), |e| got.push(e.user_data)) > 0,
            "no entry within {T:?}"
        );
    }
    assert_eq!(got, [0, 1]);
    assert_eq!(rx.recv_timeout(T), Ok(1));
    assert_eq!(submitter.join().unwrap().wait().1, Ok(2));
    assert_eq!(first.wait().1, Ok(1));
}

/// `OpWatch` answers for exactly its submission: not complete while queued
/// or in flight, complete once delivered (done or cancelled), and it stays
/// so when the record is resubmitted; a watch on the next submission is a
/// different one.
#[test]
fn op_watch_follows_one_submission() {
    fn noop(_c: &Completion<'_>) {}
    let (_, t) = mem(4096);
    let mut op = Op::new(t, vec![0u8; 8]);
    op.prepare(OpKind::Write, 0, 8).unwrap();
    op.set_callback(noop);

    let (pending, q) = op.enqueue();
    let queued_watch = q.watch();
    assert_eq!(queued_watch.key(), pending.key());
    assert!(!queued_watch.is_complete(), "complete while queued");
    let mut f = q.start().expect("not cancelled");
    let flight_watch = f.watch();
    assert_eq!(flight_watch.key(), pending.key());
    assert!(!flight_watch.is_complete(), "complete while in flight");
    let r = match f.execute() {
        aio_core::Attempt::Ready(r) => r,
        aio_core::Attempt::Busy => panic!("a MemTarget is never busy"),
    };
    f.complete(r);
    assert!(queued_watch.is_complete() && flight_watch.is_complete());
    let (op, r) = pending.wait();
    assert_eq!(r, Ok(8));

    // The next submission: the old watches stay complete; a cancelled one
    // completes its own watch.
    let (pending, q) = op.enqueue();
    let next = q.watch();
    assert_ne!(next.key(), queued_watch.key());
    assert!(queued_watch.is_complete(), "an old watch went back");
    assert!(!next.is_complete());
    assert_eq!(pending.cancel(), CancelOutcome::Cancelled);
    assert!(next.is_complete(), "a cancelled op's watch is complete");
    assert!(pending.wait_timeout(T));
    drop(q);
}

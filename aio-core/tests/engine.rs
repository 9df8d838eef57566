//! The basic engine and its doorbell on real threads.

use std::time::{Duration, Instant};

use aio_core::sync::thread;
use aio_core::{BasicEngine, Engine, Error, MemTarget, Op, into_dyn};

#[test]
fn tickets_count_ops_completed_elsewhere_and_wake_the_engine() {
    let mut engine = BasicEngine::new();
    let mut pendings = Vec::new();
    let mut devices = Vec::new();
    for i in 0..16usize {
        let op = Op::new(into_dyn(MemTarget::new(64)), vec![0; 8]);
        let (pending, queued) = op.enqueue();
        let f = queued.start().unwrap();
        let ticket = engine.ticket();
        devices.push(thread::spawn(move || {
            aio_core::sync::thread::sleep(Duration::from_millis((i % 4) as u64));
            ticket.complete(f, Ok(i));
        }));
        pendings.push(pending);
    }
    assert!(engine.in_flight() <= 16);
    let deadline = Instant::now() + Duration::from_secs(10);
    while engine.in_flight() > 0 {
        assert!(
            Instant::now() < deadline,
            "engine never saw its ops complete"
        );
        engine.wait(Some(Duration::from_millis(100))).unwrap();
    }
    for (i, p) in pendings.into_iter().enumerate() {
        assert!(
            p.is_complete(),
            "in_flight reached 0 before op {i} was delivered"
        );
        assert_eq!(p.wait().1, Ok(i));
    }
    for d in devices {
        d.join().unwrap();
    }
}

#[test]
fn a_dropped_ticket_still_counts_down_and_wakes() {
    let mut engine = BasicEngine::new();
    let waker = engine.waker();
    let t = engine.ticket();
    assert_eq!(engine.in_flight(), 1);
    drop(t);
    assert_eq!(engine.in_flight(), 0);
    // The signal from the dropped ticket is remembered: no sleep.
    let start = Instant::now();
    engine.wait(Some(Duration::from_secs(10))).unwrap();
    assert!(start.elapsed() < Duration::from_secs(10));
    // And a waker from another thread ends a wait.
    let h = thread::spawn(move || {
        aio_core::sync::thread::sleep(Duration::from_millis(20));
        waker.wake();
    });
    engine.wait(Some(Duration::from_secs(10))).unwrap();
    h.join().unwrap();
}

#[test]
fn an_abandoned_inflight_is_completed_with_eio_through_its_ticket() {
    let mut engine = BasicEngine::new();
    let op = Op::new(into_dyn(MemTarget::new(64)), vec![0; 8]);
    let (pending, queued) = op.enqueue();
    let f = queued.start().unwrap();
    let ticket = engine.ticket();
    // A device thread that panics while holding the op and its ticket.
    let h = thread::spawn(move || {
        let _keep = (f, ticket);
        panic!("device thread dies on purpose");
    });
    assert!(h.join().is_err());
    assert_eq!(engine.in_flight(), 0);
    assert_eq!(pending.wait().1, Err(Error::EIO));
}

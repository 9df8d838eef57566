//! The debug-build lock-rank check of `aio_core::sync` (NetBSD's LOCKDEBUG
//! is the model): out-of-order acquisition panics naming both locks; in-order
//! acquisition, unranked locks and re-acquisition after a condvar wait pass.
//! (An integration test, so that the check's own file imports nothing of the
//! std backend that uses it.)

#![cfg(debug_assertions)]

use aio_core::sync::{Condvar, LockRank, Mutex, thread};
use std::time::{Duration, Instant};

const OUTER: LockRank = LockRank::new(10, "test::OUTER");
const INNER: LockRank = LockRank::new(20, "test::INNER");

fn message(e: Box<dyn std::any::Any + Send>) -> String {
    e.downcast_ref::<String>().cloned().unwrap_or_default()
}

#[test]
fn in_order_passes() {
    let a = Mutex::ranked(OUTER, 1);
    let b = Mutex::ranked(INNER, 2);
    let ga = a.lock();
    let gb = b.lock();
    assert_eq!(*ga + *gb, 3);
    drop(ga); // out of order release is fine
    drop(gb);
    let _again = a.lock();
}

#[test]
fn wrong_order_panics_with_both_names() {
    let e = thread::spawn(|| {
        let a = Mutex::ranked(OUTER, ());
        let b = Mutex::ranked(INNER, ());
        let _gb = b.lock();
        let _ga = a.lock();
    })
    .join()
    .unwrap_err();
    let m = message(e);
    assert!(
        m.contains("test::OUTER") && m.contains("test::INNER"),
        "{m}"
    );
}

#[test]
fn same_rank_twice_panics() {
    let e = thread::spawn(|| {
        let a = Mutex::ranked(OUTER, ());
        let b = Mutex::ranked(OUTER, ());
        let _ga = a.lock();
        let _gb = b.lock();
    })
    .join()
    .unwrap_err();
    assert!(message(e).contains("test::OUTER"));
}

#[test]
fn lock_nested_allows_the_same_rank_only() {
    let a = Mutex::ranked(OUTER, ());
    let b = Mutex::ranked(OUTER, ());
    let ga = a.lock();
    let gb = b.lock_nested();
    drop((gb, ga));
    let e = thread::spawn(|| {
        let inner = Mutex::ranked(INNER, ());
        let outer = Mutex::ranked(OUTER, ());
        let _gi = inner.lock();
        let _go = outer.lock_nested();
    })
    .join()
    .unwrap_err();
    let m = message(e);
    assert!(m.contains("test::OUTER") && m.contains("nested"), "{m}");
}

#[test]
fn unranked_is_unchecked() {
    let a = Mutex::ranked(INNER, ());
    let b = Mutex::new(());
    let _ga = a.lock();
    let _gb = b.lock();
}

#[test]
fn condvar_wait_releases_and_retakes_the_rank() {
    let outer = Mutex::ranked(OUTER, ());
    let inner = Mutex::ranked(INNER, false);
    let cv = Condvar::new();
    let g = inner.lock();
    let (g, timed_out) = cv.wait_until(g, Instant::now() + Duration::from_millis(1));
    assert!(timed_out);
    drop(g);
    // Released for good: the outer lock may be taken, then the inner.
    let _go = outer.lock();
    let g = inner.lock();
    let (g, _) = cv.wait_until(g, Instant::now() + Duration::from_millis(1));
    drop(g);
    // After the wait the rank is held again: the outer lock is now out
    // of order under it.
    let e = thread::spawn(|| {
        let outer = Mutex::ranked(OUTER, ());
        let inner = Mutex::ranked(INNER, ());
        let cv = Condvar::new();
        let g = inner.lock();
        let (_g, _) = cv.wait_until(g, Instant::now() + Duration::from_millis(1));
        let _go = outer.lock();
    })
    .join()
    .unwrap_err();
    assert!(message(e).contains("test::OUTER"));
}

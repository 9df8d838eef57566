//! Fault: a full completion ring. Ops run through the service pools onto a
//! RAM disk (behind a DelayDevice) and deliver to a tiny
//! `aio_core::CompletionRing` whose reaper is slow or stopped: submitters
//! wait for a ring credit (the completers, pool workers or a submitter
//! running an op inline, never wait); nothing is dropped, overwritten or
//! delivered twice, and nothing hangs.

use std::time::{Duration, Instant};

use aio_core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use aio_core::sync::{Arc, thread};
use aio_core::{CompletionRing, CqEntry, Op, OpKind, Pending, Target};
use aio_pool::{PoolConfig, PoolSet, SubmitFlags, Submitted};
use blockdev::{DelayDevice, Latency, RamDisk};

const BS: usize = 512;
const HANG: Duration = Duration::from_secs(30);

fn device(blocks: u64) -> Arc<dyn Target> {
    let ram = RamDisk::new(blocks * BS as u64).unwrap();
    let d = DelayDevice::new(
        ram,
        Latency::Exponential {
            mean: Duration::from_micros(20),
        },
        5,
    )
    .unwrap();
    aio_core::into_dyn(d)
}

/// Submits op `i` (a write of block `i % blocks`, or a read) with its
/// completion going to `ring`; returns its `Pending`. `inline`: the pools
/// may run it on the submitting thread. Sleeps for a ring credit while the
/// ring has none (`SubmitFlags::WAIT`).
fn submit(
    pools: &PoolSet,
    t: &Arc<dyn Target>,
    ring: &Arc<CompletionRing>,
    i: u64,
    blocks: u64,
    inline: bool,
) -> Pending {
    let mut op = Op::new(Arc::clone(t), vec![(i % 251) as u8; BS]);
    op.set_ring(Arc::clone(ring));
    op.set_private(i as usize);
    op.set_id(i);
    let kind = if i.is_multiple_of(3) {
        OpKind::Read
    } else {
        OpKind::Write
    };
    op.prepare(kind, (i % blocks) * BS as u64, BS).unwrap();
    let flags = if inline {
        SubmitFlags::WAIT
    } else {
        SubmitFlags::WAIT | SubmitFlags::NO_INLINE
    };
    match pools.submit(op, flags) {
        Ok(Submitted::Pending(p)) => p,
        Ok(Submitted::Done(..)) => panic!("a ring op ran in synchronous mode"),
        Err(e) => panic!("submit refused with WAIT: {}", e.error),
    }
}

/// Waits for every pending op (failing the test after `HANG`) and checks
/// each result.
fn settle(pendings: Vec<Pending>) {
    for p in pendings {
        assert!(p.wait_timeout(HANG), "an op never completed: a hang");
        let (_, r) = p.wait();
        assert_eq!(r, Ok(BS));
    }
}

/// Counts the ops reaped exactly once and those reaped more than once.
fn audit(counts: &[AtomicU64]) -> (u64, u64) {
    let mut once = 0;
    let mut dup = 0;
    for c in counts {
        match c.load(Ordering::Relaxed) {
            1 => once += 1,
            0 => {}
            _ => dup += 1,
        }
    }
    (once, dup)
}

/// With the reaper stopped, no more ops complete than the ring holds: the
/// submitter waits for a ring credit instead of an entry being dropped or
/// overwritten; once the reaper runs (slowly), every op is reaped exactly
/// once.
#[test]
fn a_full_ring_makes_submitters_wait_and_drops_nothing() {
    const CAP: usize = 2;
    const N: u64 = 64;
    let t = device(N);
    let pools = Arc::new(PoolSet::new(PoolConfig::default()).unwrap());
    let (ring, mut reaper) = CompletionRing::new(CAP).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let submitter = {
        let (pools, t, ring) = (Arc::clone(&pools), Arc::clone(&t), Arc::clone(&ring));
        thread::spawn(move || {
            for i in 0..N {
                tx.send(submit(&pools, &t, &ring, i, N, false)).unwrap();
            }
        })
    };
    let mut pendings: Vec<Pending> = Vec::new();
    // Wait until the ring is full (entries are published only by pushes).
    let deadline = Instant::now() + HANG;
    loop {
        pendings.extend(rx.try_iter());
        let complete = pendings.iter().filter(|p| p.is_complete()).count();
        if complete >= CAP {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the ring never filled: {complete} ops complete"
        );
        aio_core::sync::thread::sleep(Duration::from_millis(1));
    }
    // Give the other producers every chance to (wrongly) get past a full
    // ring; however long this is, at most CAP ops may be complete, since an
    // op is delivered only after its entry is published.
    aio_core::sync::thread::sleep(Duration::from_millis(200));
    pendings.extend(rx.try_iter());
    let complete = pendings.iter().filter(|p| p.is_complete()).count();
    assert!(
        complete <= CAP,
        "{complete} ops completed past a full ring of {CAP}"
    );
    assert!(reaper.has_ready());

    // Now a slow reaper: one entry at a time, with a pause.
    let counts: Vec<AtomicU64> = (0..N).map(|_| AtomicU64::new(0)).collect();
    let mut reaped = 0u64;
    let deadline = Instant::now() + HANG;
    while reaped < N {
        assert!(
            Instant::now() < deadline,
            "only {reaped} of {N} entries reaped: a hang"
        );
        if reaper.wait(Some(Instant::now() + Duration::from_millis(100))) {
            reaped += reaper.reap(1, |e: CqEntry| {
                assert_eq!(e.result(), Ok(BS), "op {}", e.id);
                assert_eq!(
                    e.user_data, e.id,
                    "entry of op {} carries another's data",
                    e.id
                );
                counts[e.user_data as usize].fetch_add(1, Ordering::Relaxed);
            }) as u64;
            aio_core::sync::thread::sleep(Duration::from_micros(200));
        }
    }
    submitter.join().expect("submitter");
    pendings.extend(rx.try_iter());
    assert_eq!(pendings.len() as u64, N);
    settle(pendings);
    assert!(!reaper.has_ready(), "more entries than ops");
    let (once, dup) = audit(&counts);
    assert_eq!((once, dup), (N, 0), "every op reaped exactly once");
    let report = pools.shutdown(aio_pool::ShutdownMode::Drain);
    assert_eq!(report.worker_panics, 0);
}

/// Many producers (two submitting threads, every pool worker) against a
/// ring of 4 and a reaper that stalls now and then: every one of 20000 ops
/// is reaped exactly once and completes; no hang.
#[test]
fn many_producers_and_a_stalling_reaper() {
    const CAP: usize = 4;
    const N: u64 = 20_000;
    const SUBMITTERS: u64 = 2;
    let t = device(1024);
    let pools = Arc::new(PoolSet::new(PoolConfig::default()).unwrap());
    let (ring, mut reaper) = CompletionRing::new(CAP).unwrap();
    let counts: Arc<Vec<AtomicU64>> = Arc::new((0..N).map(|_| AtomicU64::new(0)).collect());
    let done = Arc::new(AtomicBool::new(false));
    let reaper_thread = {
        let counts = Arc::clone(&counts);
        let done = Arc::clone(&done);
        thread::spawn(move || {
            let mut reaped = 0u64;
            let mut bad = 0u64;
            let deadline = Instant::now() + HANG * 2;
            let mut k = 0u64;
            while reaped < N && Instant::now() < deadline && !done.load(Ordering::Relaxed) {
                k += 1;
                if k.is_multiple_of(64) {
                    // A stall: the ring fills, producers wait.
                    aio_core::sync::thread::sleep(Duration::from_millis(2));
                }
                if reaper.wait(Some(Instant::now() + Duration::from_millis(50))) {
                    reaped += reaper.reap(3, |e: CqEntry| {
                        if e.result() != Ok(BS) || e.user_data != e.id || e.id >= N {
                            bad += 1;
                        } else {
                            counts[e.id as usize].fetch_add(1, Ordering::Relaxed);
                        }
                    }) as u64;
                }
            }
            (reaped, bad, reaper.has_ready())
        })
    };
    let subs: Vec<_> = (0..SUBMITTERS)
        .map(|s| {
            let (pools, t, ring) = (Arc::clone(&pools), Arc::clone(&t), Arc::clone(&ring));
            thread::spawn(move || {
                let mut window: Vec<Pending> = Vec::new();
                for i in (s..N).step_by(SUBMITTERS as usize) {
                    window.push(submit(&pools, &t, &ring, i, 1024, true));
                    if window.len() >= 64 {
                        settle(std::mem::take(&mut window));
                    }
                }
                settle(window);
            })
        })
        .collect();
    for s in subs {
        s.join().expect("submitter");
    }
    let (reaped, bad, extra) = reaper_thread.join().expect("reaper");
    done.store(true, Ordering::Relaxed);
    let (once, dup) = audit(&counts);
    println!("ring of {CAP}: {N} ops, reaped {reaped}, once {once}, duplicated {dup}, bad {bad}");
    assert_eq!((reaped, once, dup, bad, extra), (N, N, 0, 0, false));
    let report = pools.shutdown(aio_pool::ShutdownMode::Drain);
    assert_eq!(report.worker_panics, 0);
}

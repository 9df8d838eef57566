//! DelayDevice: integrity through the delay, the submitter never sleeps,
//! completions come back out of order, the distributions, and shutdown
//! with ops waiting out their latency.

mod common;

use std::time::{Duration, Instant};

use aio_core::sync::Arc;
use aio_core::{CompletionRing, Engines, Error, OpKind, into_dyn};
use blockdev::{
    DelayDevice, Device, FileDevice, FileOptions, Latency, RamDisk, SharedDevice, UringEngine,
    XorShift,
};
use common::*;

fn uniform(lo_ms: u64, hi_ms: u64) -> Latency {
    Latency::Uniform {
        min: Duration::from_millis(lo_ms),
        max: Duration::from_millis(hi_ms),
    }
}

#[test]
fn integrity_at_depth_64_through_the_delay() {
    let t = into_dyn(DelayDevice::new(RamDisk::new(4 << 20).unwrap(), uniform(0, 2), 1).unwrap());
    integrity(&t, &mut Engines::basic(), 4096, 512, 64, 51);
    integrity(
        &t,
        &mut Engines::from(UringEngine::new(32).unwrap()),
        4096,
        512,
        64,
        52,
    );
}

#[test]
fn a_delayed_file_device_on_a_ring() {
    let f = TempFile::new("delayfile", 4 << 20);
    let d = DelayDevice::new(
        FileDevice::open(&f.path, FileOptions::new()).unwrap(),
        uniform(0, 1),
        2,
    )
    .unwrap();
    assert_eq!(d.geometry(), d.inner().geometry());
    let t = into_dyn(d);
    integrity(
        &t,
        &mut Engines::from(UringEngine::new(64).unwrap()),
        4096,
        512,
        64,
        53,
    );
}

#[test]
fn the_submitter_never_sleeps_and_the_ring_wakes_for_the_timer() {
    let t = into_dyn(
        DelayDevice::new(
            RamDisk::new(1 << 20).unwrap(),
            Latency::Fixed(Duration::from_secs(1)),
            3,
        )
        .unwrap(),
    );
    let mut e = Engines::from(UringEngine::new(16).unwrap());
    let start = Instant::now();
    let ps: Vec<_> = (0..64u64)
        .map(|i| submit(&t, &mut e, op(&t, OpKind::Write, i * 512, vec![1; 512])))
        .collect();
    let submitted = start.elapsed();
    // A submitter that slept for the latency even once would take 1 s.
    assert!(
        submitted < Duration::from_millis(500),
        "64 submissions took {submitted:?}"
    );
    assert_eq!(e.in_flight(), 64);
    // One long wait: the timer's completions (tickets) must end it through
    // the doorbell bridge and the ring's eventfd.
    while e.in_flight() == 64 {
        assert!(
            start.elapsed() < Duration::from_secs(6),
            "the ring's wait was not woken"
        );
        e.wait(Some(Duration::from_secs(10))).unwrap();
    }
    let woke = start.elapsed();
    assert!(
        woke >= Duration::from_millis(900) && woke < Duration::from_secs(6),
        "woke after {woke:?}"
    );
    let results = drain(&mut e, ps);
    assert!(start.elapsed() >= Duration::from_secs(1));
    assert!(results.iter().all(|(_, r)| *r == Ok(512)));
    assert_eq!(e.in_flight(), 0);
}

#[test]
fn completions_come_back_out_of_order() {
    let t = into_dyn(DelayDevice::new(RamDisk::new(1 << 20).unwrap(), uniform(0, 20), 4).unwrap());
    let mut e = Engines::basic();
    let (ring, mut reaper) = CompletionRing::new(256).unwrap();
    let ps: Vec<_> = (0..64u64)
        .map(|i| {
            let mut o = op(&t, OpKind::Write, i * 4096, pattern(4, i, 4096));
            o.set_ring(Arc::clone(&ring));
            o.set_private(i as usize);
            submit(&t, &mut e, o)
        })
        .collect();
    for (_, r) in drain(&mut e, ps) {
        assert_eq!(r, Ok(4096));
    }
    let mut order = Vec::new();
    reaper.reap(usize::MAX, |c| order.push(c.user_data));
    assert_eq!(order.len(), 64);
    assert!(order.windows(2).any(|w| w[0] > w[1]), "in order: {order:?}");
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        (0..64).collect::<Vec<u64>>(),
        "each op completed once"
    );
    let mut b = vec![0; 4096];
    for i in 0..64u64 {
        assert_eq!(
            t.read_at(&mut b[..], i * 4096),
            aio_core::Attempt::Ready(Ok(4096))
        );
        assert_eq!(checksum(&b), checksum(&pattern(4, i, 4096)));
    }
}

#[test]
fn distributions_are_seeded_and_have_their_shape() {
    let n = 20_000;
    let mut r = XorShift::new(99);
    let fixed = Latency::Fixed(Duration::from_micros(250));
    assert!((0..100).all(|_| fixed.sample(&mut r) == Duration::from_micros(250)));
    let u = uniform(2, 6);
    let xs: Vec<f64> = (0..n)
        .map(|_| u.sample(&mut r).as_secs_f64() * 1e3)
        .collect();
    assert!(xs.iter().all(|&x| (2.0..=6.0).contains(&x)));
    let mean = xs.iter().sum::<f64>() / n as f64;
    assert!((mean - 4.0).abs() < 0.1, "uniform mean {mean}");
    let ex = Latency::Exponential {
        mean: Duration::from_millis(3),
    };
    let ys: Vec<f64> = (0..n)
        .map(|_| ex.sample(&mut r).as_secs_f64() * 1e3)
        .collect();
    let mean = ys.iter().sum::<f64>() / n as f64;
    assert!((mean - 3.0).abs() < 0.15, "exponential mean {mean}");
    // Memoryless shape: about e^-1 of the samples exceed the mean.
    let above = ys.iter().filter(|&&y| y > 3.0).count() as f64 / n as f64;
    assert!((above - (-1f64).exp()).abs() < 0.02, "tail {above}");
    let (mut a, mut b) = (XorShift::new(5), XorShift::new(5));
    assert!((0..100).all(|_| ex.sample(&mut a) == ex.sample(&mut b)));
}

#[test]
fn shutdown_releases_held_ops_at_once() {
    let d = Arc::new(
        DelayDevice::new(
            RamDisk::new(1 << 20).unwrap(),
            Latency::Fixed(Duration::from_secs(60)),
            6,
        )
        .unwrap(),
    );
    let t = SharedDevice::target(&d);
    let mut e = Engines::basic();
    let ps: Vec<_> = (0..32u64)
        .map(|i| submit(&t, &mut e, op(&t, OpKind::Write, i * 512, vec![2; 512])))
        .collect();
    aio_core::sync::thread::sleep(Duration::from_millis(20));
    assert!(ps.iter().all(|p| !p.is_complete()));
    let start = Instant::now();
    d.shutdown();
    let late = submit(&t, &mut e, op(&t, OpKind::Read, 0, vec![0; 512]));
    for (_, r) in drain_within(&mut e, ps, Duration::from_secs(5)) {
        assert_eq!(r, Ok(512));
    }
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(drain(&mut e, vec![late])[0].1, Err(Error::ECANCELED));
    assert_eq!(e.in_flight(), 0);
}

#[test]
fn absurd_latencies_do_not_panic() {
    let mut r = XorShift::new(1);
    for l in [
        Latency::Exponential {
            mean: Duration::MAX,
        },
        Latency::Uniform {
            min: Duration::MAX,
            max: Duration::ZERO,
        },
        Latency::Fixed(Duration::MAX),
    ] {
        let _ = l.sample(&mut r);
    }
    let d = Arc::new(
        DelayDevice::new(
            RamDisk::new(4096).unwrap(),
            Latency::Fixed(Duration::MAX),
            1,
        )
        .unwrap(),
    );
    let t = SharedDevice::target(&d);
    let mut e = Engines::basic();
    let p = submit(&t, &mut e, op(&t, OpKind::Write, 0, vec![1; 16]));
    d.shutdown();
    assert_eq!(drain(&mut e, vec![p])[0].1, Ok(16));
}

/// The last reference to a delay device can be dropped on its own timer
/// thread (by a detached op completing there): no deadlock, no crash.
#[test]
fn the_last_reference_dropped_on_the_timer_thread() {
    let d = Arc::new(DelayDevice::new(RamDisk::new(1 << 20).unwrap(), uniform(1, 5), 9).unwrap());
    let t = SharedDevice::target(&d);
    drop(d);
    let (ring, mut reaper) = CompletionRing::new(256).unwrap();
    let mut e = Engines::basic();
    for i in 0..64u64 {
        let mut o = op(&t, OpKind::Write, i * 512, vec![1; 512]);
        o.set_ring(Arc::clone(&ring));
        drop(submit(&t, &mut e, o));
    }
    drop(t);
    let mut got = 0;
    let deadline = Instant::now() + TIMEOUT;
    while got < 64 {
        assert!(
            Instant::now() < deadline,
            "{got} of 64 detached ops completed"
        );
        got += reaper.reap(64, |c| assert_eq!(c.res, 512));
        let _ = reaper.wait(Some(Instant::now() + Duration::from_millis(20)));
    }
}

#[test]
fn an_op_waiting_out_its_latency_can_be_cancelled() {
    let d = Arc::new(
        DelayDevice::new(
            RamDisk::new(1 << 20).unwrap(),
            Latency::Fixed(Duration::from_secs(60)),
            7,
        )
        .unwrap(),
    );
    let t = SharedDevice::target(&d);
    let mut e = Engines::basic();
    let o = op(&t, OpKind::Write, 0, vec![1; 512]);
    let p = submit(&t, &mut e, o);
    let key = p.key();
    let other = submit(&t, &mut e, op(&t, OpKind::Write, 512, vec![1; 512]));
    let s = t.strategy().unwrap();
    assert_eq!(s.cancel(key, &mut e), aio_core::CancelOutcome::Cancelled);
    assert!(p.is_complete());
    assert_eq!(p.wait().1, Err(Error::ECANCELED));
    assert_eq!(
        s.cancel(key, &mut e),
        aio_core::CancelOutcome::InFlight,
        "already taken"
    );
    assert!(!other.is_complete(), "only the named op was cancelled");
    assert_eq!(e.in_flight(), 1);
    d.shutdown();
    assert_eq!(drain(&mut e, vec![other])[0].1, Ok(512));
}

/// Two ops with one user id wait out their latency; a cancel names the
/// second by its key and must take that one only (ids are user data, keys
/// are the protocol's).
#[test]
fn a_cancel_takes_the_op_it_names_not_another_with_its_id() {
    let d = Arc::new(
        DelayDevice::new(
            RamDisk::new(1 << 20).unwrap(),
            Latency::Fixed(Duration::from_secs(60)),
            7,
        )
        .unwrap(),
    );
    let t = SharedDevice::target(&d);
    let mut e = Engines::basic();
    let mut ops = (0..2u64).map(|i| {
        let mut o = op(&t, OpKind::Write, i * 512, vec![1; 512]);
        o.set_id(42);
        o
    });
    let first = submit(&t, &mut e, ops.next().unwrap());
    let second = submit(&t, &mut e, ops.next().unwrap());
    let s = t.strategy().unwrap();
    assert_eq!(
        s.cancel(second.key(), &mut e),
        aio_core::CancelOutcome::Cancelled
    );
    assert_eq!(second.wait().1, Err(Error::ECANCELED));
    assert!(
        !first.is_complete(),
        "the cancel took another op with its id"
    );
    d.shutdown();
    assert_eq!(drain(&mut e, vec![first])[0].1, Ok(512));
}

//! NbdDevice against a real qemu-nbd: integrity at depth over a Unix socket
//! and TCP, out-of-order completion, bounds, synchronous mode, a refused
//! export, a server that dies with requests in flight, and shutdown.

mod common;

use std::time::{Duration, Instant};

use aio_core::sync::Arc;
use aio_core::{Attempt, Engines, Error, OpKind, into_dyn};
use blockdev::{Device, NbdDevice, SharedDevice, UringEngine};
use common::*;

const SIZE: u64 = 16 << 20;

fn connect(s: &QemuNbd) -> NbdDevice {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = match (&s.socket, s.port) {
            (Some(p), _) => NbdDevice::connect_unix(p, &s.export),
            (None, Some(port)) => NbdDevice::connect_tcp(("127.0.0.1", port), &s.export),
            _ => unreachable!(),
        };
        match r {
            Ok(d) => return d,
            // The readiness probe may still hold the server's only slot.
            Err(e) if Instant::now() < deadline && e != Error::ENOENT => {
                aio_core::sync::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => panic!("connect: {e}"),
        }
    }
}

#[test]
fn integrity_at_depth_64_over_a_unix_socket() {
    let s = QemuNbd::unix(SIZE, "disk");
    let d = connect(&s);
    assert_eq!(d.geometry().capacity, SIZE);
    assert_eq!(d.name(), "nbd:disk");
    let t = into_dyn(d);
    let mut e = Engines::basic();
    integrity(&t, &mut e, 4096, 2048, 64, 41);
    integrity(&t, &mut e, 65536, 128, 128, 42);
}

#[test]
fn integrity_at_depth_64_over_tcp_on_a_uring_engine() {
    let s = QemuNbd::tcp(SIZE, "tcpdisk");
    let t = into_dyn(connect(&s));
    // Tickets of a device thread wake a ring's wait (the doorbell bridge).
    let mut e = Engines::from(UringEngine::new(64).unwrap());
    integrity(&t, &mut e, 4096, 1024, 64, 43);
}

#[test]
fn replies_complete_out_of_order_and_match_their_requests() {
    let s = QemuNbd::unix(SIZE, "ooo");
    let t = into_dyn(connect(&s));
    let mut e = Engines::basic();
    // Distinct contents per block, so a mismatched cookie shows.
    let ps: Vec<_> = (0..256u64)
        .map(|b| {
            submit(
                &t,
                &mut e,
                op(&t, OpKind::Write, b * 4096, pattern(6, b, 4096)),
            )
        })
        .collect();
    drain(&mut e, ps);
    // Mixed sizes in flight together: big reads, small reads, flushes.
    let mut batch = || {
        let (ring, mut reaper) = aio_core::CompletionRing::new(1024).unwrap();
        let mut ps = Vec::new();
        for i in 0..128u64 {
            let (off, len) = if i % 2 == 0 {
                (0, 1 << 20)
            } else {
                ((i % 256) * 4096, 4096)
            };
            let mut o = op(&t, OpKind::Read, off, vec![0; len]);
            o.set_ring(Arc::clone(&ring));
            o.set_private(i as usize);
            ps.push(submit(&t, &mut e, o));
            if i % 16 == 0 {
                ps.push(submit(&t, &mut e, op(&t, OpKind::Fsync, 0, vec![])));
            }
        }
        let done = drain(&mut e, ps);
        let mut order = Vec::new();
        reaper.reap(usize::MAX, |c| order.push(c.user_data));
        assert_eq!(order.len(), 128);
        for (o, r) in &done {
            match o.kind() {
                OpKind::Read => {
                    assert_eq!(*r, Ok(o.len()));
                    let first = o.offset() / 4096;
                    for (k, chunk) in o.buf()[..o.len()].chunks(4096).enumerate() {
                        assert_eq!(
                            checksum(chunk),
                            checksum(&pattern(6, first + k as u64, 4096))
                        );
                    }
                }
                _ => assert_eq!(*r, Ok(0)),
            }
        }
        order
    };
    // Small reads submitted after big ones overtake them at least once
    // (qemu-nbd serves requests concurrently; three tries make a server
    // that happened to answer one batch in order not fail the test).
    let overtaken = (0..3).any(|_| batch().windows(2).any(|w| w[0] > w[1]));
    assert!(
        overtaken,
        "completions came back strictly in submission order"
    );
}

#[test]
fn bounds_zero_length_and_synchronous_mode() {
    let s = QemuNbd::unix(1 << 20, "small");
    let t = into_dyn(connect(&s));
    let mut e = Engines::basic();
    let ps = vec![
        submit(
            &t,
            &mut e,
            op(&t, OpKind::Read, (1 << 20) - 512, vec![0; 4096]),
        ),
        submit(&t, &mut e, op(&t, OpKind::Read, 1 << 20, vec![0; 4096])),
        submit(&t, &mut e, op(&t, OpKind::Write, 1 << 20, vec![1; 512])),
        submit(
            &t,
            &mut e,
            op(&t, OpKind::Write, (1 << 20) - 1, vec![1; 512]),
        ),
        submit(&t, &mut e, op(&t, OpKind::Read, 0, vec![])),
        submit(&t, &mut e, op(&t, OpKind::Fdatasync, 0, vec![])),
    ];
    let r: Vec<_> = drain(&mut e, ps).into_iter().map(|(_, r)| r).collect();
    assert_eq!(
        r,
        vec![Ok(512), Ok(0), Err(Error::ENOSPC), Ok(1), Ok(0), Ok(0)]
    );
    // Synchronous mode blocks the caller until the reply: run it under a
    // deadline.
    let t2 = Arc::clone(&t);
    let (w, r, b, f) = within_deadline(move || {
        let w = t2.write_at(b"sync mode", 4096);
        let mut b = [0u8; 9];
        let r = t2.read_at(&mut b, 4096);
        let f = t2.flush(aio_core::FlushKind::Full);
        (w, r, b, f)
    });
    assert_eq!(w, Attempt::Ready(Ok(9)));
    assert_eq!(r, Attempt::Ready(Ok(9)));
    assert_eq!(&b, b"sync mode");
    assert_eq!(f, Attempt::Ready(Ok(())));
}

#[test]
fn a_refused_export_is_enoent() {
    let s = QemuNbd::unix(1 << 20, "right-name");
    let deadline = Instant::now() + Duration::from_secs(10);
    let err = loop {
        match NbdDevice::connect_unix(s.socket.as_ref().unwrap(), "wrong-name") {
            Err(Error::ENOENT) => break Error::ENOENT,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                aio_core::sync::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => break e,
            Ok(_) => panic!("the server accepted an export it does not have"),
        }
    };
    assert_eq!(err, Error::ENOENT);
    let missing = scratch_dir().join("blockdev-no-such.sock");
    assert_eq!(
        NbdDevice::connect_unix(&missing, "x").unwrap_err(),
        Error::ENOENT
    );
}

#[test]
fn a_dead_server_fails_every_request_with_eio() {
    let mut s = QemuNbd::unix(SIZE, "dies");
    let d = Arc::new(connect(&s));
    let t = SharedDevice::target(&d);
    let mut e = Engines::basic();
    let ps: Vec<_> = (0..256u64)
        .map(|i| {
            submit(
                &t,
                &mut e,
                op(&t, OpKind::Read, (i % 200) * 65536, vec![0; 65536]),
            )
        })
        .collect();
    s.kill();
    for (_, r) in drain(&mut e, ps) {
        assert!(r == Ok(65536) || r == Err(Error::EIO), "{r:?}");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !d.is_disconnected() {
        assert!(
            Instant::now() < deadline,
            "the reader did not notice the server died"
        );
        aio_core::sync::thread::sleep(Duration::from_millis(10));
    }
    let late = submit(&t, &mut e, op(&t, OpKind::Write, 0, vec![1; 512]));
    assert!(
        late.is_complete(),
        "a request on a dead connection completes at once"
    );
    assert_eq!(late.wait().1, Err(Error::EIO));
    assert_eq!(e.in_flight(), 0);
}

#[test]
fn shutdown_with_requests_in_flight_cancels_them_and_never_hangs() {
    let s = QemuNbd::tcp(SIZE, "bye");
    let d = Arc::new(connect(&s));
    let t = SharedDevice::target(&d);
    let mut e = Engines::basic();
    let ps: Vec<_> = (0..256u64)
        .map(|i| {
            submit(
                &t,
                &mut e,
                op(&t, OpKind::Write, i * 65536 % SIZE, vec![7; 65536]),
            )
        })
        .collect();
    d.shutdown();
    let late = submit(&t, &mut e, op(&t, OpKind::Read, 0, vec![0; 512]));
    for (_, r) in drain(&mut e, ps) {
        assert!(r == Ok(65536) || r == Err(Error::ECANCELED), "{r:?}");
    }
    assert_eq!(drain(&mut e, vec![late])[0].1, Err(Error::ECANCELED));
    // Dropping joins the device's threads; it must not hang either.
    drop(t);
    let start = Instant::now();
    let Ok(d) = Arc::try_unwrap(d) else {
        panic!("the test holds the only reference")
    };
    drop(d);
    assert!(start.elapsed() < Duration::from_secs(5));
}

/// Detached ops hold the last reference to the device, so the device is
/// dropped on its own reader thread when the last one completes: that must
/// neither deadlock (the reader cannot join itself) nor crash.
#[test]
fn the_last_reference_dropped_on_the_reader_thread() {
    let s = QemuNbd::unix(SIZE, "lastref");
    let d = Arc::new(connect(&s));
    let t = SharedDevice::target(&d);
    drop(d);
    let (ring, mut reaper) = aio_core::CompletionRing::new(256).unwrap();
    let mut e = Engines::basic();
    for i in 0..64u64 {
        let mut o = op(&t, OpKind::Read, i * 4096, vec![0; 4096]);
        o.set_ring(Arc::clone(&ring));
        drop(submit(&t, &mut e, o)); // detached
    }
    drop(t);
    let mut got = 0;
    let deadline = Instant::now() + TIMEOUT;
    while got < 64 {
        assert!(
            Instant::now() < deadline,
            "{got} of 64 detached ops completed"
        );
        got += reaper.reap(64, |c| assert_eq!(c.res, 4096));
        let _ = reaper.wait(Some(Instant::now() + Duration::from_millis(20)));
    }
    let deadline = Instant::now() + TIMEOUT;
    while e.in_flight() > 0 {
        assert!(Instant::now() < deadline, "tickets never came back");
        e.wait(Some(Duration::from_millis(20))).unwrap();
    }
}

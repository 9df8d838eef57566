//! RamDisk: integrity at depth, bounds, bad input, try_nowait, shutdown,
//! and concurrent use from many threads.

mod common;

use std::time::{Duration, Instant};

use aio_core::sync::{Arc, thread};
use aio_core::{Engines, Error, Op, OpKind, into_dyn};
use blockdev::{Device, RamDisk, RamDiskOptions, SharedDevice};
use common::*;

#[test]
fn integrity_at_depth_64_and_256() {
    let t = into_dyn(RamDisk::new(8 << 20).unwrap());
    let mut e = Engines::basic();
    integrity(&t, &mut e, 4096, 2048, 64, 1);
    integrity(&t, &mut e, 512, 4096, 256, 2);
    // Blocks that straddle the 64 KiB lock regions.
    let t = into_dyn(
        RamDisk::with_options(RamDiskOptions {
            shard_size: 4096,
            ..RamDiskOptions::new(1 << 20)
        })
        .unwrap(),
    );
    integrity(&t, &mut e, 12288, 80, 64, 3);
}

#[test]
fn reads_at_and_past_the_end_are_cut_like_a_block_device() {
    let d = RamDisk::new(10_000).unwrap();
    assert_eq!(d.geometry().capacity, 10_000);
    let t = into_dyn(d);
    let mut e = Engines::basic();
    let ps = vec![
        submit(&t, &mut e, op(&t, OpKind::Read, 9_000, vec![0; 4096])),
        submit(&t, &mut e, op(&t, OpKind::Read, 10_000, vec![0; 4096])),
        submit(&t, &mut e, op(&t, OpKind::Read, 1 << 40, vec![0; 4096])),
        submit(&t, &mut e, op(&t, OpKind::Write, 10_000, vec![1; 512])),
        submit(&t, &mut e, op(&t, OpKind::Write, 9_999, vec![1; 512])),
        submit(
            &t,
            &mut e,
            op(&t, OpKind::Write, u64::MAX / 4, vec![1; 512]),
        ),
    ];
    let r: Vec<_> = drain(&mut e, ps).into_iter().map(|(_, r)| r).collect();
    assert_eq!(
        r,
        vec![
            Ok(1000),
            Ok(0),
            Ok(0),
            Err(Error::ENOSPC),
            Ok(1),
            Err(Error::ENOSPC)
        ]
    );
}

#[test]
fn zero_length_and_short_buffers() {
    let t = into_dyn(RamDisk::new(1 << 16).unwrap());
    let mut e = Engines::basic();
    let ps = vec![
        submit(&t, &mut e, op(&t, OpKind::Read, 0, vec![])),
        submit(&t, &mut e, op(&t, OpKind::Write, 1 << 20, vec![])),
        submit(&t, &mut e, op(&t, OpKind::Fsync, 0, vec![])),
        submit(&t, &mut e, op(&t, OpKind::Fdatasync, 0, vec![])),
    ];
    let r: Vec<_> = drain(&mut e, ps).into_iter().map(|(_, r)| r).collect();
    assert_eq!(r, vec![Ok(0), Ok(0), Ok(0), Ok(0)]);
    // A buffer shorter than the length never reaches the device.
    let mut o = Op::new(Arc::clone(&t), vec![0; 10]);
    assert_eq!(o.prepare(OpKind::Read, 0, 11), Err(Error::EINVAL));
}

#[test]
fn synchronous_mode_runs_on_the_caller() {
    let t = into_dyn(RamDisk::new(1 << 16).unwrap());
    let mut o = op(&t, OpKind::Write, 100, b"hello".to_vec());
    assert_eq!(o.run_sync(), Ok(5));
    o.set_buf(vec![0; 5]);
    o.prepare(OpKind::Read, 100, 5).unwrap();
    assert_eq!(o.run_sync(), Ok(5));
    assert_eq!(o.buf(), b"hello");
}

#[test]
fn try_nowait_completes_inline() {
    let t = into_dyn(RamDisk::new(1 << 16).unwrap());
    let o = op(&t, OpKind::Write, 0, vec![7; 100]);
    let (p, q) = o.enqueue();
    assert!(t.strategy().unwrap().try_nowait(q.start().unwrap()).is_ok());
    assert!(p.is_complete());
    assert_eq!(p.wait().1, Ok(100));
}

#[test]
fn shutdown_cancels_new_ops() {
    let d = Arc::new(RamDisk::new(1 << 16).unwrap());
    let t = SharedDevice::target(&d);
    let mut e = Engines::basic();
    let before = submit(&t, &mut e, op(&t, OpKind::Write, 0, vec![1; 10]));
    d.shutdown();
    let after = submit(&t, &mut e, op(&t, OpKind::Read, 0, vec![0; 10]));
    let r: Vec<_> = drain(&mut e, vec![before, after])
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    assert_eq!(r, vec![Ok(10), Err(Error::ECANCELED)]);
}

#[test]
fn threads_writing_disjoint_regions_all_land() {
    let t = into_dyn(RamDisk::new(16 << 20).unwrap());
    let threads = 4u64;
    let per = 1024u64;
    let hs: Vec<_> = (0..threads)
        .map(|i| {
            let t = Arc::clone(&t);
            thread::spawn(move || {
                let mut e = Engines::basic();
                for round in 0..per / 64 {
                    let ps: Vec<_> = (0..64)
                        .map(|k| {
                            let b = i * per + round * 64 + k;
                            submit(
                                &t,
                                &mut e,
                                op(&t, OpKind::Write, b * 4096, pattern(9, b, 4096)),
                            )
                        })
                        .collect();
                    for (_, r) in drain(&mut e, ps) {
                        assert_eq!(r, Ok(4096));
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + TIMEOUT;
    for h in hs {
        while !h.is_finished() {
            assert!(Instant::now() < deadline, "writer threads timed out");
            aio_core::sync::thread::sleep(Duration::from_millis(5));
        }
        h.join().unwrap();
    }
    let mut buf = vec![0; 4096];
    for b in 0..threads * per {
        assert_eq!(
            t.read_at(&mut buf, b * 4096),
            aio_core::Attempt::Ready(Ok(4096))
        );
        assert_eq!(checksum(&buf), checksum(&pattern(9, b, 4096)), "block {b}");
    }
}

#[test]
fn bad_options_are_rejected() {
    let o = RamDiskOptions {
        block_size: 1000,
        ..RamDiskOptions::new(4096)
    };
    assert_eq!(RamDisk::with_options(o).unwrap_err(), Error::EINVAL);
    let o = RamDiskOptions {
        shard_size: 256,
        ..RamDiskOptions::new(4096)
    };
    assert_eq!(RamDisk::with_options(o).unwrap_err(), Error::EINVAL);
}

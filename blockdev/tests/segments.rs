//! Segmented op buffers ([`IoBuf::from_segments`]) on every device: a
//! 3-segment write then a 3-segment read, of odd sizes (1, 4095 and 4100
//! bytes), each served as one request (the count is the whole transfer's),
//! and a short read at the end of the device that stops inside a segment.
//! Devices: RamDisk; FileDevice through io_uring, through the pool (forced
//! fallback, on a ring and on a basic engine) and through `try_nowait`;
//! NbdDevice against a real qemu-nbd; a pipe through FileDevice (the
//! readiness waiter, both engines, with short writes that stop mid-segment);
//! and the fault wrapper cutting a segmented transfer short.

mod common;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use aio_core::sync::{Arc, thread};
use aio_core::{Engines, Error, IoBuf, Op, OpKind, Result, Target, into_dyn};
use blockdev::{
    Device, Fault, FaultDevice, FaultPolicy, FileDevice, FileOptions, NbdDevice, RamDisk,
    SharedDevice, UringEngine,
};
use common::*;

const SIZES: [usize; 3] = [1, 4095, 4100];
const TOTAL: usize = 1 + 4095 + 4100;

/// Memory for a segmented op: the test keeps it (and looks at it once
/// the op is gone); the op gets `iovec`s pointing into it.
struct Backing(Vec<Vec<u8>>);

impl Backing {
    fn zeroed(sizes: &[usize]) -> Backing {
        Backing(sizes.iter().map(|&n| vec![0; n]).collect())
    }

    /// `data` split into segments of `sizes`.
    fn split(data: &[u8], sizes: &[usize]) -> Backing {
        let mut at = 0;
        Backing(
            sizes
                .iter()
                .map(|&n| {
                    at += n;
                    data[at - n..at].to_vec()
                })
                .collect(),
        )
    }

    fn joined(&self) -> Vec<u8> {
        self.0.concat()
    }

    /// An op over these segments, prepared for their whole length.
    fn op(&mut self, t: &Arc<dyn Target>, kind: OpKind, offset: u64) -> Op {
        let iov: Vec<libc::iovec> = self
            .0
            .iter_mut()
            .map(|s| libc::iovec {
                iov_base: s.as_mut_ptr().cast(),
                iov_len: s.len(),
            })
            .collect();
        let len = iov.iter().map(|s| s.iov_len).sum();
        // SAFETY: every caller keeps `self` alive and untouched until the
        // op is dropped (after its delivery); the segments do not overlap.
        let buf = unsafe { IoBuf::from_segments(iov) };
        assert!(buf.is_segmented());
        let mut op = Op::with_io_buf(Arc::clone(t), buf);
        op.prepare(kind, offset, len).unwrap();
        op
    }
}

/// Submits `op` and waits for it; returns the result (the op is dropped,
/// so its segments are the test's again).
fn run(t: &Arc<dyn Target>, e: &mut Engines, op: Op) -> Result<usize> {
    let p = submit(t, e, op);
    let (op, r) = drain(e, vec![p]).pop().unwrap();
    drop(op);
    r
}

/// A contiguous read of `len` bytes at `offset`.
fn read_plain(t: &Arc<dyn Target>, e: &mut Engines, offset: u64, len: usize) -> Vec<u8> {
    let p = submit(t, e, op(t, OpKind::Read, offset, vec![0; len]));
    let (op, r) = drain(e, vec![p]).pop().unwrap();
    assert_eq!(r, Ok(len));
    op.buf().to_vec()
}

/// The whole check on a seekable device of `capacity` bytes.
fn write_read_and_short(t: &Arc<dyn Target>, e: &mut Engines, capacity: u64, seed: u64) {
    let off = 12_345;
    let data = pattern(seed, 0, TOTAL);
    let mut w = Backing::split(&data, &SIZES);
    let o = w.op(t, OpKind::Write, off);
    assert_eq!(run(t, e, o), Ok(TOTAL), "one 3-segment write");
    assert_eq!(
        read_plain(t, e, off, TOTAL),
        data,
        "the segments, in order, at the op's offset"
    );
    let mut r = Backing::zeroed(&SIZES);
    let o = r.op(t, OpKind::Read, off);
    assert_eq!(run(t, e, o), Ok(TOTAL), "one 3-segment read");
    assert_eq!(r.joined(), data);
    assert_eq!(r.0[0], data[..1]);
    assert_eq!(r.0[2], data[4096..]);

    // The end of the device: the last 2,000 bytes fill the first segment
    // and 1,999 bytes of the second; the third is untouched.
    let tail = pattern(seed, 1, 2000);
    let p = submit(t, e, op(t, OpKind::Write, capacity - 2000, tail.clone()));
    assert_eq!(drain(e, vec![p])[0].1, Ok(2000));
    let mut r = Backing::zeroed(&SIZES);
    let o = r.op(t, OpKind::Read, capacity - 2000);
    assert_eq!(run(t, e, o), Ok(2000), "cut short at the end");
    assert_eq!(r.0[0], tail[..1]);
    assert_eq!(r.0[1][..1999], tail[1..]);
    assert!(r.0[1][1999..].iter().all(|&b| b == 0));
    assert!(r.0[2].iter().all(|&b| b == 0));
}

fn uring() -> Engines {
    Engines::new(Box::new(
        UringEngine::new(32).expect("io_uring on the test machines"),
    ))
}

#[test]
fn ramdisk() {
    let t = into_dyn(RamDisk::new(1 << 20).unwrap());
    write_read_and_short(&t, &mut Engines::basic(), 1 << 20, 1);
}

#[test]
fn ramdisk_with_small_shards() {
    // Segments that cross shard boundaries, and a shard boundary inside a
    // segment.
    let d = RamDisk::with_options(blockdev::RamDiskOptions {
        shard_size: 4096,
        ..blockdev::RamDiskOptions::new(1 << 16)
    })
    .unwrap();
    write_read_and_short(&into_dyn(d), &mut Engines::basic(), 1 << 16, 2);
}

#[test]
fn file_device_through_io_uring() {
    let f = TempFile::new("segs-uring", 1 << 20);
    let t = into_dyn(FileDevice::open(&f.path, FileOptions::new()).unwrap());
    write_read_and_short(&t, &mut uring(), 1 << 20, 3);
}

#[test]
fn file_device_through_the_forced_fallback() {
    let f = TempFile::new("segs-fallback", 1 << 20);
    let o = FileOptions::new().force_fallback(true);
    let t = into_dyn(FileDevice::open(&f.path, o).unwrap());
    write_read_and_short(&t, &mut uring(), 1 << 20, 4);
    write_read_and_short(&t, &mut Engines::basic(), 1 << 20, 5);
}

#[test]
fn file_device_try_nowait_reads_segments_inline() {
    let f = TempFile::new("segs-nowait", 1 << 20);
    let t = into_dyn(FileDevice::open(&f.path, FileOptions::new()).unwrap());
    let mut e = uring();
    let data = pattern(6, 0, TOTAL);
    let p = submit(&t, &mut e, op(&t, OpKind::Write, 4096, data.clone()));
    assert_eq!(drain(&mut e, vec![p])[0].1, Ok(TOTAL));
    // In the page cache now: the inline read may succeed (or give the op
    // back, which then takes the ring); either way one transfer.
    let mut r = Backing::zeroed(&SIZES);
    let (p, q) = r.op(&t, OpKind::Read, 4096).enqueue();
    let f = q.start().unwrap();
    let s = t.strategy().unwrap();
    if let Err(f) = s.try_nowait(f) {
        s.submit(f, &mut e);
    }
    let (op, res) = drain(&mut e, vec![p]).pop().unwrap();
    drop(op);
    assert_eq!(res, Ok(TOTAL));
    assert_eq!(r.joined(), data);
}

fn nbd_connect(s: &QemuNbd) -> NbdDevice {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match NbdDevice::connect_unix(s.socket.as_ref().unwrap(), &s.export) {
            Ok(d) => return d,
            // The readiness probe may still hold the server's only slot.
            Err(e) if Instant::now() < deadline && e != Error::ENOENT => {
                thread::sleep(Duration::from_millis(50))
            }
            Err(e) => panic!("connect: {e}"),
        }
    }
}

#[test]
fn nbd_against_qemu_nbd() {
    let s = QemuNbd::unix(1 << 20, "segs");
    let d = nbd_connect(&s);
    assert_eq!(d.geometry().capacity, 1 << 20);
    let t = into_dyn(d);
    write_read_and_short(&t, &mut Engines::basic(), 1 << 20, 7);
}

#[test]
fn a_fault_that_shortens_a_segmented_transfer_cuts_it_inside_a_segment() {
    let d = Arc::new(
        FaultDevice::new(
            RamDisk::new(1 << 20).unwrap(),
            FaultPolicy {
                short: 1.0,
                ..FaultPolicy::none(8)
            },
        )
        .unwrap(),
    );
    let t = SharedDevice::target(&d);
    let mut e = Engines::basic();
    let data = pattern(8, 0, TOTAL);
    let mut w = Backing::split(&data, &SIZES);
    let op = w.op(&t, OpKind::Write, 0);
    let n = run(&t, &mut e, op).unwrap();
    let faults: Vec<_> = d.injected().iter().map(|f| f.1).collect();
    assert_eq!(faults, vec![Fault::Short { len: n }]);
    assert!(0 < n && n < TOTAL);
    let mut on_disk = vec![0u8; TOTAL];
    assert_eq!(
        d.inner().read_at(&mut on_disk, 0),
        aio_core::Attempt::Ready(Ok(TOTAL))
    );
    assert_eq!(on_disk[..n], data[..n], "the prefix, across the segments");
    assert!(on_disk[n..].iter().all(|&b| b == 0), "and nothing more");
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for two descriptors.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both were just created and are owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

fn stream_device(fd: &OwnedFd) -> Arc<dyn Target> {
    // SAFETY: the test keeps `fd` open until its ops are delivered.
    into_dyn(unsafe { FileDevice::from_raw_fd(fd.as_raw_fd(), FileOptions::new()) }.unwrap())
}

#[test]
fn a_pipe_through_file_device() {
    for fallback in [false, true] {
        let mut e = if fallback { Engines::basic() } else { uring() };
        let (r, w) = pipe();
        let (rt, wt) = (stream_device(&r), stream_device(&w));

        // A blocking write larger than the pipe holds: it moves in short
        // writes that stop inside a segment and go on from there, and
        // completes with its full count.
        let sizes = [1, 4095, 200_000, 3];
        let total: usize = sizes.iter().sum();
        let data = pattern(9, 0, total);
        let mut wb = Backing::split(&data, &sizes);
        let p = submit(&wt, &mut e, wb.op(&wt, OpKind::Write, 0));
        let rfd = r.as_raw_fd();
        let h = thread::spawn(move || {
            let mut v = vec![0u8; total];
            let mut got = 0;
            while got < total {
                thread::sleep(Duration::from_millis(1));
                // SAFETY: valid buffer of `total - got` bytes; `r` outlives
                // the join below.
                let n = unsafe { libc::read(rfd, v[got..].as_mut_ptr().cast(), 4096) };
                assert!(n > 0, "reader: {n}");
                got += n as usize;
            }
            v
        });
        let (op, res) = drain(&mut e, vec![p]).pop().unwrap();
        drop(op);
        assert_eq!(res, Ok(total), "full count (fallback {fallback})");
        assert!(h.join().unwrap() == data, "the bytes, in order");

        // A 3-segment read of what is in the pipe: one readv.
        let data = pattern(10, 0, TOTAL);
        // SAFETY: writes `TOTAL` bytes from a live buffer.
        let n = unsafe { libc::write(w.as_raw_fd(), data.as_ptr().cast(), TOTAL) };
        assert_eq!(n, TOTAL as isize);
        let mut rb = Backing::zeroed(&SIZES);
        let p = submit(&rt, &mut e, rb.op(&rt, OpKind::Read, 0));
        let (op, res) = drain(&mut e, vec![p]).pop().unwrap();
        drop(op);
        assert_eq!(res, Ok(TOTAL), "one read (fallback {fallback})");
        assert_eq!(rb.joined(), data);
    }
}

#[test]
fn many_segmented_ops_in_flight_on_a_small_ring() {
    // More ops than the ring's depth (the rest wait in the backlog), each
    // slot's iovec array reused by the next op: every op's bytes land at
    // its own offset.
    let f = TempFile::new("segs-depth", 1 << 20);
    let t = into_dyn(FileDevice::open(&f.path, FileOptions::new()).unwrap());
    let mut e = Engines::new(Box::new(UringEngine::new(4).unwrap()));
    let at = |i: u64| i * 9000;
    for round in 0..3u64 {
        let datas: Vec<Vec<u8>> = (0..32).map(|i| pattern(round, i, TOTAL)).collect();
        let mut ws: Vec<Backing> = datas.iter().map(|d| Backing::split(d, &SIZES)).collect();
        let ps: Vec<_> = ws
            .iter_mut()
            .enumerate()
            .map(|(i, w)| {
                let o = w.op(&t, OpKind::Write, at(i as u64));
                submit(&t, &mut e, o)
            })
            .collect();
        assert!(drain(&mut e, ps).iter().all(|(_, r)| *r == Ok(TOTAL)));
        let mut rs: Vec<Backing> = (0..32).map(|_| Backing::zeroed(&SIZES)).collect();
        let ps: Vec<_> = rs
            .iter_mut()
            .enumerate()
            .map(|(i, r)| {
                let o = r.op(&t, OpKind::Read, at(i as u64));
                submit(&t, &mut e, o)
            })
            .collect();
        assert!(drain(&mut e, ps).iter().all(|(_, r)| *r == Ok(TOTAL)));
        for (r, d) in rs.iter().zip(&datas) {
            assert!(r.joined() == *d);
        }
        drop(ws);
    }
}

//! FileDevice on io_uring and on the blocking pool: integrity at depth,
//! O_DIRECT and its alignment checks, bounds, flushes, bad input, borrowed
//! descriptors (pipes, sockets) with readiness waits and cancellation,
//! try_nowait, shutdown and dropping an engine with ops in flight.

mod common;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use aio_core::sync::Arc;
use aio_core::{CancelOutcome, Engines, Error, Op, OpKind, Target, into_dyn};
use blockdev::{AlignedBuf, Device, FileDevice, FileOptions, SharedDevice, UringEngine};
use common::*;

fn uring() -> Engines {
    Engines::new(Box::new(
        UringEngine::new(128).expect("io_uring is available on the test machines"),
    ))
}

#[test]
fn integrity_through_io_uring_at_depth_64_and_128() {
    let f = TempFile::new("uring", 8 << 20);
    let t = into_dyn(FileDevice::open(&f.path, FileOptions::new()).unwrap());
    let mut e = uring();
    integrity(&t, &mut e, 4096, 2048, 64, 11);
    integrity(&t, &mut e, 4096, 2048, 128, 12);
    // More ops than the ring's depth: the rest wait in the backlog.
    let mut small = Engines::from(UringEngine::new(8).unwrap());
    assert_eq!(small.get::<UringEngine>().unwrap().depth(), 8);
    integrity(&t, &mut small, 4096, 512, 100, 13);
}

#[test]
fn integrity_through_the_forced_fallback_on_a_uring_engine() {
    let f = TempFile::new("fallback", 4 << 20);
    let t = into_dyn(FileDevice::open(&f.path, FileOptions::new().force_fallback(true)).unwrap());
    let mut e = uring();
    integrity(&t, &mut e, 4096, 1024, 64, 21);
}

#[test]
fn integrity_through_the_pool_on_a_basic_engine() {
    let f = TempFile::new("basic", 4 << 20);
    let t = into_dyn(FileDevice::open(&f.path, FileOptions::new().fallback_threads(3)).unwrap());
    let mut e = Engines::basic();
    integrity(&t, &mut e, 4096, 1024, 64, 31);
}

#[test]
fn new_engine_gives_a_ring_here() {
    let mut e = Engines::new(blockdev::new_engine(32));
    assert!(e.get::<UringEngine>().is_some());
}

fn direct_ops(engine: &mut Engines, force_fallback: bool) {
    let f = TempFile::new("direct", 4 << 20);
    let d = match FileDevice::open(
        &f.path,
        FileOptions::new()
            .direct(true)
            .force_fallback(force_fallback),
    ) {
        Ok(d) => d,
        Err(Error::EINVAL) => panic!(
            "the scratch file system refuses O_DIRECT: {}",
            f.path.display()
        ),
        Err(e) => panic!("open: {e}"),
    };
    assert!(d.is_direct());
    let bs = d.geometry().block_size as usize;
    assert!(bs.is_power_of_two() && bs >= 512);
    let t = into_dyn(d);
    let n = 256usize;
    let mut bufs: Vec<AlignedBuf> = (0..n)
        .map(|_| AlignedBuf::new(4096, 4096).unwrap())
        .collect();
    for (i, b) in bufs.iter_mut().enumerate() {
        b.as_mut_slice()
            .copy_from_slice(&pattern(5, i as u64, 4096));
    }
    for kind in [OpKind::Write, OpKind::Read] {
        if kind == OpKind::Read {
            for b in &mut bufs {
                b.as_mut_slice().fill(0);
            }
        }
        let mut ps = Vec::new();
        for (i, b) in bufs.iter_mut().enumerate() {
            // SAFETY: `bufs` outlives the ops: they are drained below.
            let mut o = unsafe { Op::from_raw_parts(Arc::clone(&t), b.as_mut_ptr(), 4096) };
            o.prepare(kind, (i * 4096) as u64, 4096).unwrap();
            ps.push(submit(&t, engine, o));
        }
        for (_, r) in drain(engine, ps) {
            assert_eq!(r, Ok(4096));
        }
    }
    for (i, b) in bufs.iter().enumerate() {
        assert_eq!(
            checksum(b.as_slice()),
            checksum(&pattern(5, i as u64, 4096)),
            "block {i}"
        );
    }
    // Misaligned: buffer address, offset, length, on written blocks: the
    // kernel refuses them (the device checks no alignment of its own).
    let mut big = AlignedBuf::new(8192, 4096).unwrap();
    let base = big.as_mut_ptr();
    let cases = [
        (base.wrapping_add(1), 0u64, 4096usize),
        (base, 100, 4096),
        (base, 0, 1000),
    ];
    let mut ps = Vec::new();
    for (ptr, off, len) in cases {
        // SAFETY: within `big`, which outlives the ops.
        let mut o = unsafe { Op::from_raw_parts(Arc::clone(&t), ptr, 4096) };
        o.prepare(OpKind::Read, off, len).unwrap();
        ps.push(submit(&t, engine, o));
    }
    for (_, r) in drain(engine, ps) {
        assert_eq!(r, Err(Error::EINVAL));
    }
    // Synchronous mode reaches the same kernel answer.
    let mut v = vec![0u8; 4097];
    let unaligned = if (v.as_ptr() as usize).is_multiple_of(bs) {
        &mut v[1..]
    } else {
        &mut v[..4096]
    };
    assert_eq!(
        t.read_at(unaligned, 0),
        aio_core::Attempt::Ready(Err(Error::EINVAL))
    );
}

#[test]
fn direct_io_through_io_uring() {
    direct_ops(&mut uring(), false);
}

#[test]
fn direct_io_through_the_pool() {
    direct_ops(&mut Engines::basic(), true);
}

fn bounds(engine: &mut Engines, force_fallback: bool) {
    let f = TempFile::new("bounds", 10_000);
    let d = FileDevice::open(&f.path, FileOptions::new().force_fallback(force_fallback)).unwrap();
    assert_eq!(d.geometry().capacity, 10_000);
    let t = into_dyn(d);
    let ps = vec![
        submit(&t, engine, op(&t, OpKind::Read, 9_000, vec![0; 4096])),
        submit(&t, engine, op(&t, OpKind::Read, 10_000, vec![0; 4096])),
        submit(&t, engine, op(&t, OpKind::Write, 10_000, vec![1; 512])),
        submit(&t, engine, op(&t, OpKind::Write, 9_999, vec![1; 512])),
        submit(&t, engine, op(&t, OpKind::Read, 0, vec![])),
        submit(&t, engine, op(&t, OpKind::Fsync, 0, vec![])),
        submit(&t, engine, op(&t, OpKind::Fdatasync, 0, vec![])),
    ];
    let r: Vec<_> = drain(engine, ps).into_iter().map(|(_, r)| r).collect();
    assert_eq!(
        r,
        vec![
            Ok(1000),
            Ok(0),
            Err(Error::ENOSPC),
            Ok(1),
            Ok(0),
            Ok(0),
            Ok(0)
        ]
    );
    assert_eq!(
        std::fs::metadata(&f.path).unwrap().len(),
        10_000,
        "the device never grows the file"
    );
}

#[test]
fn bounds_and_flushes_through_io_uring() {
    bounds(&mut uring(), false);
}

#[test]
fn bounds_and_flushes_through_the_pool() {
    bounds(&mut Engines::basic(), true);
}

#[test]
fn a_missing_path_is_enoent() {
    let p = scratch_dir().join("blockdev-does-not-exist.img");
    assert_eq!(
        FileDevice::open(&p, FileOptions::new()).unwrap_err(),
        Error::ENOENT
    );
    let f = TempFile::new("create", 0);
    std::fs::remove_file(&f.path).unwrap();
    let d = FileDevice::open(&f.path, FileOptions::new().create(1 << 20)).unwrap();
    assert_eq!(d.geometry().capacity, 1 << 20);
}

#[test]
fn a_read_only_device_refuses_writes() {
    let f = TempFile::new("ro", 1 << 16);
    let t = into_dyn(FileDevice::open(&f.path, FileOptions::new().read_only(true)).unwrap());
    let mut e = uring();
    let p = submit(&t, &mut e, op(&t, OpKind::Write, 0, vec![1; 512]));
    assert_eq!(drain(&mut e, vec![p])[0].1, Err(Error::EBADF));
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for two descriptors.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both were just created and are owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

fn write_fd(fd: &OwnedFd, b: &[u8]) {
    // SAFETY: valid buffer.
    let n = unsafe { libc::write(fd.as_raw_fd(), b.as_ptr().cast(), b.len()) };
    assert_eq!(n, b.len() as isize);
}

#[test]
fn a_pipe_read_waits_for_readiness_and_costs_the_engine_nothing() {
    let (r, w) = pipe();
    // SAFETY: `r` outlives the device and its ops.
    let d = unsafe { FileDevice::from_raw_fd(r.as_raw_fd(), FileOptions::new()) }.unwrap();
    assert!(!d.is_seekable());
    let t = into_dyn(d);
    let mut e = uring();
    let p = submit(&t, &mut e, op(&t, OpKind::Read, 12345, vec![0; 64]));
    // Nothing to read: the op waits on the readiness waiter; neither the
    // engine nor any thread is spent on it.
    e.poll(16).unwrap();
    assert!(!p.is_complete());
    assert_eq!(e.in_flight(), 0);
    assert!(blockdev::stream_ops_waiting() >= 1);
    write_fd(&w, b"through the pipe");
    assert!(p.wait_timeout(TIMEOUT), "the readiness waiter never read");
    let (o, res) = p.wait();
    assert_eq!(res, Ok(16));
    assert_eq!(&o.buf()[..16], b"through the pipe");
}

#[test]
fn a_waiting_pipe_read_can_be_cancelled() {
    for fallback in [false, true] {
        let (r, w) = pipe();
        // SAFETY: `r` outlives the device and its ops.
        let t = into_dyn(
            unsafe { FileDevice::from_raw_fd(r.as_raw_fd(), FileOptions::new()) }.unwrap(),
        );
        let mut e: Engines = if fallback { Engines::basic() } else { uring() };
        let o = op(&t, OpKind::Read, 0, vec![0; 64]);
        let p = submit(&t, &mut e, o);
        let key = p.key();
        // A second read waits behind the first (FIFO per direction).
        let o2 = op(&t, OpKind::Read, 0, vec![0; 4]);
        let p2 = submit(&t, &mut e, o2);
        assert_eq!(
            t.strategy().unwrap().cancel(key, &mut e),
            CancelOutcome::Cancelled
        );
        assert!(p.wait_timeout(TIMEOUT));
        assert_eq!(p.wait().1, Err(Error::ECANCELED));
        // Gone from the waiter: the ring says done; the pool path cannot
        // tell (the pools then answer from the op's state).
        assert_ne!(
            t.strategy().unwrap().cancel(key, &mut e),
            CancelOutcome::Cancelled
        );
        // The one behind it is now first, and gets the data.
        write_fd(&w, b"next");
        assert!(p2.wait_timeout(TIMEOUT));
        let (o2, r2) = p2.wait();
        assert_eq!(r2, Ok(4));
        assert_eq!(&o2.buf()[..4], b"next");
    }
}

#[test]
fn dropping_an_engine_leaves_waiting_stream_ops_alone() {
    let (r, w) = pipe();
    // SAFETY: `r` outlives the device and its ops.
    let pt =
        into_dyn(unsafe { FileDevice::from_raw_fd(r.as_raw_fd(), FileOptions::new()) }.unwrap());
    let f = TempFile::new("dropeng", 1 << 20);
    let ft = into_dyn(FileDevice::open(&f.path, FileOptions::new()).unwrap());
    let mut e = Engines::from(UringEngine::new(16).unwrap());
    let mut ps: Vec<_> = (0..4)
        .map(|_| submit(&pt, &mut e, op(&pt, OpKind::Read, 0, vec![0; 8])))
        .collect();
    ps.extend(
        (0..64).map(|i| submit(&ft, &mut e, op(&ft, OpKind::Write, i * 4096, vec![3; 4096]))),
    );
    e.poll(0).unwrap();
    // The file writes are the ring's: cancelled or done when it goes.
    drop(e);
    for (i, p) in ps.iter().enumerate().skip(4) {
        assert!(p.wait_timeout(Duration::from_secs(10)), "op {i} hung");
    }
    // The pipe reads are not the engine's: they still wait, and complete
    // in order when data comes.
    assert!(ps[..4].iter().all(|p| !p.is_complete()));
    write_fd(&w, b"00000000111111112222222233333333");
    for (i, p) in ps.into_iter().enumerate() {
        assert!(p.wait_timeout(Duration::from_secs(10)), "op {i} hung");
        let (o, r) = p.wait();
        if i < 4 {
            assert_eq!(r, Ok(8), "pipe read {i}");
            assert_eq!(o.buf()[0], b'0' + i as u8, "pipe read {i} out of order");
        } else {
            assert!(
                r == Ok(4096) || r == Err(Error::ECANCELED),
                "write {i}: {r:?}"
            );
        }
    }
}

#[test]
fn a_socket_through_the_ring_and_through_the_pool() {
    let mut fds = [0; 2];
    let ty = libc::SOCK_STREAM | libc::SOCK_CLOEXEC;
    // SAFETY: room for two descriptors.
    let r = unsafe { libc::socketpair(libc::AF_UNIX, ty, 0, fds.as_mut_ptr()) };
    assert_eq!(r, 0);
    // SAFETY: just created, owned by nobody else.
    let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    for fallback in [false, true] {
        let o = FileOptions::new().force_fallback(fallback);
        // SAFETY: `a` outlives the device and its ops.
        let d = unsafe { FileDevice::from_raw_fd(a.as_raw_fd(), o) }.unwrap();
        let t = into_dyn(d);
        let mut e = uring();
        let pr = submit(&t, &mut e, op(&t, OpKind::Read, 0, vec![0; 5]));
        let pw = submit(&t, &mut e, op(&t, OpKind::Write, 0, b"pong!".to_vec()));
        write_fd(&b, b"ping!");
        let mut got = [0u8; 5];
        let res = drain(&mut e, vec![pr, pw]);
        assert_eq!(res[0].1, Ok(5));
        assert_eq!(&res[0].0.buf()[..5], b"ping!");
        assert_eq!(res[1].1, Ok(5));
        // SAFETY: valid buffer.
        let n = unsafe { libc::read(b.as_raw_fd(), got.as_mut_ptr().cast(), 5) };
        assert_eq!(n, 5);
        assert_eq!(&got, b"pong!");
    }
}

#[test]
fn a_borrowed_descriptor_stays_open() {
    let f = TempFile::new("borrow", 4096);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&f.path)
        .unwrap();
    {
        // SAFETY: `file` outlives the device.
        let d = unsafe { FileDevice::from_raw_fd(file.as_raw_fd(), FileOptions::new()) }.unwrap();
        // POSIX semantics: a borrowed regular file grows.
        assert_eq!(d.write_at(b"tail", 8192), aio_core::Attempt::Ready(Ok(4)));
    }
    // SAFETY: plain syscall.
    let fl = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETFD) };
    assert!(fl >= 0, "the device closed a descriptor it did not own");
    assert_eq!(file.metadata().unwrap().len(), 8196);
}

#[test]
fn try_nowait_hits_the_page_cache() {
    let f = TempFile::new("nowait", 1 << 20);
    let t = into_dyn(FileDevice::open(&f.path, FileOptions::new()).unwrap());
    assert_eq!(
        t.write_at(&pattern(8, 0, 8192), 0),
        aio_core::Attempt::Ready(Ok(8192))
    );
    let o = op(&t, OpKind::Read, 0, vec![0; 8192]);
    let (p, q) = o.enqueue();
    let s = t.strategy().unwrap();
    assert!(
        s.try_nowait(q.start().unwrap()).is_ok(),
        "a cached read completes inline"
    );
    assert!(p.is_complete());
    let (o, r) = p.wait();
    assert_eq!(r, Ok(8192));
    assert_eq!(checksum(o.buf()), checksum(&pattern(8, 0, 8192)));
    // Writes are never done inline: the op comes back untouched.
    let (p, q) = op(&t, OpKind::Write, 0, vec![0; 10]).enqueue();
    let back = s
        .try_nowait(q.start().unwrap())
        .expect_err("writes go to the ring");
    let mut e = uring();
    s.submit(back, &mut e);
    assert_eq!(drain(&mut e, vec![p])[0].1, Ok(10));
}

#[test]
fn try_nowait_never_runs_direct_io_inline() {
    // RWF_NOWAIT does not stop a direct read from waiting for the device,
    // so a direct device must give every op back to be queued.
    let f = TempFile::new("nowait-direct", 1 << 20);
    let d = FileDevice::open(&f.path, FileOptions::new().direct(true)).unwrap();
    assert!(d.is_direct());
    let t = into_dyn(d);
    let mut buf = AlignedBuf::new(4096, 4096).unwrap();
    // SAFETY: `buf` outlives the op, which is delivered below.
    let mut o = unsafe { Op::from_raw_parts(Arc::clone(&t), buf.as_mut_ptr(), 4096) };
    o.prepare(OpKind::Read, 0, 4096).unwrap();
    let (p, q) = o.enqueue();
    let s = t.strategy().unwrap();
    let back = s
        .try_nowait(q.start().unwrap())
        .expect_err("a direct read is never done inline");
    let mut e = uring();
    s.submit(back, &mut e);
    assert_eq!(drain(&mut e, vec![p])[0].1, Ok(4096));
}

#[test]
fn shutdown_refuses_new_ops_and_finishes_the_old() {
    let f = TempFile::new("shutdown", 4 << 20);
    for mut e in [uring(), Engines::basic()] {
        let d = Arc::new(FileDevice::open(&f.path, FileOptions::new()).unwrap());
        let t = SharedDevice::target(&d);
        let mut ps: Vec<_> = (0..64)
            .map(|i| submit(&t, &mut e, op(&t, OpKind::Write, i * 4096, vec![1; 4096])))
            .collect();
        d.shutdown();
        ps.push(submit(&t, &mut e, op(&t, OpKind::Read, 0, vec![0; 10])));
        let r: Vec<_> = drain(&mut e, ps).into_iter().map(|(_, r)| r).collect();
        assert!(r[..64].iter().all(|r| *r == Ok(4096)), "{r:?}");
        assert_eq!(r[64], Err(Error::ECANCELED));
    }
}

#[test]
fn the_waker_ends_a_ring_wait() {
    let mut e = uring();
    let w = e.waker();
    let start = Instant::now();
    let t = aio_core::sync::thread::spawn(move || {
        aio_core::sync::thread::sleep(Duration::from_millis(30));
        w.wake();
    });
    e.wait(Some(Duration::from_secs(10))).unwrap();
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "wake() did not end the wait ({took:?})"
    );
    t.join().unwrap();
    // The eventfd read is re-armed: a second wake works too.
    e.poll(8).unwrap();
    e.waker().wake();
    let start = Instant::now();
    e.wait(Some(Duration::from_secs(10))).unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn the_pool_is_bounded_and_shared() {
    let pool = blockdev::BlockingPool::new(2);
    let f1 = TempFile::new("pool1", 2 << 20);
    let f2 = TempFile::new("pool2", 2 << 20);
    let o = FileOptions::new().pool(Arc::clone(&pool));
    let t1 = into_dyn(FileDevice::open(&f1.path, o.clone()).unwrap());
    let t2 = into_dyn(FileDevice::open(&f2.path, o).unwrap());
    let mut e = Engines::basic();
    integrity(&t1, &mut e, 4096, 512, 64, 71);
    integrity(&t2, &mut e, 4096, 512, 64, 72);
    assert!(
        pool.threads() >= 1 && pool.threads() <= 2,
        "{} threads",
        pool.threads()
    );
    assert_eq!(pool.max_threads(), 2);
}

fn open_fd(path: &std::path::Path, flags: libc::c_int) -> OwnedFd {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: valid C string.
    let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) };
    assert!(
        fd >= 0,
        "open {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
    // SAFETY: just opened, owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn set_blocking(fd: &OwnedFd) {
    // SAFETY: plain fcntl calls on a valid descriptor.
    unsafe {
        let fl = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        assert_eq!(
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl & !libc::O_NONBLOCK),
            0
        );
    }
}

#[test]
fn a_fifo_through_the_ring() {
    use std::os::unix::ffi::OsStrExt;
    let path = scratch_dir().join(format!("blockdev-fifo-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    // Non-blocking open so that opening the read end does not wait for a
    // writer; then back to blocking, so the ring waits for data.
    let r = open_fd(&path, libc::O_RDONLY | libc::O_NONBLOCK);
    let w = open_fd(&path, libc::O_WRONLY);
    set_blocking(&r);
    // SAFETY: `r` and `w` outlive the devices and their ops.
    let rt =
        into_dyn(unsafe { FileDevice::from_raw_fd(r.as_raw_fd(), FileOptions::new()) }.unwrap());
    // SAFETY: as above.
    let wt =
        into_dyn(unsafe { FileDevice::from_raw_fd(w.as_raw_fd(), FileOptions::new()) }.unwrap());
    let mut e = uring();
    let pr = submit(&rt, &mut e, op(&rt, OpKind::Read, 0, vec![0; 4]));
    e.poll(8).unwrap();
    assert!(!pr.is_complete(), "nothing written yet");
    let pw = submit(&wt, &mut e, op(&wt, OpKind::Write, 0, b"fifo".to_vec()));
    let res = drain(&mut e, vec![pr, pw]);
    assert_eq!(res[0].1, Ok(4));
    assert_eq!(&res[0].0.buf()[..4], b"fifo");
    assert_eq!(res[1].1, Ok(4));
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_pty_through_the_ring() {
    let (master, slave) = pty_pair(false);
    // SAFETY: both descriptors outlive the devices and their ops.
    let mt = into_dyn(
        unsafe { FileDevice::from_raw_fd(master.as_raw_fd(), FileOptions::new()) }.unwrap(),
    );
    // SAFETY: as above.
    let st = into_dyn(
        unsafe { FileDevice::from_raw_fd(slave.as_raw_fd(), FileOptions::new()) }.unwrap(),
    );
    let mut e = uring();
    // Canonical mode: the slave's read waits for a whole line.
    let pr = submit(&st, &mut e, op(&st, OpKind::Read, 0, vec![0; 64]));
    e.poll(8).unwrap();
    assert!(!pr.is_complete());
    let pw = submit(&mt, &mut e, op(&mt, OpKind::Write, 0, b"line\n".to_vec()));
    let res = drain(&mut e, vec![pr, pw]);
    assert_eq!(res[1].1, Ok(5));
    assert_eq!(res[0].1, Ok(5));
    assert_eq!(&res[0].0.buf()[..5], b"line\n");
}

/// A servicing thread that only polls (and does other work in between,
/// never calling `wait`) still sees every completion.
#[test]
fn polling_alone_reaps_completions() {
    let f = TempFile::new("pollonly", 1 << 20);
    let d = FileDevice::open(&f.path, FileOptions::new().direct(true)).unwrap();
    let t = into_dyn(d);
    let (r, w) = pipe();
    // SAFETY: `r` outlives the device and its ops.
    let pt =
        into_dyn(unsafe { FileDevice::from_raw_fd(r.as_raw_fd(), FileOptions::new()) }.unwrap());
    let mut e = uring();
    let mut bufs: Vec<AlignedBuf> = (0..32)
        .map(|_| AlignedBuf::new(4096, 4096).unwrap())
        .collect();
    let mut ps = Vec::new();
    for (i, b) in bufs.iter_mut().enumerate() {
        // SAFETY: `bufs` outlives the ops, which are all delivered below.
        let mut o = unsafe { Op::from_raw_parts(Arc::clone(&t), b.as_mut_ptr(), 4096) };
        o.prepare(OpKind::Read, i as u64 * 4096, 4096).unwrap();
        ps.push(submit(&t, &mut e, o));
    }
    ps.push(submit(&pt, &mut e, op(&pt, OpKind::Read, 0, vec![0; 3])));
    e.poll(64).unwrap();
    write_fd(&w, b"abc");
    let deadline = Instant::now() + TIMEOUT;
    while !ps.iter().all(|p| p.is_complete()) {
        assert!(
            Instant::now() < deadline,
            "completions never showed up without a wait"
        );
        e.poll(64).unwrap();
        aio_core::sync::thread::sleep(Duration::from_micros(200)); // "other work"
    }
    for p in ps {
        assert!(p.wait_timeout(Duration::from_secs(5)));
        assert!(p.wait().1.is_ok());
    }
}

#[test]
fn try_read_says_done_would_block_not_tried_or_espipe() {
    use blockdev::TryRead;
    let f = TempFile::new("tryread", 1 << 20);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&f.path)
        .unwrap();
    let data = pattern(5, 0, 8192);
    std::os::unix::fs::FileExt::write_all_at(&file, &data, 4096).unwrap();
    // A borrowed number, as the POSIX layer makes its devices.
    // SAFETY: plain syscall; the copy is closed below, before the test ends.
    let n = unsafe { libc::dup(file.as_raw_fd()) };
    assert!(n >= 0);
    // SAFETY: `n` stays open while the device is used.
    let d = unsafe { FileDevice::from_raw_fd(n, FileOptions::new()) }.unwrap();
    let mut buf = vec![0u8; 8192];
    // SAFETY: `buf` is ours for the call.
    let r = unsafe { d.try_read(buf.as_mut_ptr(), buf.len(), 4096) };
    assert_eq!(r, TryRead::Done(Ok(8192)), "a cached read is done at once");
    assert_eq!(checksum(&buf), checksum(&data));
    // Past the end: pread's 0; across it: the bytes there are.
    // SAFETY: as above.
    let past = unsafe { d.try_read(buf.as_mut_ptr(), 100, 1 << 21) };
    assert_eq!(past, TryRead::Done(Ok(0)));
    // SAFETY: as above.
    let across = unsafe { d.try_read(buf.as_mut_ptr(), 8192, (1 << 20) - 10) };
    assert_eq!(across, TryRead::Done(Ok(10)));
    // Evicted pages: the read would block, and nothing was asked twice.
    // SAFETY: plain syscalls on our file.
    unsafe {
        libc::fdatasync(file.as_raw_fd());
        libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED);
    }
    // SAFETY: as above.
    let r = unsafe { d.try_read(buf.as_mut_ptr(), 4096, 65536) };
    assert!(
        matches!(r, TryRead::WouldBlock | TryRead::Done(Ok(4096))),
        "an evicted page: {r:?}"
    );
    // O_DIRECT set on the number: never tried inline.
    // SAFETY: plain syscalls on our copy.
    unsafe {
        let fl = libc::fcntl(n, libc::F_GETFL);
        if libc::fcntl(n, libc::F_SETFL, fl | libc::O_DIRECT) == 0 {
            let mut b = AlignedBuf::new(4096, 4096).unwrap();
            // The flag is read once per 64 ops: within 64 more reads the
            // device says NotTried (a stale answer may try it first and
            // find the kernel refusing the alignment, never a wrong read).
            let mut saw = false;
            for _ in 0..70 {
                match d.try_read(b.as_mut_ptr(), 4096, 4096) {
                    TryRead::NotTried => {
                        saw = true;
                        break;
                    }
                    TryRead::Done(Ok(4096)) | TryRead::WouldBlock => {}
                    other => panic!("O_DIRECT read inline: {other:?}"),
                }
            }
            assert!(saw, "O_DIRECT is never tried inline once seen");
            libc::fcntl(n, libc::F_SETFL, fl);
            // Read the flags now, not within 64 ops.
            assert!(!d.is_direct());
        }
    }
    // The number reused for a pipe: the read's own ESPIPE says so.
    let (r, w) = pipe();
    write_fd(&w, b"pipe data");
    // SAFETY: `n` is ours; dup2 closes the file copy and puts the pipe there.
    assert_eq!(unsafe { libc::dup2(r.as_raw_fd(), n) }, n);
    // SAFETY: as above.
    let reused = unsafe { d.try_read(buf.as_mut_ptr(), 64, 0) };
    assert_eq!(reused, TryRead::Done(Err(Error::from_errno(libc::ESPIPE))));
    // Nothing was taken from the pipe.
    let mut got = [0u8; 16];
    // SAFETY: reads into a local buffer.
    let k = unsafe { libc::read(r.as_raw_fd(), got.as_mut_ptr().cast(), got.len()) };
    assert_eq!(&got[..k as usize], b"pipe data");
    // A device over a stream never tries.
    // SAFETY: `r` outlives the device.
    let s = unsafe { FileDevice::from_raw_fd(r.as_raw_fd(), FileOptions::new()) }.unwrap();
    // SAFETY: as above.
    let stream = unsafe { s.try_read(buf.as_mut_ptr(), 64, 0) };
    assert_eq!(stream, TryRead::NotTried);
    drop(d);
    // SAFETY: closes our copy.
    unsafe { libc::close(n) };
}

/// A loop device over a temporary image, detached on drop.
struct Loop {
    dev: String,
    _img: TempFile,
}

impl Loop {
    fn new(bytes: u64) -> Loop {
        test_support::require_tool("losetup", "util-linux");
        let img = TempFile::new("loopimg", bytes);
        let out = std::process::Command::new("losetup")
            .args(["-f", "--show"])
            .arg(&img.path)
            .output()
            .expect("run losetup");
        assert!(
            out.status.success(),
            "losetup -f --show (needs root and loop devices): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dev = String::from_utf8(out.stdout).unwrap().trim().to_string();
        Loop { dev, _img: img }
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = std::process::Command::new("losetup")
            .args(["-d", &self.dev])
            .status();
    }
}

#[test]
fn a_short_inline_read_of_a_block_device_is_not_its_end() {
    use blockdev::TryRead;
    // st_size is 0 for a block device: a short RWF_NOWAIT read (the first
    // page cached, the rest not) must go to a worker, not count as the end.
    let lo = Loop::new(4 << 20);
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&lo.dev)
        .unwrap();
    let data = pattern(9, 0, 1 << 20);
    std::os::unix::fs::FileExt::write_all_at(&f, &data, 0).unwrap();
    // SAFETY: plain syscalls on our descriptor.
    unsafe {
        assert_eq!(libc::fsync(f.as_raw_fd()), 0);
        libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED);
    }
    let mut page = [0u8; 4096];
    std::os::unix::fs::FileExt::read_exact_at(&f, &mut page, 256 << 10).unwrap();
    // SAFETY: `f` outlives the device.
    let d = unsafe { FileDevice::from_raw_fd(f.as_raw_fd(), FileOptions::new()) }.unwrap();
    let mut buf = vec![0u8; 64 << 10];
    // SAFETY: `buf` is ours for the call.
    let r = unsafe { d.try_read(buf.as_mut_ptr(), buf.len(), 256 << 10) };
    match r {
        TryRead::WouldBlock => {}
        TryRead::Done(Ok(n)) if n == buf.len() => {
            assert_eq!(checksum(&buf), checksum(&data[256 << 10..320 << 10]));
        }
        other => panic!("a 64 KiB read inside a 4 MiB block device: {other:?}"),
    }
    // At its real end, a short read is final.
    // SAFETY: as above.
    let r = unsafe { d.try_read(buf.as_mut_ptr(), buf.len(), (4 << 20) - 4096) };
    assert!(
        matches!(r, TryRead::Done(Ok(4096)) | TryRead::WouldBlock),
        "the last page of the device: {r:?}"
    );
}

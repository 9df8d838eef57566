//! Stream ops (pipes, sockets) on the readiness waiter, in both engines
//! (io_uring and the fallback on a `BasicEngine`):
//!
//! * a write on a *blocking* pipe or socket completes with its full count
//!   (issue row 3: one 1 MiB write completed with 65,536 bytes on a pipe
//!   and 219,264 on a socket through io_uring before, the rest never
//!   written), in order with the next write;
//! * an `O_NONBLOCK` descriptor keeps `write(2)`'s answers: a partial
//!   count, then `EAGAIN`;
//! * a write waiting for room can be cancelled (`ECANCELED` if nothing
//!   was written; the count written and "already done" if some was);
//! * a pty master (no `RWF_NOWAIT`, no reopen) waits on its lane's thread,
//!   never in the engine: a write larger than the pty holds completes with
//!   its full count once the slave reads, a file op on the same engine
//!   completes meanwhile, and a queued read can be cancelled while the one
//!   under way cannot.
//!
//! Every wait has a timeout that fails the test; no timing thresholds.

mod common;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use aio_core::sync::{Arc, thread};
use aio_core::{CancelOutcome, Engines, Error, OpKind, Target, into_dyn};
use blockdev::{FileDevice, FileOptions, UringEngine};
use common::*;

const MIB: usize = 1 << 20;

fn engine(fallback: bool) -> Engines {
    if fallback {
        Engines::basic()
    } else {
        Engines::new(Box::new(
            UringEngine::new(8).expect("io_uring on the test machines"),
        ))
    }
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for two descriptors.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both were just created and are owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

fn socketpair() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    let ty = libc::SOCK_STREAM | libc::SOCK_CLOEXEC;
    // SAFETY: room for two descriptors.
    let r = unsafe { libc::socketpair(libc::AF_UNIX, ty, 0, fds.as_mut_ptr()) };
    assert_eq!(r, 0);
    // SAFETY: just created, owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

fn set_nonblock(fd: &OwnedFd, on: bool) {
    // SAFETY: plain fcntl calls on a valid descriptor.
    unsafe {
        let fl = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        let fl = if on {
            fl | libc::O_NONBLOCK
        } else {
            fl & !libc::O_NONBLOCK
        };
        assert_eq!(libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl), 0);
    }
}

/// Reads `n` bytes from `fd` on a thread (blocking reads).
fn reader(fd: OwnedFd, n: usize) -> thread::JoinHandle<(OwnedFd, Vec<u8>)> {
    thread::spawn(move || {
        let mut v = vec![0u8; n];
        let mut got = 0;
        while got < n {
            // SAFETY: valid buffer of `n - got` bytes.
            let r = unsafe { libc::read(fd.as_raw_fd(), v[got..].as_mut_ptr().cast(), n - got) };
            assert!(r > 0, "reader: {r} {}", std::io::Error::last_os_error());
            got += r as usize;
        }
        (fd, v)
    })
}

fn device(fd: &OwnedFd) -> Arc<dyn Target> {
    // SAFETY: every caller keeps `fd` open until its ops are delivered.
    into_dyn(unsafe { FileDevice::from_raw_fd(fd.as_raw_fd(), FileOptions::new()) }.unwrap())
}

fn full_count_writes(w: OwnedFd, r: OwnedFd, fallback: bool) {
    let t = device(&w);
    let mut e = engine(fallback);
    let a = pattern(1, 0, MIB);
    let b = pattern(2, 0, MIB);
    let pa = submit(&t, &mut e, op(&t, OpKind::Write, 0, a.clone()));
    let pb = submit(&t, &mut e, op(&t, OpKind::Write, 0, b.clone()));
    let h = reader(r, 2 * MIB);
    let res = drain(&mut e, vec![pa, pb]);
    assert_eq!(res[0].1, Ok(MIB), "first write (fallback {fallback})");
    assert_eq!(res[1].1, Ok(MIB), "second write (fallback {fallback})");
    let (_r, got) = h.join().unwrap();
    assert!(
        got[..MIB] == a[..],
        "the first write's bytes, whole and first"
    );
    assert!(got[MIB..] == b[..], "then the second's");
}

#[test]
fn a_blocking_pipe_write_completes_with_its_full_count() {
    for fallback in [false, true] {
        let (r, w) = pipe();
        full_count_writes(w, r, fallback);
    }
}

#[test]
fn a_blocking_socket_write_completes_with_its_full_count() {
    for fallback in [false, true] {
        let (a, b) = socketpair();
        full_count_writes(a, b, fallback);
    }
}

#[test]
fn a_nonblocking_pipe_keeps_partial_counts_and_eagain() {
    for fallback in [false, true] {
        let (_r, w) = pipe();
        set_nonblock(&w, true);
        let t = device(&w);
        let mut e = engine(fallback);
        let p1 = submit(&t, &mut e, op(&t, OpKind::Write, 0, vec![7; MIB]));
        let n = drain(&mut e, vec![p1])
            .pop()
            .unwrap()
            .1
            .expect("a partial write");
        assert!(n > 0 && n < MIB, "partial count {n}");
        let p2 = submit(&t, &mut e, op(&t, OpKind::Write, 0, vec![7; 10]));
        assert_eq!(drain(&mut e, vec![p2]).pop().unwrap().1, Err(Error::EAGAIN));
        // And a read of an empty non-blocking pipe says EAGAIN too.
        let (r2, _w2) = pipe();
        set_nonblock(&r2, true);
        let rt = device(&r2);
        let p3 = submit(&rt, &mut e, op(&rt, OpKind::Read, 0, vec![0; 10]));
        assert_eq!(drain(&mut e, vec![p3]).pop().unwrap().1, Err(Error::EAGAIN));
    }
}

#[test]
fn a_write_waiting_for_room_can_be_cancelled() {
    for fallback in [false, true] {
        let (r, w) = pipe();
        let t = device(&w);
        let mut e = engine(fallback);
        // 1 MiB into a 64 KiB pipe nobody reads: part goes in, then it waits.
        let big = op(&t, OpKind::Write, 0, vec![1; MIB]);
        let pbig = submit(&t, &mut e, big);
        let big_id = pbig.key();
        let small = op(&t, OpKind::Write, 0, vec![2; 10]);
        let psmall = submit(&t, &mut e, small);
        let small_id = psmall.key();
        assert!(!pbig.is_complete() && !psmall.is_complete());
        let s = t.strategy().unwrap();
        // The one behind: nothing written, a real cancel.
        assert_eq!(s.cancel(small_id, &mut e), CancelOutcome::Cancelled);
        assert!(psmall.wait_timeout(TIMEOUT));
        assert_eq!(psmall.wait().1, Err(Error::ECANCELED));
        // The one in front moved bytes already: not cancelled (as glibc
        // and FreeBSD answer), and it ends with the count it wrote.
        assert_eq!(s.cancel(big_id, &mut e), CancelOutcome::InFlight);
        drop(r);
        assert!(pbig.wait_timeout(TIMEOUT));
        let n = pbig.wait().1.expect("the count written");
        assert!(n > 0 && n < MIB, "count {n}");
    }
}

/// A pty cannot do `RWF_NOWAIT`: its ops wait on a non-blocking reopen of
/// the same terminal, so they too cost the engine nothing and can be
/// cancelled in both engines (before, the fallback held a pool thread in a
/// blocking read that could not be cancelled).
#[test]
fn a_pty_read_waits_for_readiness_and_can_be_cancelled() {
    for fallback in [false, true] {
        let (master, slave) = pty_pair(false);
        let st = device(&slave);
        let mt = device(&master);
        let mut e = engine(fallback);
        let o = op(&st, OpKind::Read, 0, vec![0; 64]);
        let p = submit(&st, &mut e, o);
        let id = p.key();
        assert!(!p.is_complete());
        assert_eq!(
            e.in_flight(),
            0,
            "a waiting pty read costs the engine nothing"
        );
        assert_eq!(
            st.strategy().unwrap().cancel(id, &mut e),
            CancelOutcome::Cancelled
        );
        assert!(p.wait_timeout(TIMEOUT));
        assert_eq!(p.wait().1, Err(Error::ECANCELED));
        // Canonical mode: the next read waits for a whole line.
        let pr = submit(&st, &mut e, op(&st, OpKind::Read, 0, vec![0; 64]));
        let pw = submit(&mt, &mut e, op(&mt, OpKind::Write, 0, b"line\n".to_vec()));
        let res = drain(&mut e, vec![pr, pw]);
        assert_eq!(res[1].1, Ok(5));
        assert_eq!(res[0].1, Ok(5), "fallback {fallback}");
        assert_eq!(&res[0].0.buf()[..5], b"line\n");
    }
}

#[test]
fn a_pty_master_waits_on_its_lane_not_in_the_engine() {
    for fallback in [false, true] {
        let (master, slave) = pty_pair(true);
        let mt = device(&master);
        let f = TempFile::new("beside-pty", 1 << 16);
        let ft = into_dyn(FileDevice::open(&f.path, FileOptions::new()).unwrap());
        let mut e = engine(fallback);
        // More than the pty holds: the write waits for the slave to read.
        let big = pattern(3, 0, 256 << 10);
        let pw = submit(&mt, &mut e, op(&mt, OpKind::Write, 0, big.clone()));
        e.poll(16).unwrap();
        assert!(!pw.is_complete(), "nobody has read the slave yet");
        assert_eq!(
            e.in_flight(),
            0,
            "a waiting pty write costs the engine nothing"
        );
        // The engine still serves the file meanwhile.
        let pf = submit(&ft, &mut e, op(&ft, OpKind::Write, 0, vec![9; 4096]));
        assert_eq!(
            drain(&mut e, vec![pf])[0].1,
            Ok(4096),
            "fallback {fallback}"
        );
        let h = reader(slave, big.len());
        assert!(pw.wait_timeout(TIMEOUT), "the pty write never finished");
        assert_eq!(
            pw.wait().1,
            Ok(big.len()),
            "its full count (fallback {fallback})"
        );
        let (slave, got) = h.join().unwrap();
        assert!(got == big, "the bytes, whole and in order");

        // Two reads: the second waits behind the first on the lane and can
        // be cancelled; the first is in its blocking read and cannot.
        let p1 = submit(&mt, &mut e, op(&mt, OpKind::Read, 0, vec![0; 64]));
        let p2 = submit(&mt, &mut e, op(&mt, OpKind::Read, 0, vec![0; 64]));
        assert_eq!(
            mt.strategy().unwrap().cancel(p2.key(), &mut e),
            CancelOutcome::Cancelled
        );
        assert!(p2.wait_timeout(TIMEOUT));
        assert_eq!(p2.wait().1, Err(Error::ECANCELED));
        // The first may not have reached its read yet (then it is still
        // queued and cancellable): only "under way" must leave it running.
        if mt.strategy().unwrap().cancel(p1.key(), &mut e) == CancelOutcome::InFlight {
            // SAFETY: valid buffer.
            let n = unsafe { libc::write(slave.as_raw_fd(), b"pong".as_ptr().cast(), 4) };
            assert_eq!(n, 4);
            assert!(p1.wait_timeout(TIMEOUT));
            let (o, r) = p1.wait();
            assert_eq!(r, Ok(4));
            assert_eq!(&o.buf()[..4], b"pong");
        } else {
            assert!(p1.wait_timeout(TIMEOUT));
            assert_eq!(p1.wait().1, Err(Error::ECANCELED));
        }
    }
}

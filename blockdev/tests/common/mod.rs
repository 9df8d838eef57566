//! Helpers shared by the device tests: submitting through an engine,
//! draining with a deadline, patterns and checksums. Temporary files and
//! the real `qemu-nbd` server come from `test-support` (one API for every
//! crate). Every wait has a timeout that fails the test.

#![allow(dead_code, unused_imports)]

use std::time::{Duration, Instant};

pub use test_support::{QemuNbd, TempFile, scratch_dir};

use aio_core::sync::Arc;
use aio_core::{Engines, Op, OpKind, Pending, Result, Target};
use blockdev::XorShift;

/// How long any test may wait for its ops.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Makes an op on `target`.
pub fn op(target: &Arc<dyn Target>, kind: OpKind, offset: u64, buf: Vec<u8>) -> Op {
    let len = buf.len();
    let mut op = Op::new(Arc::clone(target), buf);
    op.prepare(kind, offset, if kind.is_transfer() { len } else { 0 })
        .unwrap();
    op
}

/// Submits `op` to its target's strategy through `engine`.
pub fn submit(target: &Arc<dyn Target>, engine: &mut Engines, op: Op) -> Pending {
    let (p, q) = op.enqueue();
    let f = q.start().expect("a fresh op starts");
    target
        .strategy()
        .expect("devices have a strategy")
        .submit(f, engine);
    p
}

/// Polls and waits on `engine` until every op is delivered; fails the test
/// after `TIMEOUT`. Returns the ops and results in submission order.
pub fn drain(engine: &mut Engines, pendings: Vec<Pending>) -> Vec<(Op, Result<usize>)> {
    drain_within(engine, pendings, TIMEOUT)
}

/// As [`drain`], with a chosen timeout.
pub fn drain_within(
    engine: &mut Engines,
    pendings: Vec<Pending>,
    timeout: Duration,
) -> Vec<(Op, Result<usize>)> {
    let deadline = Instant::now() + timeout;
    loop {
        engine.poll(1024).expect("poll");
        if pendings.iter().all(|p| p.is_complete()) {
            break;
        }
        let left = pendings.iter().filter(|p| !p.is_complete()).count();
        assert!(
            Instant::now() < deadline,
            "timed out with {left} of {} ops pending",
            pendings.len()
        );
        engine.wait(Some(Duration::from_millis(20))).expect("wait");
    }
    pendings
        .into_iter()
        .map(|p| {
            assert!(
                p.wait_timeout(Duration::from_secs(5)),
                "delivered op did not wake"
            );
            p.wait()
        })
        .collect()
}

/// A block's worth of bytes unique to (`seed`, `block`).
pub fn pattern(seed: u64, block: u64, len: usize) -> Vec<u8> {
    let mut r = XorShift::new(seed.wrapping_mul(0x9E37_79B9).wrapping_add(block + 1));
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        v.extend_from_slice(&r.next_u64().to_le_bytes());
    }
    v.truncate(len);
    v
}

/// FNV-1a.
pub fn checksum(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| {
        (h ^ u64::from(x)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Writes `nblocks` distinct blocks of `bs` bytes in a shuffled order with
/// `qd` ops in flight at a time from this one thread, reads them all back
/// the same way, and compares checksums (then bytes).
pub fn integrity(
    target: &Arc<dyn Target>,
    engine: &mut Engines,
    bs: usize,
    nblocks: u64,
    qd: usize,
    seed: u64,
) {
    let mut order: Vec<u64> = (0..nblocks).collect();
    let mut r = XorShift::new(seed);
    for i in (1..order.len()).rev() {
        order.swap(i, (r.next_u64() % (i as u64 + 1)) as usize);
    }
    let mut expected = vec![0u64; nblocks as usize];
    for chunk in order.chunks(qd) {
        let mut ps = Vec::new();
        for &b in chunk {
            let data = pattern(seed, b, bs);
            expected[b as usize] = checksum(&data);
            ps.push(submit(
                target,
                engine,
                op(target, OpKind::Write, b * bs as u64, data),
            ));
        }
        for (_, res) in drain(engine, ps) {
            assert_eq!(res, Ok(bs), "write");
        }
    }
    let mut max_in_flight = 0;
    for chunk in order.chunks(qd) {
        let mut ps = Vec::new();
        for &b in chunk {
            ps.push(submit(
                target,
                engine,
                op(target, OpKind::Read, b * bs as u64, vec![0; bs]),
            ));
        }
        max_in_flight = max_in_flight.max(engine.in_flight());
        for ((op, res), &b) in drain(engine, ps).into_iter().zip(chunk) {
            assert_eq!(res, Ok(bs), "read of block {b}");
            let got = op.buf();
            if checksum(got) != expected[b as usize] {
                assert_eq!(got, &pattern(seed, b, bs)[..], "block {b} differs");
            }
        }
    }
    let _ = max_in_flight;
}

/// Runs `f` on another thread and fails the test if it has not returned
/// within `TIMEOUT` (for calls that block by design, such as synchronous
/// mode on a remote device).
pub fn within_deadline<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    test_support::within_deadline(TIMEOUT, f)
}

/// A new pty: its master and its slave (close-on-exec, no controlling
/// terminal), the slave in raw mode (no echo, no line discipline in the
/// way of the bytes) if `raw`, else canonical (a read waits for a line).
pub fn pty_pair(raw: bool) -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use std::os::fd::{FromRawFd, OwnedFd};
    // SAFETY: plain libc calls; the name is copied before the next call.
    let (master, slave_path) = unsafe {
        let m = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        assert!(m >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
        assert_eq!(libc::grantpt(m), 0);
        assert_eq!(libc::unlockpt(m), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(m, name.as_mut_ptr(), name.len()), 0);
        let path = std::ffi::CStr::from_ptr(name.as_ptr()).to_owned();
        (OwnedFd::from_raw_fd(m), path)
    };
    // SAFETY: a valid C string.
    let s = unsafe {
        libc::open(
            slave_path.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    assert!(s >= 0, "open slave: {}", std::io::Error::last_os_error());
    // SAFETY: just opened, owned by nobody else.
    let slave = unsafe { OwnedFd::from_raw_fd(s) };
    if raw {
        // SAFETY: `t` is a local termios; `s` is open.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            assert_eq!(libc::tcgetattr(s, &mut t), 0);
            libc::cfmakeraw(&mut t);
            assert_eq!(libc::tcsetattr(s, libc::TCSANOW, &t), 0);
        }
    }
    (master, slave)
}

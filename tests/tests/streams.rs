//! Stream ops through the service pools and blockdev's FileDevice, in both
//! engines (io_uring workers, and the fallback: `BasicEngine` workers with
//! a 4-thread blocking pool, as aio-posix builds it when io_uring is
//! refused). The rows, each of which failed before the readiness
//! waiter (blockdev `ready/`) and passes now:
//!
//! * row 1: a write waiting on a full pipe stalled an unrelated file's
//!   fsync, its writes and an O_DIRECT read of a third file (the waiting
//!   op sat in a worker's engine, which then never drained, so the fsync
//!   barrier never learnt that the file's writes had completed);
//! * row 5: in fallback mode, 4 reads waiting on empty pipes held the
//!   blocking pool's 4 threads, so a file write, and the pipe write that
//!   would wake a reader, hung;
//! * row 6: 64 reads waiting on 64 empty pipes used up the workers'
//!   in-flight budget, so a later O_DIRECT read stayed in progress.
//!
//! Every wait has a timeout that fails the test; no timing thresholds.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use aio_core::sync::Arc;
use aio_core::{Completion, Error, Op, OpKind, Pending, Result, Target, into_dyn};
use aio_pool::{PoolConfig, PoolSet, SubmitFlags, Submitted};
use blockdev::{AlignedBuf, BlockingPool, FileDevice, FileOptions};

const T: Duration = Duration::from_secs(30);

fn nop(_: &Completion<'_>) {}

/// Pools with io_uring engines, or (fallback) BasicEngine workers whose
/// file devices share a blocking pool of 4 threads.
fn pools(fallback: bool) -> PoolSet {
    let pc = PoolConfig::default().pools_per_class(1);
    let pc = if fallback {
        pc.engine_factory(|| Box::new(aio_core::BasicEngine::new()))
    } else {
        pc.engine_factory(|| Box::new(blockdev::UringEngine::new(64).expect("io_uring")))
    };
    PoolSet::new(pc).unwrap()
}

fn opts(fallback: bool, pool: &Arc<BlockingPool>) -> FileOptions {
    let o = FileOptions::new();
    if fallback {
        o.pool(Arc::clone(pool))
    } else {
        o
    }
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for two descriptors.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both were just created and are owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

fn borrowed(fd: &OwnedFd, o: FileOptions) -> Arc<dyn Target> {
    // SAFETY: every caller keeps `fd` open until its ops are delivered.
    into_dyn(unsafe { FileDevice::from_raw_fd(fd.as_raw_fd(), o) }.unwrap())
}

fn scratch(tag: &str, size: u64) -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let p = dir.join(format!("streams-{tag}-{}.dat", std::process::id()));
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(size).unwrap();
    p
}

fn go(pools: &PoolSet, t: &Arc<dyn Target>, kind: OpKind, off: u64, buf: Vec<u8>) -> Pending {
    let len = if kind.is_transfer() { buf.len() } else { 0 };
    let mut op = Op::new(Arc::clone(t), buf);
    op.prepare(kind, off, len).unwrap();
    op.set_callback(nop);
    match pools.submit(op, SubmitFlags::NO_INLINE) {
        Ok(Submitted::Pending(p)) => p,
        other => panic!("submit: {other:?}"),
    }
}

/// An O_DIRECT read of 4096 bytes into `buf`.
fn go_direct(pools: &PoolSet, t: &Arc<dyn Target>, buf: &mut AlignedBuf) -> Pending {
    // SAFETY: `buf` outlives the op: every caller waits for it.
    let mut op = unsafe { Op::from_raw_parts(Arc::clone(t), buf.as_mut_ptr(), 4096) };
    op.prepare(OpKind::Read, 0, 4096).unwrap();
    op.set_callback(nop);
    match pools.submit(op, SubmitFlags::NO_INLINE) {
        Ok(Submitted::Pending(p)) => p,
        other => panic!("submit: {other:?}"),
    }
}

fn done(p: Pending, what: &str) -> Result<usize> {
    assert!(p.wait_timeout(T), "{what} never completed");
    p.wait().1
}

fn fill(w: &OwnedFd) {
    // SAFETY: plain fcntl/write calls on a valid descriptor and buffer.
    unsafe {
        let fd = w.as_raw_fd();
        let fl = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
        let b = [0u8; 4096];
        while libc::write(fd, b.as_ptr().cast(), b.len()) > 0 {}
        libc::fcntl(fd, libc::F_SETFL, fl);
    }
}

#[test]
fn row1_a_write_to_a_full_pipe_stalls_no_other_file() {
    for fallback in [false, true] {
        let bp = BlockingPool::new(4);
        let pools = pools(fallback);
        let (r, w) = pipe();
        fill(&w);
        let pw = borrowed(&w, opts(fallback, &bp));
        let stuck = go(&pools, &pw, OpKind::Write, 0, vec![9; 100]);
        let fpath = scratch("row1-file", 2 << 20);
        let dpath = scratch("row1-direct", 1 << 20);
        let ft = into_dyn(FileDevice::open(&fpath, opts(fallback, &bp)).unwrap());
        let dt = into_dyn(FileDevice::open(&dpath, opts(fallback, &bp).direct(true)).unwrap());
        let mut ps: Vec<Pending> = (0..200)
            .map(|i| go(&pools, &ft, OpKind::Write, i * 4096, vec![1; 4096]))
            .collect();
        let sync = go(&pools, &ft, OpKind::Fsync, 0, Vec::new());
        ps.extend((200..300).map(|i| go(&pools, &ft, OpKind::Write, i * 4096, vec![2; 4096])));
        let mut buf = AlignedBuf::new(4096, 4096).unwrap();
        let dr = go_direct(&pools, &dt, &mut buf);
        for (i, p) in ps.into_iter().enumerate() {
            assert_eq!(
                done(p, &format!("file write {i} (fallback {fallback})")),
                Ok(4096)
            );
        }
        assert_eq!(done(sync, &format!("fsync (fallback {fallback})")), Ok(0));
        assert_eq!(
            done(dr, &format!("O_DIRECT read (fallback {fallback})")),
            Ok(4096)
        );
        assert!(!stuck.is_complete(), "the pipe is still full");
        drop(r); // the reader goes: the write fails with EPIPE
        assert_eq!(done(stuck, "the pipe write"), Err(Error::EPIPE));
        let _ = std::fs::remove_file(&fpath);
        let _ = std::fs::remove_file(&dpath);
    }
}

#[test]
fn row5_waiting_reads_hold_no_fallback_thread() {
    let bp = BlockingPool::new(4);
    let pools = pools(true);
    let pipes: Vec<(OwnedFd, OwnedFd)> = (0..4).map(|_| pipe()).collect();
    let reads: Vec<Pending> = pipes
        .iter()
        .map(|(r, _)| {
            let t = borrowed(r, opts(true, &bp));
            go(&pools, &t, OpKind::Read, 0, vec![0; 8])
        })
        .collect();
    let fpath = scratch("row5-file", 1 << 20);
    let ft = into_dyn(FileDevice::open(&fpath, opts(true, &bp)).unwrap());
    let fw = go(&pools, &ft, OpKind::Write, 0, vec![5; 4096]);
    assert_eq!(done(fw, "the file write"), Ok(4096));
    let wt = borrowed(&pipes[0].1, opts(true, &bp));
    let pw = go(&pools, &wt, OpKind::Write, 0, b"wake up!".to_vec());
    assert_eq!(done(pw, "the pipe write"), Ok(8));
    let mut reads = reads.into_iter();
    assert_eq!(done(reads.next().unwrap(), "the woken read"), Ok(8));
    assert!(reads.all(|p| !p.is_complete()));
    drop(pipes); // the writers go: the other reads see EOF
    let _ = std::fs::remove_file(&fpath);
}

#[test]
fn row6_many_waiting_reads_hold_up_nothing() {
    for fallback in [false, true] {
        let bp = BlockingPool::new(4);
        let pools = pools(fallback);
        let pipes: Vec<(OwnedFd, OwnedFd)> = (0..64).map(|_| pipe()).collect();
        let reads: Vec<Pending> = pipes
            .iter()
            .map(|(r, _)| {
                let t = borrowed(r, opts(fallback, &bp));
                go(&pools, &t, OpKind::Read, 0, vec![0; 8])
            })
            .collect();
        let dpath = scratch("row6-direct", 1 << 20);
        let dt = into_dyn(FileDevice::open(&dpath, opts(fallback, &bp).direct(true)).unwrap());
        let mut bufs: Vec<AlignedBuf> = (0..8)
            .map(|_| AlignedBuf::new(4096, 4096).unwrap())
            .collect();
        let drs: Vec<Pending> = bufs.iter_mut().map(|b| go_direct(&pools, &dt, b)).collect();
        for (i, p) in drs.into_iter().enumerate() {
            assert_eq!(
                done(p, &format!("O_DIRECT read {i} (fallback {fallback})")),
                Ok(4096)
            );
        }
        assert!(reads.iter().all(|p| !p.is_complete()));
        // SAFETY: valid buffer.
        let n = unsafe { libc::write(pipes[63].1.as_raw_fd(), b"x".as_ptr().cast(), 1) };
        assert_eq!(n, 1);
        let mut reads = reads;
        let last = reads.pop().unwrap();
        assert_eq!(done(last, "the last pipe's read"), Ok(1));
        drop(pipes);
        for p in reads {
            assert_eq!(done(p, "a read at EOF"), Ok(0));
        }
        let _ = std::fs::remove_file(&dpath);
    }
}

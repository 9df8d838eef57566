//! The Rust API, in-process: files and streams, cancellation, fsync
//! ordering, lio_listio, notifications, bad input, limits. Every wait has
//! a timeout that fails the test.

use aio_core::sync::atomic::{AtomicUsize, Ordering};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use aio_core::Error;
use aio_posix::{
    CancelStatus, InProgress, ListMode, Notification, Request, SyncMode, aio_cancel, aio_fsync,
    aio_read, aio_suspend, aio_write, lio_listio,
};

const T: Option<Duration> = Some(Duration::from_secs(20));

fn temp_file() -> std::fs::File {
    let p = std::env::temp_dir().join(format!(
        "aio-posix-rust-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&p)
        .unwrap();
    std::fs::remove_file(&p).unwrap();
    f
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut p = [0; 2];
    // SAFETY: writes two descriptors into `p`.
    assert_eq!(unsafe { libc::pipe(p.as_mut_ptr()) }, 0);
    // SAFETY: fresh descriptors owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) }
}

fn wait(op: InProgress) -> (Request, aio_core::Result<usize>) {
    match op.wait(T) {
        Ok(x) => x,
        Err((_, e)) => panic!("wait failed: {e}"),
    }
}

fn write_fd(fd: RawFd, data: &[u8]) {
    // SAFETY: writes from a live slice.
    let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
    assert_eq!(n, data.len() as isize);
}

#[test]
fn file_write_then_read_in_parallel() {
    let f = temp_file();
    let fd = f.as_raw_fd();
    let ops: Vec<_> = (0..32)
        .map(|i| aio_write(Request::write(fd, i * 4096, vec![i as u8; 4096])).unwrap())
        .collect();
    for op in ops {
        assert_eq!(wait(op).1, Ok(4096));
    }
    let ops: Vec<_> = (0..32)
        .map(|i| aio_read(Request::read(fd, i * 4096, 4096)).unwrap())
        .collect();
    for (i, op) in ops.into_iter().enumerate() {
        let (req, r) = wait(op);
        assert_eq!(r, Ok(4096));
        assert!(req.buf().iter().all(|&b| b == i as u8));
    }
    // Past the end: 0 bytes.
    let (_, r) = wait(aio_read(Request::read(fd, 1 << 30, 16)).unwrap());
    assert_eq!(r, Ok(0));
}

#[test]
fn pipe_reads_are_fifo_and_cancellable() {
    let (r, w) = pipe();
    let a = aio_read(Request::read(r.as_raw_fd(), 999, 4)).unwrap();
    let b = aio_read(Request::read(r.as_raw_fd(), 0, 4)).unwrap();
    assert!(a.error().is_none() && b.error().is_none());
    write_fd(w.as_raw_fd(), b"firstsec");
    let (ra, x) = wait(a);
    let (rb, y) = wait(b);
    assert_eq!((x, y), (Ok(4), Ok(4)));
    assert_eq!(ra.buf(), b"firs");
    assert_eq!(rb.buf(), b"tsec");
    // A read waiting for data is cancelled.
    let c = aio_read(Request::read(r.as_raw_fd(), 0, 64)).unwrap();
    aio_core::sync::thread::sleep(Duration::from_millis(10));
    assert_eq!(c.cancel(), Ok(CancelStatus::Canceled));
    assert_eq!(c.error(), Some(Err(Error::ECANCELED)));
    assert_eq!(c.cancel(), Ok(CancelStatus::AllDone));
    let (_, r2) = wait(c);
    assert_eq!(r2, Err(Error::ECANCELED));
    // aio_cancel(fd, NULL) on a descriptor with nothing in flight.
    assert_eq!(aio_cancel(r.as_raw_fd()), Ok(CancelStatus::AllDone));
    assert_eq!(aio_cancel(-1), Err(Error::EBADF));
}

#[test]
fn dropping_an_in_progress_op_cancels_it() {
    let (r, _w) = pipe();
    let op = aio_read(Request::read(r.as_raw_fd(), 0, 64)).unwrap();
    drop(op); // must not hang, must not leave the buffer to the kernel
    assert_eq!(aio_cancel(r.as_raw_fd()), Ok(CancelStatus::AllDone));
}

#[test]
fn fsync_follows_earlier_writes() {
    let f = temp_file();
    let fd = f.as_raw_fd();
    let ws: Vec<_> = (0..16)
        .map(|i| aio_write(Request::write(fd, i * 65536, vec![7; 65536])).unwrap())
        .collect();
    let s = aio_fsync(fd, SyncMode::DataSync, Notification::None).unwrap();
    let (_, r) = wait(s);
    assert_eq!(r, Ok(0));
    for w in &ws {
        assert_eq!(
            w.error(),
            Some(Ok(65536)),
            "a write finished after the fsync"
        );
    }
    drop(ws);
    assert_eq!(
        aio_fsync(-1, SyncMode::Sync, Notification::None).err(),
        Some(Error::EBADF)
    );
}

static LIST_CALLS: AtomicUsize = AtomicUsize::new(0);
extern "C" fn list_done(v: libc::sigval) {
    assert_eq!(v.sival_ptr as usize, 0xfeed);
    LIST_CALLS.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn listio_wait_and_nowait() {
    let f = temp_file();
    let fd = f.as_raw_fd();
    let reqs = vec![
        Request::write(fd, 0, b"abcd".to_vec()),
        Request::nop(),
        Request::write(fd, 4, b"efgh".to_vec()),
    ];
    let (ops, r) = lio_listio(ListMode::Wait, reqs);
    assert_eq!(r, Ok(()));
    for op in &ops {
        assert!(op.is_done(), "LIO_WAIT returned before an op completed");
    }
    drop(ops);
    let n = Notification::Thread {
        function: list_done,
        value: 0xfeed,
        attributes: None,
    };
    let (ops, r) = lio_listio(
        ListMode::NoWait(n),
        vec![Request::read(fd, 0, 4), Request::read(fd, 4, 4)],
    );
    assert_eq!(r, Ok(()));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while LIST_CALLS.load(Ordering::SeqCst) == 0 {
        assert!(std::time::Instant::now() < deadline, "no list notification");
        aio_core::sync::thread::sleep(Duration::from_millis(1));
    }
    let mut got = Vec::new();
    for op in ops {
        let (req, r) = wait(op);
        assert_eq!(r, Ok(4));
        got.extend_from_slice(req.buf());
    }
    assert_eq!(got, b"abcdefgh");
    // An empty NOWAIT list notifies at once.
    let before = LIST_CALLS.load(Ordering::SeqCst);
    let (_, r) = lio_listio(ListMode::NoWait(n), Vec::new());
    assert_eq!(r, Ok(()));
    while LIST_CALLS.load(Ordering::SeqCst) == before {
        assert!(
            std::time::Instant::now() < deadline,
            "no notification for an empty list"
        );
        aio_core::sync::thread::sleep(Duration::from_millis(1));
    }
    // A failing entry: EIO for the list, EBADF for the entry.
    let (ops, r) = lio_listio(ListMode::Wait, vec![Request::read(-1, 0, 4)]);
    assert_eq!(r, Err(Error::EIO));
    assert_eq!(ops[0].error(), Some(Err(Error::EBADF)));
}

/// What the call can tell is refused with the request back; what the
/// transfer would tell (a closed descriptor, a bad offset) is the op's
/// result, as glibc reports it.
#[test]
fn bad_input_is_refused_or_reported_as_glibc_does() {
    let f = temp_file();
    let fd = f.as_raw_fd();
    let done = |op: InProgress| wait(op).1;
    let op = aio_read(Request::read(-1, 0, 4)).unwrap();
    assert_eq!(done(op), Err(Error::EBADF));
    let op = aio_read(Request::read(fd, -5, 4)).unwrap();
    assert_eq!(done(op), Err(Error::EINVAL));
    let op = aio_read(Request::read(fd, i64::MAX - 2, 4)).unwrap();
    assert_eq!(done(op), Err(Error::EINVAL));
    let e = aio_write(Request::write(fd, 0, vec![1]).priority(21)).unwrap_err();
    assert_eq!(e.error, Error::EINVAL);
    assert_eq!(e.request.buf().len(), 1);
    let bad = Notification::Signal {
        signo: 1000,
        value: 0,
    };
    let e = aio_read(Request::read(fd, 0, 4).notify(bad)).unwrap_err();
    assert_eq!(e.error, Error::EINVAL);
    // Signal 0 is valid and sends nothing.
    let zero = Notification::Signal { signo: 0, value: 0 };
    let op = aio_read(Request::read(fd, 0, 4).notify(zero)).unwrap();
    assert_eq!(done(op), Ok(0));
}

#[test]
fn suspend_times_out_and_wakes() {
    let (r, w) = pipe();
    let op = aio_read(Request::read(r.as_raw_fd(), 0, 1)).unwrap();
    assert_eq!(
        aio_suspend(&[&op], Some(Duration::from_millis(20))),
        Err(Error::EAGAIN)
    );
    let wfd = w.as_raw_fd();
    let t = aio_core::sync::thread::spawn(move || {
        aio_core::sync::thread::sleep(Duration::from_millis(20));
        write_fd(wfd, b"z");
    });
    aio_suspend(&[&op], T).unwrap();
    t.join().unwrap();
    let (req, res) = op.try_return().unwrap();
    assert_eq!((res, req.buf()), (Ok(1), &b"z"[..]));
}

#[test]
fn signal_notification_carries_the_value() {
    let f = temp_file();
    let sig = libc::SIGRTMIN() + 5;
    // SAFETY: sigset_t is plain data; block the signal on this thread and
    // wait for it with sigtimedwait.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        let n = Notification::ThreadId {
            signo: sig,
            value: 0x1234,
            tid: libc::gettid(),
        };
        let op = aio_write(Request::write(f.as_raw_fd(), 0, b"x".to_vec()).notify(n)).unwrap();
        let mut si: libc::siginfo_t = std::mem::zeroed();
        let ts = libc::timespec {
            tv_sec: 20,
            tv_nsec: 0,
        };
        assert_eq!(libc::sigtimedwait(&set, &mut si, &ts), sig);
        assert_eq!(si.si_code, libc::SI_ASYNCIO);
        assert_eq!(si.si_value().sival_ptr as usize, 0x1234);
        assert!(op.is_done());
        drop(op);
    }
}

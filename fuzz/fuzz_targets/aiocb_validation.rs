//! aiocb and lio_listio input validation through the C entry points of
//! aio-posix (`aio_posix::ffi`, called as Rust functions): aiocbs built
//! from the input (opcodes, descriptors valid and not, offsets including
//! negative and near `OFF_MAX`, lengths including past `SSIZE_MAX`,
//! `aio_reqprio`, sigevent notify values and signal numbers, NULL entries,
//! `nent` around the list limit, resubmission of an aiocb in flight) are
//! submitted, cancelled, polled, waited for and returned in random order.
//!
//! Checked: nothing crashes; every failure is -1 with an errno the entry
//! point documents; an accepted op is in progress or done (never "unknown
//! aiocb"); and at the end of each input every accepted op completes
//! (aio_suspend with a timeout, aio_cancel for a read of an empty pipe),
//! its aio_return is consistent with its aio_error, and a second
//! aio_return fails with EINVAL. Bounded time per input: ops are small and
//! the waits have deadlines; a hang is a panic.

#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aio_posix::ffi;
use libfuzzer_sys::fuzz_target;

/// aiocbs per input.
const NCB: usize = 8;
/// Bytes of each aiocb's buffer; valid lengths never exceed it.
const BUF: usize = 4096;
/// The longest list an input builds (the library has no list limit).
const LISTIO_MAX: i32 = 16;
/// How long an accepted op may take at the end of an input.
const DEADLINE: Duration = Duration::from_secs(10);

/// Descriptors opened once: a regular file read-write and read-only, and
/// both ends of a pipe (the read end non-blocking for draining).
struct Fds {
    file: i32,
    file_ro: i32,
    pipe_r: i32,
    pipe_w: i32,
}

extern "C" fn on_signal(_: libc::c_int) {}

extern "C" fn on_thread(_: libc::sigval) {}

fn fds() -> &'static Fds {
    static FDS: OnceLock<Fds> = OnceLock::new();
    FDS.get_or_init(|| {
        // SAFETY: set before the library's first submission, while the
        // only threads are libFuzzer's (which do not read the environment).
        unsafe {
            std::env::set_var("AIO_POSIX_MAX_OPS", "64");
            std::env::set_var("AIO_POSIX_THREADS", "1");
            std::env::set_var("AIO_POSIX_NOTIFY_THREADS", "1");
            std::env::set_var("AIO_POSIX_PIN", "0");
        }
        // Harmless handlers for the signals a notification may send (not
        // SIGUSR1/2, which libFuzzer uses).
        for s in [
            libc::SIGRTMIN(),
            libc::SIGRTMIN() + 1,
            libc::SIGRTMAX() - 1,
            libc::SIGRTMAX(),
        ] {
            // SAFETY: installs a handler that does nothing.
            unsafe { libc::signal(s, on_signal as *const () as libc::sighandler_t) };
        }
        let path = std::env::temp_dir().join(format!("aiocb-fuzz-{}", std::process::id()));
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: plain syscalls on a path we own.
        unsafe {
            let file = libc::open(
                c.as_ptr(),
                libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC,
                0o600,
            );
            let file_ro = libc::open(c.as_ptr(), libc::O_RDONLY);
            assert!(file >= 0 && file_ro >= 0);
            libc::unlink(c.as_ptr());
            assert_eq!(libc::ftruncate(file, 65536), 0);
            let mut p = [0; 2];
            assert_eq!(libc::pipe(p.as_mut_ptr()), 0);
            assert_eq!(libc::fcntl(p[0], libc::F_SETFL, libc::O_NONBLOCK), 0);
            Fds {
                file,
                file_ro,
                pipe_r: p[0],
                pipe_w: p[1],
            }
        }
    })
}

/// The input, consumed a byte at a time (zeros once it runs out).
struct In<'a>(&'a [u8]);

impl In<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.u8() as usize % from.len()]
    }
}

/// Whether lio_listio lists may carry an aiocb that is in flight (see the
/// lio_listio step): on unless AIOCB_FUZZ_LIO_INFLIGHT=0. (It was off while
/// the library overwrote the status of such an entry; fixed in instance/wait.rs, `listio`.)
fn lio_inflight() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("AIOCB_FUZZ_LIO_INFLIGHT").is_none_or(|v| v != "0"))
}

fn errno() -> i32 {
    // SAFETY: this thread's errno.
    unsafe { *libc::__errno_location() }
}

fn set_errno(v: i32) {
    // SAFETY: this thread's errno.
    unsafe { *libc::__errno_location() = v };
}

/// A failed call must say -1 and one of `allowed`.
fn check_fail(what: &str, r: i64, allowed: &[i32]) -> bool {
    if r == -1 {
        let e = errno();
        assert!(allowed.contains(&e), "{what}: undocumented errno {e}");
        return false;
    }
    true
}

/// Errnos of the submitting entry points (ffi.rs's table).
const SUBMIT_ERRNOS: &[i32] = &[
    libc::EINVAL,
    libc::EBADF,
    libc::EAGAIN,
    libc::EOVERFLOW,
    libc::EFAULT,
];

struct Cbs {
    cb: Box<[libc::aiocb; NCB]>,
    buf: Box<[[u8; BUF]; NCB]>,
    /// An op was accepted on this aiocb and not yet returned by us.
    live: [bool; NCB],
    /// An aio_cancel was made this input (an op may end with ECANCELED).
    cancels: bool,
}

impl Cbs {
    fn ptr(&mut self, i: usize) -> *mut libc::aiocb {
        &mut self.cb[i]
    }

    /// Fills aiocb `i` from the input. Lengths are either within the
    /// buffer, zero, or past SSIZE_MAX (which must be refused): never a
    /// length the kernel could act on beyond the buffer.
    fn fill(&mut self, i: usize, d: &mut In<'_>, no_pipe_read: bool) {
        let f = fds();
        // SAFETY: all-zero is a valid aiocb.
        let mut c: libc::aiocb = unsafe { std::mem::zeroed() };
        c.aio_fildes = d.pick(&[
            f.file,
            f.file,
            f.file_ro,
            f.pipe_r,
            f.pipe_w,
            -1,
            1 << 20,
            12345,
        ]);
        if no_pipe_read && c.aio_fildes == f.pipe_r {
            c.aio_fildes = f.file;
        }
        c.aio_lio_opcode = d.pick(&[libc::LIO_READ, libc::LIO_WRITE, libc::LIO_NOP, 7, -1]);
        c.aio_reqprio = i32::from(d.u8() as i8);
        let small = (d.u32() % 64) as i64 * 512;
        c.aio_offset = d.pick(&[
            0,
            small,
            -1,
            -4096,
            i64::MAX,
            i64::MAX - 100,
            1 << 40,
            small + 1,
        ]);
        let len = 1 + d.u32() as usize % BUF;
        c.aio_nbytes = d.pick(&[len, len, 0, BUF, usize::MAX, isize::MAX as usize + 1]);
        // Writes to the pipe stay small, so it never fills (it is drained
        // after every input).
        if c.aio_fildes == f.pipe_w && c.aio_nbytes <= BUF {
            c.aio_nbytes = c.aio_nbytes.min(64);
        }
        c.aio_buf = if d.u8() % 16 == 0 {
            std::ptr::null_mut()
        } else {
            self.buf[i].as_mut_ptr().cast()
        };
        let notify = d.pick(&[
            libc::SIGEV_NONE,
            libc::SIGEV_NONE,
            libc::SIGEV_SIGNAL,
            libc::SIGEV_THREAD,
            libc::SIGEV_THREAD_ID,
            3,
            -1,
            1000,
        ]);
        // Signal numbers: harmless ones, or invalid ones (which must be
        // refused): never one that would stop or kill the fuzzer.
        let signo = d.pick(&[
            libc::SIGRTMIN(),
            libc::SIGRTMIN() + 1,
            libc::SIGRTMAX() - 1,
            libc::SIGRTMAX(),
            0,
            -1,
            65,
            1000,
        ]);
        c.aio_sigevent.sigev_notify = notify;
        c.aio_sigevent.sigev_signo = signo;
        c.aio_sigevent.sigev_value = libc::sigval {
            sival_ptr: std::ptr::null_mut(),
        };
        match notify {
            libc::SIGEV_THREAD_ID => {
                // SAFETY: plain syscall.
                let me = unsafe { libc::gettid() };
                c.aio_sigevent.sigev_notify_thread_id = d.pick(&[me, me, 0, -5]);
            }
            libc::SIGEV_THREAD => {
                let func = if d.u8() % 4 == 0 {
                    0
                } else {
                    on_thread as extern "C" fn(libc::sigval) as usize
                };
                // SAFETY: glibc's sigevent keeps `{function, attributes}`
                // where libc's names `sigev_notify_thread_id`: write the
                // function pointer there (8 bytes inside the union).
                unsafe {
                    let p = std::ptr::addr_of_mut!(c.aio_sigevent.sigev_notify_thread_id)
                        .cast::<usize>();
                    p.write_unaligned(func);
                }
            }
            _ => {}
        }
        self.cb[i] = c;
    }

    /// Submits aiocb `i` by `how` (0 read, 1 write, 2 fsync, 3 fsync with
    /// a bad op) and checks the answer.
    fn submit(&mut self, i: usize, how: u8) {
        let was_live = self.live[i];
        let p = self.ptr(i);
        set_errno(0);
        // SAFETY: a valid aiocb whose buffer outlives the op (both live
        // until every op of this input completed).
        let r = unsafe {
            match how % 4 {
                0 => ffi::aio_read(p),
                1 => ffi::aio_write(p),
                2 => ffi::aio_fsync(libc::O_SYNC, p),
                _ => ffi::aio_fsync(if how & 4 == 0 { libc::O_DSYNC } else { 12345 }, p),
            }
        };
        if check_fail("submit", i64::from(r), SUBMIT_ERRNOS) {
            assert_eq!(r, 0);
            if how % 4 == 3 && how & 4 != 0 {
                panic!("aio_fsync accepted op 12345");
            }
            self.accepted(i);
        } else if was_live {
            // Refused (EINVAL if it is still in flight): the op in flight
            // is untouched and stays live.
            let e = unsafe_error(&self.cb[i]);
            assert!(e >= 0, "a refused resubmission lost the op in flight");
        }
    }

    /// Op `i` was accepted: its status is in progress or a result.
    fn accepted(&mut self, i: usize) {
        let e = unsafe_error(&self.cb[i]);
        assert!(
            e >= 0,
            "aio_error of an accepted op failed (errno {})",
            errno()
        );
        self.live[i] = true;
    }

    /// Waits (bounded) for op `i`, cancelling it if it waits on an empty
    /// pipe; takes its result and checks it.
    fn finish(&mut self, i: usize) {
        let f = fds();
        let start = Instant::now();
        let mut cancelled_at = None;
        loop {
            let e = unsafe_error(&self.cb[i]);
            if e == -1 {
                // Returned meanwhile (a resubmission or explicit return);
                // nothing left.
                assert_eq!(errno(), libc::EINVAL);
                self.live[i] = false;
                return;
            }
            if e != libc::EINPROGRESS {
                break;
            }
            let waited = start.elapsed();
            assert!(
                waited < DEADLINE,
                "an accepted op did not complete in {DEADLINE:?}: a hang"
            );
            if waited > Duration::from_millis(20) && cancelled_at.is_none() {
                let p = self.ptr(i);
                // SAFETY: a valid aiocb.
                let c = unsafe { ffi::aio_cancel(self.cb[i].aio_fildes, p) };
                assert!(
                    c == libc::AIO_CANCELED || c == libc::AIO_NOTCANCELED || c == libc::AIO_ALLDONE,
                    "aio_cancel: {c} (errno {})",
                    errno()
                );
                cancelled_at = Some(c);
                // A write waiting for a full pipe: make room.
                drain(f.pipe_r);
            }
            let list = [&self.cb[i] as *const libc::aiocb];
            let ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 5_000_000,
            };
            // SAFETY: a list of one valid aiocb and a valid timeout.
            let r = unsafe { ffi::aio_suspend(list.as_ptr(), 1, &ts) };
            check_fail("aio_suspend", i64::from(r), &[libc::EAGAIN, libc::EINTR]);
        }
        let e = unsafe_error(&self.cb[i]);
        let p = self.ptr(i);
        // SAFETY: a valid aiocb.
        let r = unsafe { ffi::aio_return(p) };
        if e == 0 {
            assert!(r >= 0, "aio_error 0 but aio_return {r}");
            assert!(
                r as usize <= self.cb[i].aio_nbytes,
                "returned more than asked"
            );
        } else {
            assert!(e > 0 && e < 4096, "aio_error {e}");
            assert_eq!(r, -1, "aio_error {e} but aio_return {r}");
        }
        if e == libc::ECANCELED {
            assert!(
                cancelled_at.is_some() || self.cancels,
                "ECANCELED without a cancel"
            );
        }
        // Exactly once: the result is gone now.
        set_errno(0);
        // SAFETY: a valid aiocb.
        assert_eq!(
            unsafe { ffi::aio_return(p) },
            -1,
            "a second aio_return succeeded"
        );
        assert_eq!(errno(), libc::EINVAL);
        self.live[i] = false;
    }
}

fn unsafe_error(cb: &libc::aiocb) -> i32 {
    set_errno(0);
    // SAFETY: a valid aiocb.
    unsafe { ffi::aio_error(cb) }
}

fn drain(fd: i32) {
    let mut b = [0u8; 4096];
    // SAFETY: a non-blocking read into a local buffer.
    while unsafe { libc::read(fd, b.as_mut_ptr().cast(), b.len()) } > 0 {}
}

fuzz_target!(|data: &[u8]| {
    let f = fds();
    let mut d = In(data);
    // SAFETY: all-zero is a valid (never submitted) aiocb.
    let zero: libc::aiocb = unsafe { std::mem::zeroed() };
    let mut cbs = Cbs {
        cb: Box::new([zero; NCB]),
        buf: Box::new([[0u8; BUF]; NCB]),
        live: [false; NCB],
        cancels: false,
    };
    // A never-submitted aiocb is unknown to aio_error and aio_return.
    assert_eq!(unsafe_error(&cbs.cb[0]), -1);
    assert_eq!(errno(), libc::EINVAL);
    for i in 0..NCB {
        cbs.fill(i, &mut d, false);
    }
    let steps = 1 + d.u8() % 24;
    for _ in 0..steps {
        let i = d.u8() as usize % NCB;
        match d.u8() % 9 {
            0 => {
                // A fresh aiocb, unless it is in flight (its memory is the
                // library's until it completes).
                if !cbs.live[i] {
                    cbs.fill(i, &mut d, false);
                }
            }
            1 => {
                let how = d.u8();
                if !cbs.live[i] {
                    cbs.fill(i, &mut d, false);
                }
                cbs.submit(i, how); // resubmits an op in flight too
            }
            2 => {
                // lio_listio: entries from the aiocbs not in flight, NULLs,
                // and (for LIO_NOWAIT) ones in flight.
                let wait = d.u8() % 4 == 0;
                let n = d.u8() as usize % (LISTIO_MAX as usize + 4);
                let mut list: Vec<*mut libc::aiocb> =
                    vec![std::ptr::null_mut(); LISTIO_MAX as usize + 4];
                let mut used = [false; NCB];
                for slot in list.iter_mut().take(n) {
                    let j = d.u8() as usize;
                    if j % 5 == 0 {
                        continue; // NULL entry
                    }
                    let j = j % NCB;
                    // An aiocb in flight (live, or earlier in this list) as
                    // an entry, for LIO_NOWAIT: it must be refused without
                    // its status being touched (instance/wait.rs, `listio`).
                    if (cbs.live[j] || used[j]) && (wait || !lio_inflight()) {
                        continue;
                    }
                    if !cbs.live[j] && !used[j] {
                        // LIO_WAIT must not wait on an empty pipe.
                        cbs.fill(j, &mut d, wait);
                    }
                    used[j] = true;
                    *slot = cbs.ptr(j);
                }
                let nent = d.pick(&[n as i32, n as i32, -1, LISTIO_MAX, LISTIO_MAX + 1, 0]);
                let nent = nent.min(list.len() as i32);
                let mode = d.pick(&[libc::LIO_NOWAIT, libc::LIO_NOWAIT, libc::LIO_WAIT, 5]);
                let mode = if mode == libc::LIO_WAIT && !wait {
                    libc::LIO_NOWAIT
                } else {
                    mode
                };
                // SAFETY: all-zero is a valid sigevent (SIGEV_SIGNAL with
                // signal 0: valid, nothing is sent).
                let mut sev: libc::sigevent = unsafe { std::mem::zeroed() };
                sev.sigev_notify = d.pick(&[libc::SIGEV_NONE, libc::SIGEV_SIGNAL, 77]);
                sev.sigev_signo = d.pick(&[libc::SIGRTMIN(), 0, 99]);
                let sig = if d.u8() % 2 == 0 {
                    std::ptr::null_mut()
                } else {
                    &mut sev as *mut _
                };
                let list_ptr = if d.u8() % 16 == 0 {
                    std::ptr::null()
                } else {
                    list.as_ptr()
                };
                set_errno(0);
                // SAFETY: `list` holds at least `nent` entries, each NULL
                // or a valid aiocb with its buffer; `sig` NULL or valid.
                let r = unsafe { ffi::lio_listio(mode, list_ptr, nent, sig) };
                check_fail(
                    "lio_listio",
                    i64::from(r),
                    &[libc::EINVAL, libc::EAGAIN, libc::EIO, libc::EINTR],
                );
                // Any entry may now hold an op (queued, or refused with its
                // error in the aiocb): let `finish` sort it out.
                for (j, u) in used.iter().enumerate() {
                    if *u && unsafe_error(&cbs.cb[j]) != -1 {
                        cbs.live[j] = true;
                    }
                }
                if r == 0 && mode == libc::LIO_WAIT {
                    for (j, u) in used.iter().enumerate() {
                        let e = unsafe_error(&cbs.cb[j]);
                        if *u && cbs.cb[j].aio_lio_opcode != libc::LIO_NOP && e != -1 {
                            assert_ne!(e, libc::EINPROGRESS, "LIO_WAIT returned before entry {j}");
                        }
                    }
                }
            }
            3 => {
                let p = cbs.ptr(i);
                let fd = d.pick(&[cbs.cb[i].aio_fildes, f.file, -1, 4321]);
                let whole = d.u8() % 4 == 0;
                cbs.cancels = true;
                set_errno(0);
                // SAFETY: a valid aiocb, or NULL.
                let r =
                    unsafe { ffi::aio_cancel(fd, if whole { std::ptr::null_mut() } else { p }) };
                if check_fail("aio_cancel", i64::from(r), &[libc::EBADF, libc::EINVAL]) {
                    assert!(
                        r == libc::AIO_CANCELED
                            || r == libc::AIO_NOTCANCELED
                            || r == libc::AIO_ALLDONE,
                        "aio_cancel: {r}"
                    );
                }
            }
            4 => {
                let e = unsafe_error(&cbs.cb[i]);
                if e == -1 {
                    assert_eq!(errno(), libc::EINVAL);
                    assert!(
                        !cbs.live[i],
                        "an accepted, unreturned op is unknown to aio_error"
                    );
                }
            }
            5 => {
                if cbs.live[i] && unsafe_error(&cbs.cb[i]) != libc::EINPROGRESS {
                    cbs.finish(i);
                } else if !cbs.live[i] {
                    let p = cbs.ptr(i);
                    set_errno(0);
                    // SAFETY: a valid aiocb.
                    let r = unsafe { ffi::aio_return(p) };
                    // Not ours to take (never submitted, or returned), or
                    // the status a refused submission left in it (a bad
                    // aio_reqprio sets EINVAL and result -1, as glibc):
                    // then -1 is the result, and errno is untouched.
                    if !(r == -1 && errno() == 0) {
                        check_fail("aio_return", r as i64, &[libc::EINVAL, libc::EINPROGRESS]);
                    }
                } else {
                    let p = cbs.ptr(i);
                    set_errno(0);
                    // SAFETY: a valid aiocb.
                    let r = unsafe { ffi::aio_return(p) };
                    if r == -1 && errno() == libc::EINPROGRESS {
                        // Still running: fine.
                    } else {
                        // It completed between the two calls: take it
                        // through `finish`'s checks next time; the result
                        // is already consumed, so it is no longer live.
                        cbs.live[i] = false;
                    }
                }
            }
            6 => {
                // aio_suspend with odd lists and timeouts.
                let list: Vec<*const libc::aiocb> = (0..NCB)
                    .map(|j| {
                        if d.u8() % 3 == 0 {
                            std::ptr::null()
                        } else {
                            &cbs.cb[j] as *const _
                        }
                    })
                    .collect();
                let nent = d.pick(&[NCB as i32, 0, -1, 1, 3]);
                let ts = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: d.pick(&[1_000_000, 0, -1, 1_000_000_000]),
                };
                set_errno(0);
                // SAFETY: a list of NCB entries (NULL or valid aiocbs) and
                // a valid timespec (its values may be invalid).
                let r = unsafe { ffi::aio_suspend(list.as_ptr(), nent, &ts) };
                check_fail(
                    "aio_suspend",
                    i64::from(r),
                    &[libc::EAGAIN, libc::EINTR, libc::EINVAL],
                );
                if r == -1 && errno() == libc::EINVAL {
                    assert!(nent < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1_000_000_000);
                }
            }
            7 => {
                // Feed the pipe, so reads of it can complete.
                let b = [0x55u8; 32];
                // SAFETY: a write from a local buffer to our pipe.
                unsafe { libc::write(f.pipe_w, b.as_ptr().cast(), 1 + d.u8() as usize % 32) };
            }
            _ => {
                // aio_error on every aiocb: never -1 for a live one.
                for j in 0..NCB {
                    let e = unsafe_error(&cbs.cb[j]);
                    if cbs.live[j] {
                        assert!(e >= 0, "live op {j}: aio_error failed (errno {})", errno());
                    }
                }
            }
        }
    }
    // Every accepted op completes.
    for i in 0..NCB {
        if cbs.live[i] {
            cbs.finish(i);
        }
    }
    drain(f.pipe_r);
    // SAFETY: plain syscall on our file (undoes sparse writes far out).
    unsafe { libc::ftruncate(f.file, 65536) };
});

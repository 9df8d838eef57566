//! Queueing a notification signal to the process or to one thread
//! (`rt_sigqueueinfo`, `rt_tgsigqueueinfo`, with `si_code` `SI_ASYNCIO`),
//! and running code with every signal blocked (the threads it starts
//! inherit the mask). A leaf: it uses nothing of the crate.

/// The first fields of the kernel's `siginfo_t` for a queued signal
/// (`_rt`), padded to its 128 bytes.
#[repr(C)]
struct QueuedSiginfo {
    signo: i32,
    errno: i32,
    code: i32,
    _pad: i32,
    pid: i32,
    uid: u32,
    value: usize,
    _rest: [u8; 128 - 32],
}

const _: () = assert!(std::mem::size_of::<QueuedSiginfo>() == 128);

#[cfg(not(loom))]
pub(super) fn send_signal(signo: i32, value: usize, tid: Option<i32>) {
    // SAFETY: plain syscalls.
    let (pid, uid) = unsafe { (libc::getpid(), libc::getuid()) };
    let info = QueuedSiginfo {
        signo,
        errno: 0,
        code: libc::SI_ASYNCIO,
        _pad: 0,
        pid,
        uid,
        value,
        _rest: [0; 96],
    };
    // SAFETY: the kernel reads 128 bytes of `info`; a negative si_code is
    // allowed for signals a process sends itself.
    unsafe {
        match tid {
            None => libc::syscall(
                libc::SYS_rt_sigqueueinfo,
                pid,
                signo,
                &info as *const QueuedSiginfo,
            ),
            Some(t) => libc::syscall(
                libc::SYS_rt_tgsigqueueinfo,
                pid,
                t,
                signo,
                &info as *const QueuedSiginfo,
            ),
        }
    };
}

#[cfg(loom)]
pub(super) fn send_signal(_signo: i32, _value: usize, _tid: Option<i32>) {
    // Models use SIGEV_NONE and SIGEV_THREAD only.
    let _ = QueuedSiginfo {
        signo: 0,
        errno: 0,
        code: 0,
        _pad: 0,
        pid: 0,
        uid: 0,
        value: 0,
        _rest: [0; 96],
    };
}

/// Runs `f` with every signal blocked on this thread, so that threads it
/// starts inherit a full mask.
#[cfg_attr(loom, allow(dead_code))]
pub(crate) fn with_signals_blocked<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(not(loom))]
    {
        // SAFETY: sigset_t is a plain C type; the calls only read and write
        // the two local sets.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
            let r = f();
            libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
            r
        }
    }
    #[cfg(loom)]
    f()
}

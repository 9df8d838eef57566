//! Call counters of the C entry points and the `AIO_POSIX_TRACE` file.
//!
//! [`count`] is called by each entry point of [`crate::ffi`]; [`calls`]
//! answers `aio_posix_calls`; [`reset_counters`] runs in a fork child
//! (the instance's atfork handler). Kept apart from `ffi` so that the
//! instance, which resets the counters, does not import the C ABI (no
//! import cycle between `instance` and `ffi`).

use std::io::Write;
use std::panic::catch_unwind;

use std::cell::Cell;
use std::sync::atomic::compiler_fence;

use aio_core::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};

use crate::counters::{Block, N, Registry};

/// The entry points counted, by index (both names of a twin count under
/// the POSIX one).
const NAMES: [&str; N] = [
    "aio_read",
    "aio_write",
    "aio_fsync",
    "aio_error",
    "aio_return",
    "aio_suspend",
    "aio_cancel",
    "lio_listio",
    "aio_init",
    "aio_readv",
    "aio_writev",
    "aio_waitcomplete",
    "aio_posix_completion_fd",
];

#[allow(clippy::declare_interior_mutable_const)]
const ZERO: AtomicU64 = AtomicU64::new(0);
#[allow(clippy::declare_interior_mutable_const)]
const UNSEEN: AtomicBool = AtomicBool::new(false);

/// Calls per entry point counted without a thread block: every call of
/// an async-signal-safe entry point, a call that interrupted its thread's
/// own count, calls during thread exit. One locked add each.
static SHARED: [AtomicU64; N] = [ZERO; N];
/// Whether each entry point was called in this process (its first call
/// is traced once).
static SEEN: [AtomicBool; N] = [UNSEEN; N];

/// Every thread's block of call counts (see [`crate::counters`]).
static BLOCKS: Registry = Registry::new();

/// A thread's counting state (one thread-local, so one lookup per call).
struct Mine {
    /// This thread's block (`None`: none yet).
    block: Cell<Option<&'static Block>>,
    /// Set while this thread updates its block: a signal handler's call
    /// in between counts in [`SHARED`] instead.
    busy: Cell<bool>,
}

thread_local! {
    /// See [`Mine`]. No destructor, so using it never registers one (only
    /// the entry points that are not async-signal-safe use it).
    static MINE: Mine = const {
        Mine {
            block: Cell::new(None),
            busy: Cell::new(false),
        }
    };
    /// Gives the block back when the thread ends (touched only when the
    /// block is taken, never on a signal-safe path).
    static RELEASE: Release = const { Release };
}

struct Release;

impl Drop for Release {
    fn drop(&mut self) {
        if let Ok(Some(b)) = MINE.try_with(|m| m.block.take()) {
            b.release();
        }
    }
}

/// Takes a block for this thread. Not async-signal-safe (it may
/// allocate): only entry points that are not signal-safe call it.
#[cold]
fn take_block() -> Option<&'static Block> {
    // The destructor first: if the thread is already ending, no block.
    RELEASE.try_with(|_| ()).ok()?;
    let b = BLOCKS.take();
    let _ = MINE.try_with(|m| m.block.set(Some(b)));
    Some(b)
}

/// Every count of entry point `i`: the shared one and every block's.
fn total(i: usize) -> u64 {
    SHARED[i].load(Ordering::Relaxed) + BLOCKS.total(i)
}
static EXIT_HOOK: aio_core::sync::Once = aio_core::sync::Once::new();

fn trace_path() -> Option<std::path::PathBuf> {
    std::env::var_os("AIO_POSIX_TRACE").map(Into::into)
}

fn trace_line(line: &str) {
    if let Some(mut f) = trace_path().and_then(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .ok()
    }) {
        let _ = f.write_all(line.as_bytes());
    }
}

extern "C" fn trace_at_exit() {
    let _ = catch_unwind(|| {
        // SAFETY: plain syscall.
        let pid = unsafe { libc::getpid() };
        let mut s = format!("pid={pid} exit");
        for (i, n) in NAMES.iter().enumerate() {
            s.push_str(&format!(" {n}={}", total(i)));
        }
        s.push('\n');
        trace_line(&s);
    });
}

/// Entry points that POSIX makes async-signal-safe (`aio_error`,
/// `aio_return`, `aio_suspend`): their first-call trace line is written
/// with system calls only, and they never register the exit hook.
const SIGNAL_SAFE: [bool; N] = [
    false, false, false, true, true, true, false, false, false, false, false, false, false,
];

/// Whether `AIO_POSIX_TRACE` is set: 0 not known yet, 1 no, 2 yes. Read
/// when the library is loaded (below), so no entry point reads the
/// environment later.
static TRACE_ON: AtomicU8 = AtomicU8::new(0);
/// The trace file's path, kept when the setting is read.
static TRACE_PATH: aio_core::sync::OnceLock<std::ffi::CString> = aio_core::sync::OnceLock::new();

extern "C" fn read_trace_setting() {
    let path = std::env::var_os("AIO_POSIX_TRACE");
    if let Some(p) = &path {
        use std::os::unix::ffi::OsStrExt;
        if let Ok(c) = std::ffi::CString::new(p.as_bytes()) {
            let _ = TRACE_PATH.set(c);
        }
    }
    TRACE_ON.store(if path.is_some() { 2 } else { 1 }, Ordering::Release);
}

/// Runs [`read_trace_setting`] when the library is loaded (the dynamic
/// loader calls `.init_array` entries with the environment in place).
#[used]
#[unsafe(link_section = ".init_array")]
static READ_TRACE_SETTING: extern "C" fn() = read_trace_setting;

/// Whether tracing is on; `lazy`: the setting may be read now if the
/// loader did not (never on the signal-safe paths).
fn tracing(lazy: bool) -> bool {
    match TRACE_ON.load(Ordering::Acquire) {
        0 if lazy => {
            read_trace_setting();
            TRACE_ON.load(Ordering::Acquire) == 2
        }
        v => v == 2,
    }
}

/// Appends "pid=P first NAME" to the trace file with the `openat`,
/// `write` and `close` system calls alone, formatted on the stack:
/// async-signal-safe, and no cancellation point (glibc's `open`, `write`
/// and `close` are; a thread with a cancellation pending would be
/// cancelled inside `aio_error`).
fn trace_first(i: usize) {
    let Some(path) = TRACE_PATH.get() else {
        return;
    };
    let mut buf = [0u8; 96];
    let mut n = 0;
    let mut put = |b: &[u8]| {
        let k = b.len().min(buf.len() - n);
        buf[n..n + k].copy_from_slice(&b[..k]);
        n += k;
    };
    put(b"pid=");
    // SAFETY: plain syscall.
    let mut pid = unsafe { libc::getpid() } as u32;
    let mut digits = [0u8; 10];
    let mut d = digits.len();
    loop {
        d -= 1;
        digits[d] = b'0' + (pid % 10) as u8;
        pid /= 10;
        if pid == 0 {
            break;
        }
    }
    put(&digits[d..]);
    put(b" first ");
    put(NAMES[i].as_bytes());
    put(b"\n");
    // SAFETY: a NUL-terminated path; `n` bytes of a local buffer; the
    // descriptor is ours until closed here.
    unsafe {
        let fd = libc::syscall(
            libc::SYS_openat,
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT | libc::O_CLOEXEC,
            0o644,
        );
        if fd >= 0 {
            libc::syscall(libc::SYS_write, fd, buf.as_ptr(), n);
            libc::syscall(libc::SYS_close, fd);
        }
    }
}

/// Counts a call of entry point `i` (in the thread's block: see
/// [`Block`]). The first call of each entry point in a process is written
/// to `AIO_POSIX_TRACE` at once (a process may end with `_exit`, and then
/// there is no exit line); the non-signal-safe ones also register the
/// exit line.
#[inline]
pub(crate) fn count(i: usize) {
    // The async-signal-safe entry points (`aio_error`, `aio_return`,
    // `aio_suspend`) never touch thread-local storage: in a library that
    // was `dlopen`ed, a thread's first access to it may allocate (glibc's
    // `__tls_get_addr`), which a signal handler must not.
    let counted = if SIGNAL_SAFE[i] {
        Ok(false)
    } else {
        MINE.try_with(|m| count_mine(m, i))
    };
    if counted != Ok(true) {
        SHARED[i].fetch_add(1, Ordering::Relaxed);
    }
    if !SEEN[i].load(Ordering::Relaxed)
        && !SEEN[i].swap(true, Ordering::Relaxed)
        && tracing(!SIGNAL_SAFE[i])
    {
        if !SIGNAL_SAFE[i] {
            EXIT_HOOK.call_once(|| {
                // SAFETY: registers a plain extern "C" function.
                unsafe { libc::atexit(trace_at_exit) };
            });
        }
        trace_first(i);
    }
}

/// Counts a call of entry point `i` (not a signal-safe one) in this
/// thread's block; false if it has none or this call interrupted an
/// update of it (a signal handler's call, against POSIX's list): the
/// caller counts it in [`SHARED`] then.
#[inline]
fn count_mine(m: &Mine, i: usize) -> bool {
    let Some(b) = m.block.get().or_else(take_block) else {
        return false;
    };
    if m.busy.replace(true) {
        return false;
    }
    // Compiler fences: the flag is set before the update and cleared
    // after it in program order, which is all a signal handler on this
    // thread can observe.
    compiler_fence(Ordering::SeqCst);
    b.bump(i);
    compiler_fence(Ordering::SeqCst);
    m.busy.set(false);
    true
}

/// Called in a fork child: its counters start again at zero. (The blocks
/// of the parent's other threads stay owned: those threads do not exist
/// here, and their blocks are never reused.)
pub(crate) fn reset_counters() {
    for (c, s) in SHARED.iter().zip(SEEN.iter()) {
        c.store(0, Ordering::Relaxed);
        s.store(false, Ordering::Relaxed);
    }
    BLOCKS.reset();
}

/// Calls of entry point `name` (`"aio_read"`, ...) in this process.
pub fn calls(name: &str) -> u64 {
    NAMES.iter().position(|n| *n == name).map_or(0, total)
}

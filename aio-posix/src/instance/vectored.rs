//! `aio_readv`/`aio_writev` (and `LIO_READV`/`LIO_WRITEV`): the program's
//! `iovec` array copied in at submission, as FreeBSD copies it, so the
//! program may reuse the array as soon as the call returns (the memory the
//! segments point at stays the op's until it completes).
//!
//! # The copy
//!
//! The array is read with `process_vm_readv(2)` on our own pid: the kernel
//! copies it, so a bad `aio_iov` pointer (wild, unmapped, or an array that
//! runs off a mapping) fails the call with `EFAULT`, as `preadv(2)` would,
//! instead of faulting in the library. If that system call is refused (a
//! seccomp filter: `ENOSYS` or `EPERM`), the array is read directly, once
//! checked for NULL; a wild non-NULL pointer may then crash the program,
//! which the program's contract forbids anyway. The refusal is remembered,
//! so the failing call is made once per process.
//!
//! # No allocation per op
//!
//! The array lands in a per-thread scratch vector ([`take`]), which then
//! becomes the op's segment list ([`IoBuf::from_segment_vec`]); the list the
//! slot's op held from its previous vectored op comes back ([`give_back`])
//! as the thread's next scratch. Once every slot and submitting thread has
//! grown a vector to the counts the program uses, no submission allocates.
//!
//! [`IoBuf::from_segment_vec`]: aio_core::IoBuf::from_segment_vec

use std::cell::Cell;

use aio_core::sync::atomic::{AtomicBool, Ordering};
use aio_core::{Error, Result};

/// The most segments one op may have: `IOV_MAX` (1024 on Linux, the
/// kernel's `UIO_MAXIOV`, what `preadv(2)` accepts).
pub const IOV_MAX: usize = libc::UIO_MAXIOV as usize;

thread_local! {
    /// The thread's scratch vector (empty, keeping its capacity, between
    /// submissions).
    static SCRATCH: Cell<Vec<libc::iovec>> = const { Cell::new(Vec::new()) };
}

/// Set once `process_vm_readv` was refused (seccomp): read directly.
static NO_VM_READV: AtomicBool = AtomicBool::new(false);

/// Copies the program's `iovec` array (`cnt` entries at `iov`, an
/// aiocb's `aio_iov`/`aio_iovcnt`) into the thread's scratch vector and
/// checks it. Errors, as FreeBSD's `aio_readv` reports them (the call
/// fails): `EINVAL` for a count of 0 or above [`IOV_MAX`], a segment longer
/// than `SSIZE_MAX` or segments totalling more; `EFAULT` for a NULL or bad
/// array. Returns the list and its total length.
///
/// A segment's own memory is not checked here: the transfer (the kernel's
/// `preadv`/`pwritev`, or io_uring's `READV`/`WRITEV`) reports a bad one,
/// as `preadv(2)` does.
///
/// # Safety
/// None beyond the C contract: `iov` may be anything; if
/// `process_vm_readv` is refused it must be NULL or valid for `cnt`
/// entries (see the module docs).
pub(crate) unsafe fn take(
    iov: *const libc::c_void,
    cnt: usize,
) -> Result<(Vec<libc::iovec>, usize)> {
    if cnt == 0 || cnt > IOV_MAX {
        return Err(Error::EINVAL);
    }
    if iov.is_null() {
        return Err(Error::from_errno(libc::EFAULT));
    }
    let mut v = SCRATCH.with(Cell::take);
    v.clear();
    v.reserve(cnt);
    let bytes = cnt * std::mem::size_of::<libc::iovec>();
    // SAFETY: `v` has room for `cnt` iovecs; the kernel writes at most
    // `bytes` into it and reads the program's memory itself (a bad address
    // is its EFAULT, not a fault here).
    let copied = unsafe { copy_in(v.as_mut_ptr().cast(), iov, bytes) };
    match copied {
        Ok(()) => {
            // SAFETY: `cnt` iovecs were written (any bit pattern is a
            // valid iovec).
            unsafe { v.set_len(cnt) };
        }
        Err(e) => {
            give_back(v);
            return Err(e);
        }
    }
    let mut total = 0usize;
    for s in &v {
        match total.checked_add(s.iov_len) {
            Some(t) if t <= isize::MAX as usize => total = t,
            _ => {
                give_back(v);
                return Err(Error::EINVAL);
            }
        }
    }
    Ok((v, total))
}

/// Keeps `v` (emptied) as the thread's scratch vector if it is larger than
/// the one there.
pub(crate) fn give_back(mut v: Vec<libc::iovec>) {
    v.clear();
    SCRATCH.with(|s| {
        let cur = s.take();
        s.set(if cur.capacity() >= v.capacity() {
            cur
        } else {
            v
        });
    });
}

/// `bytes` bytes from the program's `src` to `dst`.
///
/// # Safety
/// `dst` is valid for writes of `bytes` bytes; `src` as for [`take`].
unsafe fn copy_in(dst: *mut libc::c_void, src: *const libc::c_void, bytes: usize) -> Result<()> {
    if !NO_VM_READV.load(Ordering::Relaxed) {
        let local = libc::iovec {
            iov_base: dst,
            iov_len: bytes,
        };
        let remote = libc::iovec {
            iov_base: src.cast_mut(),
            iov_len: bytes,
        };
        // SAFETY: `local` is our own writable memory of `bytes` bytes; the
        // kernel checks `remote`. Our own pid: always permitted.
        let n = unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) };
        if n == bytes as isize {
            return Ok(());
        }
        if n >= 0 {
            // Part of the array is unmapped: what preadv(2) calls EFAULT.
            return Err(Error::from_errno(libc::EFAULT));
        }
        let e = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        if e != libc::ENOSYS && e != libc::EPERM {
            return Err(Error::from_errno(e));
        }
        NO_VM_READV.store(true, Ordering::Relaxed);
    }
    // SAFETY: the syscall is refused: `src` is valid for `bytes` bytes (the
    // program's contract, see the module docs); no alignment is assumed.
    unsafe { std::ptr::copy_nonoverlapping(src.cast::<u8>(), dst.cast::<u8>(), bytes) };
    Ok(())
}

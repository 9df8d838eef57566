//! Per-descriptor status is read at submission (issue row 7): a device
//! over a borrowed descriptor never trusts an `O_DIRECT` it sampled once.
//! Clearing `O_DIRECT` with `fcntl(F_SETFL)`, or closing the descriptor and
//! reopening the same number without it, makes misaligned buffered I/O
//! work again; setting it makes the kernel's alignment rule apply. Each
//! answer is checked against `pread(2)` on the same descriptor in the same
//! state (the kernel is the oracle: the device checks no alignment of its
//! own), on a file whose blocks are written, where the kernel refuses a
//! misaligned `O_DIRECT` read. Both engines.
//!
//! Before the fix (`FileShared::direct` fixed at `from_raw_fd`), the
//! misaligned reads after the flag was cleared failed with `EINVAL`.

mod common;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use aio_core::{Engines, Error, OpKind, into_dyn};
use blockdev::{FileDevice, FileOptions, UringEngine};
use common::*;

fn open_fd(path: &std::path::Path, flags: libc::c_int) -> OwnedFd {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: valid C string.
    let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) };
    assert!(fd >= 0, "open: {}", std::io::Error::last_os_error());
    // SAFETY: just opened, owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn set_fl(fd: i32, set: libc::c_int, clear: libc::c_int) {
    // SAFETY: plain fcntl calls on a valid descriptor.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        assert!(fl >= 0);
        assert_eq!(libc::fcntl(fd, libc::F_SETFL, (fl | set) & !clear), 0);
    }
}

/// A misaligned 100-byte read at offset 1, through `engine`; asserted
/// equal to what `pread(2)` says on the same descriptor.
fn misaligned_read(
    t: &aio_core::sync::Arc<dyn aio_core::Target>,
    e: &mut Engines,
    fd: i32,
) -> aio_core::Result<usize> {
    let mut b = vec![0u8; 100];
    // SAFETY: a 100-byte buffer of ours.
    let k = unsafe { libc::pread(fd, b.as_mut_ptr().cast(), 100, 1) };
    let kernel = if k < 0 {
        Err(Error::last_os_error())
    } else {
        Ok(k as usize)
    };
    let p = submit(t, e, op(t, OpKind::Read, 1, vec![0; 100]));
    let ours = drain(e, vec![p]).pop().unwrap().1;
    assert_eq!(ours, kernel, "the device and pread(2) disagree");
    ours
}

/// A temporary file of `n` written bytes (allocated blocks: a hole would
/// let the kernel serve even a misaligned O_DIRECT read).
fn written(name: &str, n: usize) -> TempFile {
    let f = TempFile::new(name, n as u64);
    std::fs::write(&f.path, vec![0x5au8; n]).unwrap();
    std::fs::File::open(&f.path).unwrap().sync_all().unwrap();
    f
}

fn engines(fallback: bool) -> (Engines, FileOptions) {
    if fallback {
        (Engines::basic(), FileOptions::new())
    } else {
        (
            Engines::new(Box::new(
                UringEngine::new(8).expect("io_uring on the test machines"),
            )),
            FileOptions::new(),
        )
    }
}

#[test]
fn o_direct_cleared_with_fcntl_is_seen_at_submission() {
    for fallback in [false, true] {
        let f = written("fdstatus", 1 << 16);
        let fd = open_fd(&f.path, libc::O_RDWR | libc::O_DIRECT);
        let (mut e, o) = engines(fallback);
        // SAFETY: `fd` outlives the device and its ops.
        let t = into_dyn(unsafe { FileDevice::from_raw_fd(fd.as_raw_fd(), o) }.unwrap());
        assert_eq!(
            misaligned_read(&t, &mut e, fd.as_raw_fd()),
            Err(Error::EINVAL),
            "O_DIRECT set"
        );
        set_fl(fd.as_raw_fd(), 0, libc::O_DIRECT);
        assert_eq!(
            misaligned_read(&t, &mut e, fd.as_raw_fd()),
            Ok(100),
            "O_DIRECT cleared (fallback {fallback})"
        );
        set_fl(fd.as_raw_fd(), libc::O_DIRECT, 0);
        assert_eq!(
            misaligned_read(&t, &mut e, fd.as_raw_fd()),
            Err(Error::EINVAL),
            "O_DIRECT set again"
        );
    }
}

#[test]
fn the_same_fd_number_reopened_without_o_direct_is_buffered() {
    for fallback in [false, true] {
        let f = written("fdreopen", 1 << 16);
        let fd = open_fd(&f.path, libc::O_RDWR | libc::O_DIRECT);
        let num = fd.as_raw_fd();
        let (mut e, o) = engines(fallback);
        // SAFETY: the number stays open (reopened in place below) while
        // the device and its ops live.
        let t = into_dyn(unsafe { FileDevice::from_raw_fd(num, o) }.unwrap());
        assert_eq!(
            misaligned_read(&t, &mut e, fd.as_raw_fd()),
            Err(Error::EINVAL)
        );
        // Close and reopen the same number without O_DIRECT (dup2 onto it
        // is close + reopen in one step).
        let plain = open_fd(&f.path, libc::O_RDWR);
        // SAFETY: plain syscall on two valid descriptors.
        let r = unsafe { libc::dup3(plain.as_raw_fd(), num, libc::O_CLOEXEC) };
        assert_eq!(r, num);
        drop(plain);
        assert_eq!(
            misaligned_read(&t, &mut e, fd.as_raw_fd()),
            Ok(100),
            "reopened (fallback {fallback})"
        );
        drop(fd);
    }
}

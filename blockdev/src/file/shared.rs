//! The state a [`FileDevice`](super::FileDevice) shares with its ops in
//! flight ([`FileShared`], which keeps the descriptor open until the last
//! of them completes), and what `submit` decided for one op ([`Plan`]).
//! Both engines' paths ([`super::uring`], [`super::blocking`]) and the
//! device ([`super`]) use it; it uses none of them.

use std::os::fd::{OwnedFd, RawFd};

use aio_core::sync::atomic::AtomicBool;
use aio_core::sync::{Arc, Mutex};
use aio_core::{Error, OpKind, Result};

use crate::pool::BlockingPool;

/// The largest single transfer the kernel does (Linux's `MAX_RW_COUNT`).
pub(crate) const MAX_RW: usize = 0x7fff_f000;

/// The state shared by a device and its in-flight ops (which keep the
/// descriptor open until their completion).
pub(crate) struct FileShared {
    pub(super) fd: RawFd,
    /// `Some` when the device opened the file; `None` for a borrowed fd.
    pub(super) _owned: Option<OwnedFd>,
    pub(super) seekable: bool,
    /// Enforce `capacity` (devices opened by path).
    pub(super) bounded: bool,
    pub(super) capacity: u64,
    pub(super) block_size: u32,
    /// Direct-I/O alignment of the file (offset and length), known
    /// whether or not `O_DIRECT` is set now: a borrowed descriptor's flag
    /// can change at any time.
    pub(super) dio_block: u32,
    /// `Some(direct)` for a descriptor the device opened (nobody else can
    /// change its flags); `None` for a borrowed one, whose status flags
    /// are read at each submission (see [`FileShared::status`]).
    pub(super) fixed_direct: Option<bool>,
    pub(super) force_fallback: bool,
    pub(super) fallback_threads: Option<usize>,
    /// (lock: this mutex, taken alone)
    pub(super) pool: Mutex<Option<Arc<BlockingPool>>>,
    pub(super) closed: AtomicBool,
    pub(super) nowait_ok: AtomicBool,
}

/// What `submit` decided for a transfer.
#[derive(Clone, Copy)]
pub(super) struct Plan {
    pub(super) kind: OpKind,
    pub(super) offset: u64,
    pub(super) len: usize,
    /// The descriptor's status flags at submission.
    pub(super) status: Status,
}

/// The status flags of a descriptor that matter to an op, read when the
/// op is submitted (never cached: `fcntl(F_SETFL)` and a close/reopen of
/// the same number change them under us).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Status {
    /// `O_DIRECT` (seekable descriptors only).
    pub(crate) direct: bool,
    /// `O_NONBLOCK`: a stream op that would block answers `EAGAIN` (and
    /// a write may come back short), as `read(2)`/`write(2)` do.
    pub(crate) nonblock: bool,
}

impl FileShared {
    /// Whether the descriptor has offsets (a regular file or block device).
    pub(crate) fn is_seekable(&self) -> bool {
        self.seekable
    }

    /// The descriptor's status flags now: fixed for a descriptor the
    /// device opened, one `fcntl(F_GETFL)` for a borrowed one (`EBADF` if
    /// it was closed).
    pub(crate) fn status(&self) -> Result<Status> {
        if let Some(direct) = self.fixed_direct {
            return Ok(Status {
                direct,
                nonblock: false,
            });
        }
        // SAFETY: plain syscall.
        let fl = unsafe { libc::fcntl(self.fd, libc::F_GETFL) };
        if fl < 0 {
            return Err(Error::last_os_error());
        }
        Ok(Status {
            direct: self.seekable && fl & libc::O_DIRECT != 0,
            nonblock: fl & libc::O_NONBLOCK != 0,
        })
    }
}

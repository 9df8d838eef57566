//! The state a [`FileDevice`](super::FileDevice) shares with its ops in
//! flight ([`FileShared`], which keeps the descriptor open until the last
//! of them completes), and what `submit` decided for one op ([`Plan`]).
//! Both engines' paths ([`super::uring`], [`super::blocking`]) and the
//! device ([`super`]) use it; it uses none of them.

use std::os::fd::{OwnedFd, RawFd};

use aio_core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use aio_core::sync::{Arc, Mutex};
use aio_core::{Error, OpKind, Result};

use crate::pool::BlockingPool;
use crate::ready::lane::Lane;

/// The largest single transfer the kernel does (Linux's `MAX_RW_COUNT`).
pub(crate) const MAX_RW: usize = 0x7fff_f000;

/// The state shared by a device and its in-flight ops (which keep the
/// descriptor open until their completion).
pub(crate) struct FileShared {
    pub(super) fd: RawFd,
    /// `Some` when the device opened the file; `None` for a borrowed fd.
    pub(super) _owned: Option<OwnedFd>,
    pub(super) seekable: bool,
    /// A socket (whose `SO_RCVTIMEO`/`SO_SNDTIMEO` a blocking transfer
    /// honours: see `stream.rs`).
    pub(super) socket: bool,
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
    /// A borrowed seekable descriptor's `O_DIRECT`, as last read: bit 0
    /// valid, bit 1 direct, bits 8.. the ops that used it since (see
    /// [`FileShared::status`]).
    pub(super) status_cache: AtomicU32,
    /// A stream's lanes, reads and writes (`ready/lane.rs`): where its
    /// ops go that the readiness waiter cannot park.
    /// `None` for a seekable descriptor.
    pub(super) lanes: Option<[Arc<Lane>; 2]>,
}

/// How many ops one `fcntl(F_GETFL)` of a borrowed seekable descriptor
/// serves before it is read again.
const STATUS_REUSE: u32 = 64;

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
/// op is submitted (a borrowed seekable descriptor's once per
/// [`STATUS_REUSE`] ops: see [`FileShared::status`]).
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

    /// The descriptor's status flags for an op: fixed for a descriptor the
    /// device opened; for a borrowed seekable one, read with
    /// `fcntl(F_GETFL)` once per [`STATUS_REUSE`] ops (its only flag that
    /// matters, `O_DIRECT`, decides only whether the submitter tries the
    /// read inline: a stale answer costs time, never a wrong result, and
    /// an inline attempt refused with `EINVAL` reads it again); for a
    /// borrowed stream, read at every op (`O_NONBLOCK` changes what the
    /// op does). A closed descriptor's op fails with `EBADF` here or in
    /// the transfer itself.
    pub(crate) fn status(&self) -> Result<Status> {
        if let Some(direct) = self.fixed_direct {
            return Ok(Status {
                direct,
                nonblock: false,
            });
        }
        if self.seekable {
            let c = self.status_cache.load(Ordering::Relaxed);
            if c & 1 != 0 && (c >> 8) < STATUS_REUSE {
                // A load and a store: two racing ops may both count once,
                // which only delays the next read by an op.
                self.status_cache.store(c + (1 << 8), Ordering::Relaxed);
                return Ok(Status {
                    direct: c & 2 != 0,
                    nonblock: false,
                });
            }
        }
        self.read_status()
    }

    /// The descriptor's status flags read now (one `fcntl(F_GETFL)`;
    /// `EBADF` if it was closed), and the cache refreshed.
    pub(crate) fn read_status(&self) -> Result<Status> {
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
        let st = Status {
            direct: self.seekable && fl & libc::O_DIRECT != 0,
            nonblock: fl & libc::O_NONBLOCK != 0,
        };
        if self.seekable {
            self.status_cache
                .store(1 | u32::from(st.direct) << 1, Ordering::Relaxed);
        }
        Ok(st)
    }
}

//! What `submit` (and the synchronous `read_at`/`write_at`) decides for
//! one transfer before any path runs it: completed now (closed, empty, out
//! of bounds, misaligned direct I/O), or a [`Plan`] with the clamped
//! length and the descriptor's status flags read now. The bounds it
//! enforces are the module docs' ([`super`], "Bounds").

use aio_core::sync::atomic::Ordering;
use aio_core::{Error, InFlight, OpKind, Result};

use super::shared::{FileShared, MAX_RW, Plan};
use crate::device::clamp_transfer;

impl FileShared {
    /// Decides what a transfer does, or the result to complete it with now.
    pub(super) fn plan(
        &self,
        kind: OpKind,
        offset: u64,
        len: usize,
        addr: usize,
    ) -> std::result::Result<Plan, Result<usize>> {
        let sh = self;
        if sh.closed.load(Ordering::Acquire) {
            return Err(Err(Error::ECANCELED));
        }
        let status = sh.status().map_err(Err)?;
        if !kind.is_transfer() {
            return Ok(Plan {
                kind,
                offset: 0,
                len: 0,
                status,
            });
        }
        let mut len = len.min(MAX_RW);
        if len == 0 {
            if sh.bounded {
                // A device of ours over a regular file: nothing to do.
                return Err(Ok(0));
            }
            // A caller's descriptor gets read(2)'s or write(2)'s own answer
            // (EBADF on the wrong mode, EISDIR for a directory; io_uring
            // says 0 for both). A zero-length transfer never blocks.
            // The system calls themselves, not glibc's wrappers, which are
            // cancellation points: a submitter's inline read plans here in
            // the caller's thread, whose cancellation state aio-posix leaves
            // untouched (`FileShared::read_nowait` does the same).
            // SAFETY: zero bytes at `addr`: nothing is read or written.
            let r = unsafe {
                match (kind, sh.seekable) {
                    (OpKind::Read, true) => {
                        libc::syscall(libc::SYS_pread64, sh.fd, addr, 0usize, offset as i64)
                    }
                    (OpKind::Read, false) => libc::syscall(libc::SYS_read, sh.fd, addr, 0usize),
                    (_, true) => {
                        libc::syscall(libc::SYS_pwrite64, sh.fd, addr, 0usize, offset as i64)
                    }
                    (_, false) => libc::syscall(libc::SYS_write, sh.fd, addr, 0usize),
                }
            };
            return Err(if r < 0 {
                Err(Error::last_os_error())
            } else {
                Ok(0)
            });
        }
        // No alignment check of our own for O_DIRECT: the kernel decides,
        // as it does for pread. STATX_DIOALIGN is what the kernel
        // guarantees to take, not all it takes: ext4 here serves an
        // O_DIRECT read into a misaligned buffer, and a misaligned one
        // from a hole, which a check on it refused with EINVAL where
        // pread succeeds (and it would have had to be learnt again when a
        // borrowed number is reused for another file).
        if sh.bounded {
            len = clamp_transfer(kind == OpKind::Write, offset, len, sh.capacity)?;
            if status.direct
                && kind == OpKind::Write
                && !(len as u64).is_multiple_of(u64::from(sh.dio_block))
            {
                return Err(Err(Error::EINVAL));
            }
        }
        let offset = if sh.seekable { offset } else { u64::MAX };
        Ok(Plan {
            kind,
            offset,
            len,
            status,
        })
    }

    /// [`FileShared::plan`] for an op: its kind, offset and length, and
    /// (for the direct-I/O check) its buffer address, or for two or more
    /// segments every segment's address and length or-ed together (all
    /// must be aligned; the kernel checks the rest).
    pub(super) fn plan_op(&self, op: &InFlight) -> std::result::Result<Plan, Result<usize>> {
        let kind = op.kind();
        let addr = if kind.is_transfer() {
            segments_addr(op.segments().as_iovecs())
        } else {
            0
        };
        self.plan(kind, op.offset(), op.len(), addr)
    }
}

/// The address [`FileShared::plan`] checks for direct I/O: a single
/// segment's base, or every segment's base and length or-ed together.
pub(super) fn segments_addr(iov: &[libc::iovec]) -> usize {
    match iov {
        [one] => one.iov_base as usize,
        many => many
            .iter()
            .fold(0, |a, s| a | s.iov_base as usize | s.iov_len),
    }
}

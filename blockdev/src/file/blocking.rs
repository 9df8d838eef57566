//! The blocking path: an op runs with `pread`/`pwrite`/`fsync` on a
//! [`BlockingPool`] thread and its [`EngineTicket`] returns when it
//! completes. Used on any engine that is not a
//! [`UringEngine`](super::UringEngine) (or with the fallback forced), and
//! by the ring itself for an op io-wq gave back ([`retry_blocking`]).

use aio_core::sync::Arc;
use aio_core::{EngineTicket, Error, InFlight, OpKind, Result};

use super::shared::{FileShared, Plan, Status};
use crate::iov;
use crate::pool::BlockingPool;

impl FileShared {
    /// The fallback pool, made on first use.
    fn pool(&self) -> Arc<BlockingPool> {
        let mut g = self.pool.lock();
        Arc::clone(g.get_or_insert_with(|| match self.fallback_threads {
            Some(n) => BlockingPool::new(n),
            None => default_pool(),
        }))
    }
}

/// Runs `plan` for `op` on the device's blocking pool; `ticket` returns
/// when it completes.
pub(super) fn fallback_job(
    sh: Arc<FileShared>,
    mut op: InFlight,
    ticket: EngineTicket,
    plan: Plan,
) {
    let pool = sh.pool();
    let job = Box::new(move || {
        let r = blocking_io(&sh, &mut op, plan);
        ticket.complete(op, r);
    });
    if let Err(job) = pool.execute(job) {
        // The pool is shutting down (cannot happen while we hold it, but
        // never lose an op): run it here.
        job();
    }
}

/// Redoes on the blocking pool an op that the ring gave back for reasons
/// of its own (io-wq could not start a worker: `-ECANCELED` or `-EAGAIN`
/// with no cancel asked for). The SQE's kind, offset and (already
/// clamped) length are reused; `ticket` keeps the engine counting it. If
/// the pool cannot start a thread either, it runs the op on this thread
/// (a bounded file transfer or flush).
pub(crate) fn retry_blocking(
    sh: Arc<FileShared>,
    op: InFlight,
    ticket: EngineTicket,
    kind: OpKind,
    offset: u64,
    len: usize,
) {
    let plan = Plan {
        kind,
        offset,
        len,
        status: Status::default(),
    };
    fallback_job(sh, op, ticket, plan);
}

/// Runs one transfer or flush with blocking system calls (the pool path).
/// A transfer is one call over the op's segments, clamped to `plan.len`:
/// `pread`/`pwrite` (`read`/`write` on a stream) for one segment, as
/// always, `preadv`/`pwritev` (`readv`/`writev`) for more.
fn blocking_io(sh: &FileShared, op: &mut InFlight, plan: Plan) -> Result<usize> {
    let fd = sh.fd;
    let off = plan.offset as libc::off_t;
    loop {
        let r: isize = match plan.kind {
            OpKind::Read => {
                let mut segs = op.segments_mut();
                let iov = iov::range(segs.as_iovecs(), 0, plan.len);
                // SAFETY: every iovec covers bytes of the op's buffer (at
                // most `plan.len` in all), ours through the in-flight token
                // until it completes, after this call.
                unsafe {
                    match (iov.as_slice(), sh.seekable) {
                        ([one], true) => libc::pread(fd, one.iov_base, one.iov_len, off),
                        ([one], false) => libc::read(fd, one.iov_base, one.iov_len),
                        (v, true) => libc::preadv(fd, v.as_ptr(), iov.count(), off),
                        (v, false) => libc::readv(fd, v.as_ptr(), iov.count()),
                    }
                }
            }
            OpKind::Write => {
                let segs = op.segments();
                let iov = iov::range(segs.as_iovecs(), 0, plan.len);
                // SAFETY: as above; the kernel only reads the bytes.
                unsafe {
                    match (iov.as_slice(), sh.seekable) {
                        ([one], true) => libc::pwrite(fd, one.iov_base, one.iov_len, off),
                        ([one], false) => libc::write(fd, one.iov_base, one.iov_len),
                        (v, true) => libc::pwritev(fd, v.as_ptr(), iov.count(), off),
                        (v, false) => libc::writev(fd, v.as_ptr(), iov.count()),
                    }
                }
            }
            // SAFETY: plain syscalls.
            OpKind::Fsync => unsafe { libc::fsync(fd) as isize },
            // SAFETY: plain syscall.
            OpKind::Fdatasync => unsafe { libc::fdatasync(fd) as isize },
        };
        if r >= 0 {
            return Ok(r as usize);
        }
        let e = Error::last_os_error();
        if e != Error::EINTR {
            return Err(e);
        }
    }
}

/// The process-wide blocking pool that [`FileDevice`](super::FileDevice)s use by default: at
/// least 4 threads, or twice the available parallelism. Made on first use;
/// its threads are started on demand and live for the rest of the process.
pub fn default_pool() -> Arc<BlockingPool> {
    static POOL: aio_core::sync::OnceLock<Arc<BlockingPool>> = aio_core::sync::OnceLock::new();
    Arc::clone(POOL.get_or_init(|| {
        let n = std::thread::available_parallelism().map_or(2, |n| n.get());
        BlockingPool::new((2 * n).max(4))
    }))
}

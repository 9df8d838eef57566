#![doc = include_str!("README.md")]

use std::ffi::CString;
use std::fmt;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use aio_core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use aio_core::sync::{Arc, Mutex};
use aio_core::{
    Attempt, CancelOutcome, Engine, EngineTicket, Engines, Error, FlushKind, InFlight, OpKind,
    Result, Strategy, Target,
};

use crate::device::{Device, Geometry};
use crate::iov;
use crate::pool::BlockingPool;

mod blocking;
mod plan;
mod shared;
mod stream;
mod uring;

pub use blocking::default_pool;
pub use uring::UringEngine;

use blocking::fallback_job;
use shared::{FileShared, Plan};
use uring::Sqe;

/// How a [`FileDevice`] is opened. The default: buffered, read-write, an
/// existing file, io_uring when the engine has it, the process-wide pool
/// otherwise.
#[derive(Debug, Clone, Default)]
pub struct FileOptions {
    /// Open with `O_DIRECT`: transfers bypass the page cache, and their
    /// offset, length and buffer address must be multiples of the logical
    /// block size (checked before submission: `EINVAL`).
    pub direct: bool,
    /// Open read-only.
    pub read_only: bool,
    /// Create the file if missing and set its size to this many bytes.
    pub create_size: Option<u64>,
    /// Never use io_uring, even on a [`UringEngine`]: every op goes to the
    /// blocking pool (so both engines can run the same tests).
    pub force_fallback: bool,
    /// Give the device a pool of its own with this many threads, instead
    /// of the process-wide one ([`default_pool`]). Ignored when `pool` is
    /// set.
    pub fallback_threads: Option<usize>,
    /// The pool to use for the blocking path. `None`: a pool of
    /// `fallback_threads` threads of the device's own if that is set, else
    /// the process-wide [`default_pool`], so that any number of devices
    /// shares a fixed number of threads.
    pub pool: Option<Arc<BlockingPool>>,
    /// The logical block size, if the kernel's answer should be overridden
    /// (a power of two).
    pub block_size: Option<u32>,
}

impl FileOptions {
    /// Buffered, read-write, existing file, io_uring when available.
    pub fn new() -> FileOptions {
        FileOptions::default()
    }
    /// Sets [`FileOptions::direct`].
    pub fn direct(mut self, on: bool) -> Self {
        self.direct = on;
        self
    }
    /// Sets [`FileOptions::read_only`].
    pub fn read_only(mut self, on: bool) -> Self {
        self.read_only = on;
        self
    }
    /// Sets [`FileOptions::create_size`].
    pub fn create(mut self, size: u64) -> Self {
        self.create_size = Some(size);
        self
    }
    /// Sets [`FileOptions::force_fallback`].
    pub fn force_fallback(mut self, on: bool) -> Self {
        self.force_fallback = on;
        self
    }
    /// Sets [`FileOptions::fallback_threads`].
    pub fn fallback_threads(mut self, n: usize) -> Self {
        self.fallback_threads = Some(n);
        self
    }
    /// Sets [`FileOptions::pool`].
    pub fn pool(mut self, pool: Arc<BlockingPool>) -> Self {
        self.pool = Some(pool);
        self
    }
    /// Sets [`FileOptions::block_size`].
    pub fn block_size(mut self, bs: u32) -> Self {
        self.block_size = Some(bs);
        self
    }
}

/// A host file, block device or open descriptor; see the module docs.
pub struct FileDevice {
    sh: Arc<FileShared>,
    name: String,
}

impl fmt::Debug for FileDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileDevice")
            .field("name", &self.name)
            .field("fd", &self.sh.fd)
            .field("capacity", &self.sh.capacity)
            .field("direct", &self.sh.fixed_direct)
            .finish()
    }
}

const BLKGETSIZE64: libc::c_ulong = 0x8008_1272;

/// A block device's size now (`BLKGETSIZE64`), `None` if it cannot tell.
fn block_size_now(fd: RawFd) -> Option<u64> {
    let mut size: u64 = 0;
    // SAFETY: BLKGETSIZE64 writes a u64 into the pointer.
    (unsafe { libc::ioctl(fd, BLKGETSIZE64 as _, &mut size) } == 0).then_some(size)
}

fn fstat(fd: RawFd) -> Result<libc::stat> {
    // SAFETY: `st` is a plain C struct written by the kernel.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a local.
    if unsafe { libc::fstat(fd, &mut st) } < 0 {
        return Err(Error::last_os_error());
    }
    Ok(st)
}

/// Direct-I/O alignment (memory, offset) from statx, if the kernel knows
/// (the offset alignment sizes the geometry of a device opened with
/// `O_DIRECT`; no transfer is refused on it: the kernel decides).
fn dio_align(fd: RawFd) -> Option<(u32, u32)> {
    // SAFETY: `stx` is a plain C struct written by the kernel.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    let empty = c"";
    // SAFETY: valid C string and pointer to a local.
    let r = unsafe {
        libc::statx(
            fd,
            empty.as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_DIOALIGN,
            &mut stx,
        )
    };
    if r == 0 && stx.stx_mask & libc::STATX_DIOALIGN != 0 && stx.stx_dio_offset_align != 0 {
        Some((stx.stx_dio_mem_align.max(1), stx.stx_dio_offset_align))
    } else {
        None
    }
}

impl FileDevice {
    /// Opens `path` (a regular file or a block device).
    ///
    /// Errors are the kernel's: `ENOENT` for a missing path (without
    /// `create_size`), `EINVAL` if the file system refuses `O_DIRECT`, and
    /// so on.
    pub fn open(path: impl AsRef<Path>, o: FileOptions) -> Result<FileDevice> {
        let path = path.as_ref();
        let cpath = CString::new(path.as_os_str().as_bytes()).map_err(|_| Error::EINVAL)?;
        let mut flags = libc::O_CLOEXEC
            | if o.read_only {
                libc::O_RDONLY
            } else {
                libc::O_RDWR
            };
        if o.direct {
            flags |= libc::O_DIRECT;
        }
        if o.create_size.is_some() {
            flags |= libc::O_CREAT;
        }
        // SAFETY: valid C string; plain syscall.
        let fd = unsafe { libc::open(cpath.as_ptr(), flags, 0o644 as libc::c_uint) };
        if fd < 0 {
            return Err(Error::last_os_error());
        }
        // SAFETY: `fd` was just opened and is owned by nobody else.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        if let Some(size) = o.create_size {
            let size = libc::off_t::try_from(size).map_err(|_| Error::EINVAL)?;
            // SAFETY: plain syscall on our descriptor.
            if unsafe { libc::ftruncate(fd, size) } < 0 {
                return Err(Error::last_os_error());
            }
        }
        FileDevice::build(fd, Some(owned), true, path.display().to_string(), &o)
    }

    /// A device over a descriptor the caller keeps owning (a regular file,
    /// block device, pipe, FIFO, socket or pty). The device never closes
    /// it. `O_NONBLOCK` (streams) is read from the descriptor's status
    /// flags at every submission (one `fcntl(F_GETFL)`), so `fcntl(F_SETFL)`
    /// or a close and reopen of the same number takes effect for the next
    /// op; `O_DIRECT` (seekable descriptors) once per 64 ops, because it
    /// only decides whether a read is tried inline (a stale answer costs
    /// time, not correctness; see `FileShared::status`); `o.direct`, `o.read_only` and
    /// `o.create_size` are ignored. Nothing is clamped to
    /// a size (POSIX file semantics; see the module docs).
    ///
    /// # Safety
    ///
    /// `fd` must stay open, and refer to the same file, until the device
    /// and every op submitted to it are done (delivered).
    pub unsafe fn from_raw_fd(fd: RawFd, o: FileOptions) -> Result<FileDevice> {
        // SAFETY: plain syscall.
        let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if fl < 0 {
            return Err(Error::last_os_error());
        }
        let o = FileOptions {
            direct: fl & libc::O_DIRECT != 0,
            ..o
        };
        FileDevice::build(fd, None, false, format!("fd:{fd}"), &o)
    }

    fn build(
        fd: RawFd,
        owned: Option<OwnedFd>,
        bounded: bool,
        name: String,
        o: &FileOptions,
    ) -> Result<FileDevice> {
        let st = fstat(fd)?;
        let fmt = st.st_mode & libc::S_IFMT;
        let (seekable, capacity, mut block_size) = match fmt {
            libc::S_IFREG => (true, st.st_size as u64, 512u32),
            libc::S_IFBLK => {
                let mut size: u64 = 0;
                // SAFETY: BLKGETSIZE64 writes a u64 into the pointer.
                if unsafe { libc::ioctl(fd, BLKGETSIZE64 as _, &mut size) } < 0 {
                    return Err(Error::last_os_error());
                }
                let mut ss: libc::c_int = 0;
                // SAFETY: BLKSSZGET writes an int into the pointer.
                if unsafe { libc::ioctl(fd, libc::BLKSSZGET as _, &mut ss) } < 0 {
                    return Err(Error::last_os_error());
                }
                (true, size, u32::try_from(ss).unwrap_or(512).max(1))
            }
            _ => (false, u64::MAX, 1),
        };
        // The direct-I/O alignment is a property of the file, not of the
        // flag: learn it now, use it whenever O_DIRECT is set at submission.
        let mut dio_block = 1;
        if seekable {
            dio_block = match dio_align(fd) {
                Some((_, off)) => block_size.max(off),
                None => block_size,
            };
        }
        if o.direct && seekable {
            block_size = dio_block;
        }
        if let Some(bs) = o.block_size {
            if !bs.is_power_of_two() {
                return Err(Error::EINVAL);
            }
            block_size = bs;
            dio_block = bs;
        }
        let fixed_direct = owned.is_some().then_some(o.direct && seekable);
        Ok(FileDevice {
            sh: Arc::new(FileShared {
                fd,
                _owned: owned,
                seekable,
                socket: fmt == libc::S_IFSOCK,
                bounded: bounded && seekable,
                capacity,
                block_size,
                dio_block,
                fixed_direct,
                force_fallback: o.force_fallback,
                fallback_threads: o.fallback_threads,
                pool: Mutex::ranked(crate::lock_order::FILE_POOL, o.pool.clone()),
                closed: AtomicBool::new(false),
                nowait_ok: AtomicBool::new(seekable),
                status_cache: AtomicU32::new(0),
                lanes: (!seekable).then(|| {
                    [(); 2].map(|()| {
                        Arc::new(crate::ready::lane::Lane::new(
                            &crate::ready::epoll::LANE_OS,
                            Some(crate::ready::epoll::LANE_LINGER),
                        ))
                    })
                }),
            }),
            name,
        })
    }

    /// The descriptor (still owned by the device, or by the caller for
    /// [`FileDevice::from_raw_fd`]).
    pub fn raw_fd(&self) -> RawFd {
        self.sh.fd
    }

    /// Whether the device uses `O_DIRECT` now (for a borrowed descriptor:
    /// whether its status flags say so at this moment).
    pub fn is_direct(&self) -> bool {
        self.sh.read_status().is_ok_and(|s| s.direct)
    }

    /// Whether the descriptor has offsets (a regular file or block device).
    pub fn is_seekable(&self) -> bool {
        self.sh.seekable
    }

    fn fallback(&self, op: InFlight, ticket: EngineTicket, plan: Plan) {
        fallback_job(Arc::clone(&self.sh), op, ticket, plan);
    }
}

impl Target for FileDevice {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Attempt<Result<usize>> {
        let plan = match self
            .sh
            .plan(OpKind::Read, offset, buf.len(), buf.as_ptr() as usize)
        {
            Ok(p) => p,
            Err(r) => return Attempt::Ready(r),
        };
        Attempt::Ready(loop {
            // SAFETY: `buf` is valid for `plan.len <= buf.len()` bytes.
            let r = unsafe {
                if self.sh.seekable {
                    libc::pread(
                        self.sh.fd,
                        buf.as_mut_ptr().cast(),
                        plan.len,
                        offset as libc::off_t,
                    )
                } else {
                    libc::read(self.sh.fd, buf.as_mut_ptr().cast(), plan.len)
                }
            };
            if r >= 0 {
                break Ok(r as usize);
            }
            let e = Error::last_os_error();
            if e != Error::EINTR {
                break Err(e);
            }
        })
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> Attempt<Result<usize>> {
        let plan = match self
            .sh
            .plan(OpKind::Write, offset, buf.len(), buf.as_ptr() as usize)
        {
            Ok(p) => p,
            Err(r) => return Attempt::Ready(r),
        };
        Attempt::Ready(loop {
            // SAFETY: `buf` is valid for `plan.len <= buf.len()` bytes.
            let r = unsafe {
                if self.sh.seekable {
                    libc::pwrite(
                        self.sh.fd,
                        buf.as_ptr().cast(),
                        plan.len,
                        offset as libc::off_t,
                    )
                } else {
                    libc::write(self.sh.fd, buf.as_ptr().cast(), plan.len)
                }
            };
            if r >= 0 {
                break Ok(r as usize);
            }
            let e = Error::last_os_error();
            if e != Error::EINTR {
                break Err(e);
            }
        })
    }

    fn flush(&self, kind: FlushKind) -> Attempt<Result<()>> {
        if self.sh.closed.load(Ordering::Acquire) {
            return Attempt::Ready(Err(Error::ECANCELED));
        }
        // SAFETY: plain syscalls on our descriptor.
        let r = unsafe {
            match kind {
                FlushKind::Full => libc::fsync(self.sh.fd),
                FlushKind::Data => libc::fdatasync(self.sh.fd),
            }
        };
        Attempt::Ready(if r < 0 {
            Err(Error::last_os_error())
        } else {
            Ok(())
        })
    }

    fn strategy(&self) -> Option<&dyn Strategy> {
        Some(self)
    }
}

impl Strategy for FileDevice {
    fn submit(&self, op: InFlight, engine: &mut Engines) {
        let plan = match self.sh.plan_op(&op) {
            Ok(p) => p,
            Err(r) => return op.complete(r),
        };
        // A stream transfer waits for its peer on the readiness waiter, in
        // both engines: detached from this engine (no ticket), it costs
        // the worker nothing while it waits (`stream.rs`).
        if !self.sh.seekable && plan.kind.is_transfer() {
            return stream::park(&self.sh, op, &plan);
        }
        if !self.sh.force_fallback
            && let Some(u) = engine.get::<UringEngine>()
        {
            {
                let sqe = Sqe {
                    kind: plan.kind,
                    fd: self.sh.fd,
                    offset: plan.offset,
                    // `plan` capped the length at MAX_RW < u32::MAX.
                    len: plan.len as u32,
                };
                return u.push(op, Arc::clone(&self.sh), sqe);
            }
        }
        let ticket = engine.ticket();
        self.fallback(op, ticket, plan);
    }

    /// A stream op parked on the readiness waiter is taken out on any
    /// engine (`Cancelled`; or, if a write had moved bytes, it ends with
    /// the count written and the answer is `InFlight`: not cancelled). On
    /// a [`UringEngine`]: cancels an op still in the backlog at once, or
    /// one waiting in the kernel with `IORING_OP_ASYNC_CANCEL`. A transfer
    /// the kernel has already started on a regular file cannot be
    /// cancelled (`InFlight`). On the pool path ops cannot be cancelled.
    fn cancel(&self, op: aio_core::OpKey, engine: &mut Engines) -> CancelOutcome {
        if !self.sh.seekable
            && let Some(o) = stream::cancel(&self.sh, op)
        {
            return o;
        }
        match engine.get::<UringEngine>() {
            Some(u) if !self.sh.force_fallback => u.cancel_op(op),
            _ => CancelOutcome::InFlight,
        }
    }

    /// Reads of a regular file or block device only: `preadv2` with
    /// `RWF_NOWAIT` completes the op inline when the data is in the page
    /// cache, and gives it back when the read would block (or came back
    /// short before the end of the device). The attempt is
    /// [`FileShared::read_nowait`], shared with [`FileDevice::try_read`].
    fn try_nowait(&self, mut op: InFlight) -> std::result::Result<(), InFlight> {
        if op.kind() != OpKind::Read {
            return Err(op);
        }
        let (offset, len) = (op.offset(), op.len());
        let r = {
            let mut segs = op.segments_mut();
            let iov = segs.as_iovecs();
            let addr = plan::segments_addr(iov);
            // SAFETY: the iovecs cover the op's buffer, owned through the
            // in-flight token for as long as this call runs.
            unsafe { self.sh.read_nowait(iov, offset, len, addr) }
        };
        match r {
            TryRead::Done(r) => {
                op.complete(r);
                Ok(())
            }
            TryRead::WouldBlock | TryRead::NotTried => Err(op),
        }
    }
}

/// What [`FileDevice::try_read`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRead {
    /// The read is over: its result (bytes read, or the error `preadv2`
    /// or the device's own checks gave). `ESPIPE` means the descriptor
    /// number no longer names a file with offsets.
    Done(Result<usize>),
    /// The read was tried and would block (a page-cache miss, or a short
    /// read before the end): nothing was transferred that counts. The
    /// descriptor had offsets when it was tried.
    WouldBlock,
    /// Not tried (not a file with offsets, `O_DIRECT`, or the kernel
    /// refused `RWF_NOWAIT` here): nothing was asked of the kernel.
    NotTried,
}

impl FileDevice {
    /// One read of `len` bytes at `offset` into `buf`, tried in the
    /// calling thread without blocking (`preadv2` with `RWF_NOWAIT`), as
    /// the device's strategy routine tries an op inline, but without an
    /// op: for a layer that completes what this finishes itself and
    /// submits an op only for what it does not.
    ///
    /// # Safety
    /// `buf` is valid for writes of `len` bytes for the duration of the
    /// call (nothing else reads or writes it meanwhile).
    pub unsafe fn try_read(&self, buf: *mut u8, len: usize, offset: u64) -> TryRead {
        let iov = [libc::iovec {
            iov_base: buf.cast(),
            iov_len: len,
        }];
        // SAFETY: as the caller promises.
        unsafe { self.sh.read_nowait(&iov, offset, len, buf as usize) }
    }
}

impl FileShared {
    /// The inline read: the plan (bounds, status flags), then one
    /// `preadv2(RWF_NOWAIT)` over `iov` clamped to the plan's length.
    /// Never tried for a stream or `O_DIRECT` (`RWF_NOWAIT` only refuses
    /// to wait for locks and allocation, not for the device, so a direct
    /// read would block the caller for the whole I/O); a kernel that
    /// refuses `RWF_NOWAIT` for this file turns it off for good.
    ///
    /// # Safety
    /// `iov` describes `len` writable bytes that stay valid and untouched
    /// by anyone else for the duration of the call; `addr` is their
    /// address (or every segment's address and length or-ed together).
    unsafe fn read_nowait(
        &self,
        iov: &[libc::iovec],
        offset: u64,
        len: usize,
        addr: usize,
    ) -> TryRead {
        let sh = self;
        if !sh.seekable || !sh.nowait_ok.load(Ordering::Relaxed) {
            return TryRead::NotTried;
        }
        let plan = match sh.plan(OpKind::Read, offset, len, addr) {
            Ok(p) => p,
            Err(r) => return TryRead::Done(r),
        };
        if plan.status.direct {
            return TryRead::NotTried;
        }
        // One call over the segments (one for a contiguous buffer),
        // clamped to `plan.len`.
        let n = {
            let one;
            let many;
            let list = match iov {
                // One buffer (every aio_read): just clamped.
                [b] => {
                    one = [libc::iovec {
                        iov_base: b.iov_base,
                        iov_len: plan.len,
                    }];
                    &one[..]
                }
                _ => {
                    many = iov::range(iov, 0, plan.len);
                    many.as_slice()
                }
            };
            // The system call itself, not glibc's `preadv2`: that is a
            // cancellation point, and this runs in the caller's thread
            // (aio_read must not act on a pending cancellation), and it
            // costs two atomic operations more. The offset goes whole in
            // the low word on 64-bit Linux (`pos_from_hilo`).
            // SAFETY: the iovecs cover `plan.len` writable bytes (caller;
            // `plan.len` is at most the buffers' length).
            unsafe {
                libc::syscall(
                    libc::SYS_preadv2,
                    sh.fd,
                    list.as_ptr(),
                    list.len().min(libc::c_int::MAX as usize),
                    plan.offset as libc::c_ulong,
                    0 as libc::c_ulong,
                    libc::RWF_NOWAIT,
                ) as isize
            }
        };
        if n < 0 {
            let e = Error::last_os_error();
            if e == Error::EINVAL && sh.read_status().is_ok_and(|s| s.direct) {
                // The descriptor became O_DIRECT since its flags were last
                // read (the kernel refused the alignment): not an inline
                // read, and RWF_NOWAIT is fine.
                return TryRead::WouldBlock;
            }
            if e == Error::EOPNOTSUPP || e == Error::EINVAL {
                sh.nowait_ok.store(false, Ordering::Relaxed);
                return TryRead::WouldBlock;
            }
            if e == Error::EAGAIN || e == Error::EINTR {
                return TryRead::WouldBlock;
            }
            return TryRead::Done(Err(e));
        }
        let n = n as usize;
        // A full read needs no check; only a short one must be told apart
        // from a read that would have blocked (fstat only then): it is
        // final only at the end of a regular file or block device, as the
        // number names it now. Anything else (a character device such as
        // /dev/zero, which RWF_NOWAIT cuts short when the thread should
        // yield) goes to a worker, whose plain read is not cut short.
        let at_end = || {
            let end = plan.offset + n as u64;
            if sh.bounded {
                return end >= sh.capacity;
            }
            match fstat(sh.fd) {
                Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFREG => end >= st.st_size as u64,
                // st_size is 0 for a block device: its size, now.
                Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFBLK => {
                    block_size_now(sh.fd).is_some_and(|size| end >= size)
                }
                _ => false,
            }
        };
        if n == plan.len || at_end() {
            TryRead::Done(Ok(n))
        } else {
            TryRead::WouldBlock
        }
    }
}

impl Device for FileDevice {
    fn name(&self) -> &str {
        &self.name
    }

    fn geometry(&self) -> Geometry {
        Geometry {
            block_size: self.sh.block_size,
            capacity: self.sh.capacity,
        }
    }

    /// New ops fail with `ECANCELED`. Ops already in a ring or the pool run
    /// to completion with their result; a read waiting on an idle stream
    /// ends when its engine cancels it or is dropped (`ECANCELED`).
    fn shutdown(&self) {
        self.sh.closed.store(true, Ordering::Release);
    }
}

impl AsRawFd for FileDevice {
    fn as_raw_fd(&self) -> RawFd {
        self.sh.fd
    }
}

/// Stream ops (pipes, FIFOs, sockets, ptys) waiting for their peer on the
/// process's readiness waiter right now: they hold no worker budget, ring
/// slot or thread (the [`ready`](crate::ready) module docs, "Why ops are
/// detached from the engine").
pub fn stream_ops_waiting() -> usize {
    stream::waiting()
}

/// Makes an engine for a servicing thread: a [`UringEngine`] of `depth`,
/// or, if io_uring cannot be set up here (`ENOSYS`, `EPERM` under seccomp,
/// `io_uring_disabled`), aio-core's [`BasicEngine`](aio_core::BasicEngine),
/// on which a [`FileDevice`] uses its blocking pool. The first such
/// failure is kept for [`uring_unavailable`]; nothing is printed (the
/// program's standard error is not the library's).
pub fn new_engine(depth: u32) -> Box<dyn Engine> {
    match UringEngine::new(depth) {
        Ok(e) => Box::new(e),
        Err(e) => {
            let _ = URING_ERROR.set(e);
            Box::new(aio_core::BasicEngine::new())
        }
    }
}

/// The first error of [`new_engine`]'s io_uring setup in this process.
static URING_ERROR: aio_core::sync::OnceLock<Error> = aio_core::sync::OnceLock::new();

/// Why [`new_engine`] fell back to the blocking pool (the first time it
/// did), or `None` if io_uring has worked for every engine so far: for a
/// statistics report (aio-posix's `AIO_POSIX_STATS` prints it).
pub fn uring_unavailable() -> Option<Error> {
    URING_ERROR.get().copied()
}

//! The process-wide POSIX AIO instance: the service pools, the descriptor
//! table, the slab core, and the operations every entry point (C or Rust)
//! is built from. All of it works on glibc's `struct aiocb` ([`RawAiocb`]).
//! (Not aio-core's `Engine`, which is a per-worker I/O engine.)
//!
//! This file holds the instance itself ([`Instance`]: building it, the
//! descriptor table, routing) and the process-wide pointer with its fork
//! handlers; the operations are in
//! [`submit`] (submission and undo), [`cancel`] (`aio_cancel`),
//! [`wait`] (the sleep for completions, `lio_listio`) and [`status`]
//! (the aiocb's status words: `aio_error`, `aio_return`).
//!
//! # Locking
//!
//! The crate's one lock-order table is in `README.md`
//! ([Lock order](crate::protocols#lock-order)). Here: `Instance::fds` is a
//! leaf, never held across a submission; `Slot::st` is held across
//! `PoolSet::cancel` (and the wait for the cancelled op's callback) in
//! `aio_cancel` only.
//!
//! # Descriptors
//!
//! Each descriptor gets `blockdev::FileDevice`s over the caller's fd (never
//! closed by us), cached by fd number. A read of a number cached as a
//! seekable file (regular file, block device), small enough to be tried
//! in the submitting thread, is tried there first
//! ([`FileDevice::try_read`], `preadv2` with `RWF_NOWAIT`) with no other
//! system call, and completes there when the device finishes it (no op is
//! submitted; it completes as an op failed at once does, through the slab's
//! ring). The read's own answer tells what the check below would: `ESPIPE`
//! (the number was closed and reused for a pipe, socket or pty: nothing
//! was read, and it is routed afresh with `fstat`), would block (it has
//! offsets: the op goes to the same device's pools), not tried (`O_DIRECT`,
//! or no `RWF_NOWAIT` here: the check below). Every other op on such a
//! number (writes, flushes, larger or vectored reads) is checked at
//! submission with one system call that transfers nothing (`pread` of no
//! bytes for a read, `lseek(fd, 0, SEEK_CUR)` for a write or flush: see
//! `still_positional`; a third of an `fstat`'s cost here), because it goes
//! to a worker or a ring, where an op routed as positional would not say
//! `ESPIPE` in time (io_uring ignores the offset of a stream; a worker's
//! `ESPIPE` comes after the op was accepted for the wrong device): a
//! failure sends it to the full check. A number that now
//! names another seekable file is served by the cached devices as they
//! are, since a positional transfer on the number is exactly what the
//! program asked for and the device keeps no state of the file's that
//! could make it wrong (its `O_DIRECT` flag, read once per 64 ops, only
//! decides whether a read is tried inline; a closed number fails the
//! transfer with `EBADF`, a directory with `EISDIR`, as `pread` says).
//! Every other number (a stream, or not seen yet) is classified with
//! `fstat` at each submission and its devices re-made when `fstat` says the
//! number now
//! names another file: a stream's devices ignore the offset, so a number
//! reused for a regular file must never reach them. A seekable one (file, block device) has
//! one device: positional reads and writes run in parallel and an fsync
//! follows the writes on it. A stream (pipe, FIFO, socket, pty) has one
//! device per direction, and its ops wait in one FIFO queue per direction
//! ([`StreamQ`]): FIFO among the reads, FIFO among the writes, and a
//! read waiting for data never
//! holds up a write. Writes and flushes of an `O_APPEND` file are queued
//! too (see `README.md`, "Streams").

use std::collections::HashMap;

use std::cell::Cell;

use aio_core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use aio_core::sync::{Arc, Mutex};
use aio_core::{Error, Op, OpKind, Result, Target};
use aio_pool::{PoolConfig, PoolSet, SubmitFlags, Submitted};
#[cfg(doc)]
use blockdev::TryRead;
use blockdev::{BlockingPool, FileDevice, FileOptions};

use crate::abi::RawAiocb;
use crate::complete::Completer;
use crate::config::Config;
use crate::notify::with_signals_blocked;
use crate::stream::StreamQ;

mod cancel;
pub(crate) mod reap;
pub(crate) mod status;
mod submit;
pub(crate) mod vectored;
mod wait;

/// glibc's `AIO_PRIO_DELTA_MAX`: the largest valid `aio_reqprio`.
pub const AIO_PRIO_DELTA_MAX: i32 = 20;

/// What `aio_cancel` achieved (POSIX's three answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelStatus {
    /// `AIO_CANCELED`: every op asked about was cancelled.
    Canceled,
    /// `AIO_NOTCANCELED`: at least one op could not be cancelled.
    NotCanceled,
    /// `AIO_ALLDONE`: every op had already completed.
    AllDone,
}

impl CancelStatus {
    /// The C value.
    pub fn to_c(self) -> i32 {
        match self {
            CancelStatus::Canceled => libc::AIO_CANCELED,
            CancelStatus::NotCanceled => libc::AIO_NOTCANCELED,
            CancelStatus::AllDone => libc::AIO_ALLDONE,
        }
    }
}

/// How a sleep for completions (`aio_suspend`, `LIO_WAIT`) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SuspendEnd {
    /// An op completed (or one was complete already).
    Ready,
    /// `EAGAIN`.
    TimedOut,
    /// `EINTR`.
    Interrupted,
}

struct FdEntry {
    dev: u64,
    ino: u64,
    fmt: u32,
    seekable: bool,
    read: Arc<dyn Target>,
    write: Arc<dyn Target>,
    /// FIFO queues: reads and writes of a stream; `O_APPEND` writes.
    read_q: Arc<StreamQ>,
    write_q: Arc<StreamQ>,
    /// A seekable descriptor's device (also `read` and `write`), for the
    /// submitter's own inline read ([`Instance::with_probe`]).
    file: Option<Arc<FileDevice>>,
}

/// The descriptor table's hash: Fibonacci hashing of the number (one
/// multiply; every submission looks its number up, and SipHash cost more
/// than the lookup). Descriptor numbers are the program's, not an
/// attacker's keys: no flooding to defend against.
type FdHash = std::hash::BuildHasherDefault<FdHasher>;

/// See [`FdHash`].
#[derive(Default)]
struct FdHasher(u64);

impl std::hash::Hasher for FdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_i32(&mut self, n: i32) {
        self.0 = u64::from(n as u32).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A thread's last [`Instance::with_probe`] answer: descriptor `fd` of
/// instance `instance` named `file` while the table's epoch was `epoch`.
struct Probed {
    instance: u32,
    epoch: u64,
    fd: i32,
    file: Arc<FileDevice>,
}

thread_local! {
    /// See [`Probed`]. Taken out while in use (a signal handler's
    /// submission in between finds it empty and asks the table).
    static PROBE: Cell<Option<Probed>> = const { Cell::new(None) };
}

/// Where an op goes.
struct Route {
    target: Arc<dyn Target>,
    seekable: bool,
    /// The FIFO queue it must wait in (streams, `O_APPEND` writes).
    stream: Option<Arc<StreamQ>>,
}

/// What `cancel_locked` found.
enum Cancel {
    Done(CancelStatus),
    /// The op is between its stream queue and the pools: retry.
    Retry,
}

/// [`Completer`]'s way to submit a released stream op: to the process-wide
/// pools (a released op belongs to the live instance; a fork child never
/// runs the parent's callbacks). `ADMITTED`: the program was told the op
/// was accepted, so it must not be refused for queue room now (the slab
/// bounds such ops); only a shutdown can refuse it.
fn resubmit(op: Op) -> std::result::Result<aio_core::Pending, (Op, Error)> {
    match global() {
        Ok(aio) => match aio
            .pools
            .submit(op, SubmitFlags::NO_INLINE | SubmitFlags::ADMITTED)
        {
            Ok(Submitted::Pending(p)) => Ok(p),
            Ok(Submitted::Done(op, _)) => Err((op, Error::EIO)),
            Err(e) => Err((e.op, Error::EAGAIN)),
        },
        Err(e) => Err((op, e)),
    }
}

/// The process-wide instance.
pub(crate) struct Instance {
    pub(crate) core: Completer,
    pools: PoolSet,
    fds: Mutex<HashMap<i32, FdEntry, FdHash>>,
    /// Bumped (under `fds`' lock) whenever an entry of `fds` is made or
    /// re-made: what a thread's cached [`Instance::with_probe`] answer is
    /// checked against.
    fds_epoch: AtomicU64,
    blocking: Arc<BlockingPool>,
    pub(crate) cfg: Config,
    /// This incarnation's number (see [`W_INSTANCE`](crate::abi::W_INSTANCE)).
    instance: u32,
}

/// The last instance number handed out (a fork child continues from its
/// parent's, so the two never share one).
static INSTANCES: AtomicU32 = AtomicU32::new(0);

fn fstat(fd: i32) -> Result<libc::stat> {
    // SAFETY: plain C struct filled by the kernel.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a local.
    if unsafe { libc::fstat(fd, &mut st) } < 0 {
        return Err(Error::last_os_error());
    }
    Ok(st)
}

/// Whether `fd`'s status flags say `O_APPEND` now (checked at each write:
/// `fcntl(F_SETFL)` may set it at any time).
fn appending(fd: i32) -> bool {
    // SAFETY: plain syscall.
    let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    fl >= 0 && fl & libc::O_APPEND != 0
}

/// A seekable descriptor's one device, seen both as itself (for
/// [`Instance::with_probe`]) and as a [`Target`] (for its ops): one
/// allocation, made as a `std::sync::Arc` because the shim's `Arc` cannot
/// unsize.
#[allow(clippy::disallowed_types)]
fn shared_file(d: FileDevice) -> (Arc<FileDevice>, Arc<dyn Target>) {
    let d = std::sync::Arc::new(d);
    let target = std::sync::Arc::clone(&d) as std::sync::Arc<dyn Target>;
    (
        aio_core::sync::arc_from_std(d),
        aio_core::sync::arc_from_std(target),
    )
}

/// Whether a number cached as a seekable file still takes positional I/O
/// of `kind`, by one system call that transfers nothing. A read asks the
/// read itself, with no bytes: `pread(fd, _, 0, 0)` says `ESPIPE` for a
/// pipe, socket or pty and also for the descriptors that `lseek` accepts
/// but `pread` refuses (eventfd, epoll, signalfd, timerfd, inotify), whose
/// read would otherwise go to a file's device. A write or flush keeps
/// `lseek(fd, 0, SEEK_CUR)`: a write of no bytes takes a file's inode lock
/// on ext4. Either is the raw system call: not a cancellation point.
fn still_positional(fd: i32, kind: OpKind) -> bool {
    let mut byte = 0u8;
    // SAFETY: plain system calls; the read transfers nothing (into a
    // valid local), the seek moves no offset (SEEK_CUR by 0).
    unsafe {
        if kind == OpKind::Read {
            libc::syscall(libc::SYS_pread64, fd, &raw mut byte, 0usize, 0i64) == 0
        } else {
            libc::syscall(libc::SYS_lseek, fd, 0i64, libc::SEEK_CUR) >= 0
        }
    }
}

/// `EBADF` unless `fd` is an open descriptor.
pub(crate) fn check_fd(fd: i32) -> Result<()> {
    // SAFETY: plain syscall.
    if fd < 0 || unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(Error::EBADF);
    }
    Ok(())
}

impl Instance {
    /// Builds an instance: the pools (workers start with every signal
    /// blocked, so process-directed signals reach the application's
    /// threads) and an empty slab.
    pub(crate) fn new(cfg: Config) -> Result<Instance> {
        let depth = cfg.queue_depth;
        // Workers (and their rings) start with the first op of their
        // class, on the submitting thread: block every signal around the
        // spawn so they start with signals blocked, as they did when all
        // of them started here.
        let mut pc = PoolConfig::default()
            .engine_factory(move || blockdev::new_engine(depth))
            .spawn_with(|f| with_signals_blocked(f));
        if let Some(t) = cfg.threads {
            pc = pc.pools_per_class(t);
        }
        pc.pin = cfg.pin;
        // The workers run only the library's code (its completions and
        // notifications; a SIGEV_THREAD function runs on a notify thread
        // with default attributes, and on the completing thread, in what
        // is left of this stack, only if no thread at all can be started).
        pc = pc.stack_size(Some(aio_core::sync::SERVICE_STACK));
        let pools = with_signals_blocked(|| PoolSet::new(pc))?;
        let core = Completer::new(cfg.max_ops, cfg.notify_threads, resubmit);
        if reap::reaps() {
            core.slab.start_reaping();
        }
        Ok(Instance {
            core,
            pools,
            fds: Mutex::ranked(
                crate::lock_order::INSTANCE_FDS,
                HashMap::with_hasher(FdHash::default()),
            ),
            fds_epoch: AtomicU64::new(0),
            blocking: BlockingPool::new(4),
            cfg,
            instance: INSTANCES.fetch_add(1, Ordering::Relaxed).wrapping_add(1),
        })
    }

    /// Stops the pools and the notification threads (an instance that
    /// lost the race to become the global one; the global instance lives
    /// until the process ends).
    pub(crate) fn shutdown(&self) {
        self.pools.shutdown(aio_pool::ShutdownMode::Drain);
        self.core.dispatch.shutdown();
    }

    /// The service pools' counters and the number of reads finished in
    /// the submitting thread without reaching the pools
    /// (`AIO_POSIX_STATS`).
    pub(crate) fn pool_stats(&self) -> (Vec<aio_pool::PoolStats>, u64) {
        (self.pools.stats(), self.core.slab.inline_reads())
    }

    /// Runs `f` on the device of a number cached as naming a seekable
    /// file, for a read the submitter tries itself before anything else:
    /// no system call (the read's own `ESPIPE` tells a number reused for a
    /// stream; see "Descriptors" above). `None`: not cached as seekable.
    ///
    /// The thread's last answer is kept in [`PROBE`] with the table's
    /// [`Instance::fds_epoch`] at the time: while the epoch is unchanged
    /// (no entry was made or re-made since), it is the answer the table
    /// would give, found with one load instead of the table's lock and a
    /// reference count taken and dropped.
    fn with_probe<R>(&self, fd: i32, f: impl FnOnce(&Arc<FileDevice>) -> R) -> Option<R> {
        // (`try_with`: a submission from another thread-local's destructor
        // at thread exit asks the table.)
        let cached = PROBE.try_with(Cell::take).ok().flatten();
        // Acquire: pairs with the Release bump in `route_slow`, so a
        // thread that sees the epoch it cached at sees no later entry.
        let epoch = self.fds_epoch.load(Ordering::Acquire);
        let hit = cached
            .as_ref()
            .filter(|c| c.instance == self.instance && c.epoch == epoch && c.fd == fd);
        if let Some(c) = hit {
            let r = f(&c.file);
            let _ = PROBE.try_with(|p| p.set(cached));
            return Some(r);
        }
        // The epoch read under the lock is the one this entry belongs to
        // (bumps happen under the lock too).
        let (file, epoch) = {
            let fds = self.fds.lock();
            let file = fds.get(&fd).and_then(|e| e.file.clone());
            (file, self.fds_epoch.load(Ordering::Relaxed))
        };
        // A miss leaves the previous answer in place: a program that
        // alternates a file with a stream keeps its file's entry.
        let Some(file) = file else {
            let _ = PROBE.try_with(|p| p.set(cached));
            return None;
        };
        let r = f(&file);
        let _ = PROBE.try_with(|p| {
            p.set(Some(Probed {
                instance: self.instance,
                epoch,
                fd,
                file,
            }))
        });
        Some(r)
    }

    /// The route of a read that `file`, [`Instance::with_probe`]'s device for
    /// `fd`, tried inline and found would block
    /// ([`TryRead::WouldBlock`]): the
    /// number took a positional read when it was tried, as the check of
    /// [`Instance::route`] would have said. (If another thread re-made
    /// the number's devices meanwhile, the full route.)
    fn route_tried(&self, fd: i32, file: &Arc<FileDevice>) -> Result<Route> {
        let target = self
            .fds
            .lock()
            .get(&fd)
            .filter(|e| e.file.as_ref().is_some_and(|f| Arc::ptr_eq(f, file)))
            .map(|e| Arc::clone(&e.read));
        match target {
            Some(target) => Ok(Route {
                target,
                seekable: true,
                stream: None,
            }),
            None => self.route(fd, OpKind::Read),
        }
    }

    fn route(&self, fd: i32, kind: OpKind) -> Result<Route> {
        // The fast path (see "Descriptors" above): a number known to name
        // a seekable file is checked with one system call that transfers
        // nothing, not an fstat.
        let known = self
            .fds
            .lock()
            .get(&fd)
            .filter(|e| e.seekable)
            .map(|e| match kind {
                OpKind::Read => (Arc::clone(&e.read), Arc::clone(&e.read_q)),
                _ => (Arc::clone(&e.write), Arc::clone(&e.write_q)),
            });
        // (`lseek`, a write's check, succeeds on an eventfd: a number
        // reused for one of the library's own is sent to the full check,
        // which refuses it.)
        if let Some((target, q)) = known
            && still_positional(fd, kind)
            && (kind == OpKind::Read || !blockdev::is_library_fd(fd))
        {
            let stream = (kind != OpKind::Read && (appending(fd) || q.busy())).then_some(q);
            return Ok(Route {
                target,
                seekable: true,
                stream,
            });
        }
        // ESPIPE (the number now names a pipe, socket, ...), EBADF,
        // anything else: the full check.
        self.route_slow(fd, kind)
    }

    /// [`Instance::route`] with the descriptor classified by `fstat`, its
    /// devices made again when the number now names another file.
    #[cold]
    fn route_slow(&self, fd: i32, kind: OpKind) -> Result<Route> {
        // A number the program closed and the library reused for one of
        // its own descriptors: the program's op must fail as it would have
        // before, not reach the library's ring or eventfd. (Every op on a
        // number the table does not vouch for comes here.)
        if blockdev::is_library_fd(fd) {
            return Err(Error::EBADF);
        }
        let st = fstat(fd)?;
        let fmt = st.st_mode & libc::S_IFMT;
        let mut fds = self.fds.lock();
        let fresh = fds
            .get(&fd)
            .is_some_and(|e| e.dev == st.st_dev && e.ino == st.st_ino && e.fmt == fmt);
        if !fresh {
            let opts = FileOptions::new().pool(Arc::clone(&self.blocking));
            // SAFETY: POSIX requires the descriptor to stay open while ops
            // on it are in flight; the device never closes it, and an op
            // on a descriptor closed too early fails with EBADF.
            let mk = || unsafe { FileDevice::from_raw_fd(fd, opts.clone()) };
            let d = mk()?;
            let seekable = d.is_seekable();
            let (read, write, file) = if seekable {
                let (file, read) = shared_file(d);
                (Arc::clone(&read), read, Some(file))
            } else {
                (aio_core::into_dyn(d), aio_core::into_dyn(mk()?), None)
            };
            fds.insert(
                fd,
                FdEntry {
                    dev: st.st_dev,
                    ino: st.st_ino,
                    fmt,
                    seekable,
                    read,
                    write,
                    read_q: Arc::new(StreamQ::default()),
                    write_q: Arc::new(StreamQ::default()),
                    file,
                },
            );
            // Release: a thread whose probe reads this epoch sees the
            // entry (see `with_probe`).
            self.fds_epoch.fetch_add(1, Ordering::Release);
        }
        let e = fds.get(&fd).expect("inserted above");
        let (target, q) = match kind {
            OpKind::Read => (Arc::clone(&e.read), Arc::clone(&e.read_q)),
            _ => (Arc::clone(&e.write), Arc::clone(&e.write_q)),
        };
        let seekable = e.seekable;
        // The queue's own lock is never taken under the table's.
        drop(fds);
        // Streams queue every op (reads in the read queue; writes and
        // flushes in the write queue). Files queue their writes and
        // flushes only with O_APPEND: the appends must land in order, and
        // a flush must follow the appends still waiting in the queue
        // (which the pools' fsync barrier cannot see), also once the
        // program cleared O_APPEND while some still wait (`busy`).
        let ordered = !seekable || (kind != OpKind::Read && (appending(fd) || q.busy()));
        let stream = ordered.then_some(q);
        Ok(Route {
            target,
            seekable,
            stream,
        })
    }
}

// ---------------------------------------------------------------------------
// The process-wide instance, and fork.
// ---------------------------------------------------------------------------

/// The instance's address (0: not built yet, or a fork child's fresh start).
static GLOBAL: AtomicUsize = AtomicUsize::new(0);
/// Set by `aio_init` before the instance exists.
static PENDING_CONFIG: Mutex<Option<Config>> =
    Mutex::ranked(crate::lock_order::PENDING_CONFIG, None);
static ATFORK: aio_core::sync::Once = aio_core::sync::Once::new();

extern "C" fn atfork_prepare() {
    // No descriptor of ours may be half made (created, not yet registered
    // for closing in the child) across the fork.
    blockdev::fork_prepare();
}

extern "C" fn atfork_parent() {
    blockdev::fork_parent();
}

extern "C" fn atfork_child() {
    // The child has none of the parent's threads: forget the parent's
    // instance (its memory stays, untouched) and build a fresh one on the
    // first call. The parent's ops complete in the parent. Its rings and
    // eventfds are closed here, so the child keeps none of them (the
    // parent's copies are untouched), and so is its completion descriptor:
    // the child's instance makes its own. Async-signal-safe: atomics, close.
    if let Some(fd) = try_global().and_then(|aio| aio.core.slab.cfd.fd()) {
        // SAFETY: the parent instance's eventfd, inherited; nothing in the
        // child uses it.
        unsafe { libc::close(fd) };
    }
    GLOBAL.store(0, Ordering::Release);
    blockdev::fork_child();
    crate::trace::reset_counters();
}

/// Records `aio_init`'s limits for the instance about to be built.
pub(crate) fn set_pending_config(cfg: Config) {
    *PENDING_CONFIG.lock() = Some(cfg);
}

/// The process-wide instance if it exists (never builds it: for the
/// async-signal-safe paths).
pub(crate) fn try_global() -> Option<&'static Instance> {
    let p = GLOBAL.load(Ordering::Acquire);
    // SAFETY: a published instance is never freed.
    (p != 0).then(|| unsafe { &*(p as *const Instance) })
}

/// The instance for a submission of `cb`, and the aiocb's descriptor if it
/// was closed before the instance had to be built: building it opens
/// rings and eventfds, which may take that very number, and the op must
/// still fail with `EBADF` as it would have a moment before.
///
/// # Safety
/// `cb` is NULL or points at a valid aiocb.
pub(crate) unsafe fn global_for(cb: *const RawAiocb) -> Result<(&'static Instance, Option<i32>)> {
    if let Some(aio) = try_global() {
        return Ok((aio, None));
    }
    let closed = (!cb.is_null() && (cb as usize).is_multiple_of(std::mem::align_of::<RawAiocb>()))
        .then(|| {
            // SAFETY: a valid, aligned aiocb (caller); one field, raw.
            let fd = unsafe { (&raw const (*cb).aio_fildes).read() };
            check_fd(fd).is_err().then_some(fd)
        })
        .flatten();
    Ok((global()?, closed))
}

/// The process-wide instance, built on first use.
pub(crate) fn global() -> Result<&'static Instance> {
    let p = GLOBAL.load(Ordering::Acquire);
    if p != 0 {
        // SAFETY: a published instance is never freed.
        return Ok(unsafe { &*(p as *const Instance) });
    }
    global_slow()
}

#[cold]
fn global_slow() -> Result<&'static Instance> {
    ATFORK.call_once(|| {
        // SAFETY: registers a plain extern "C" function.
        unsafe {
            libc::pthread_atfork(
                Some(atfork_prepare),
                Some(atfork_parent),
                Some(atfork_child),
            )
        };
    });
    let cfg = PENDING_CONFIG
        .lock()
        .clone()
        .unwrap_or_else(Config::from_env);
    let aio = Box::new(Instance::new(cfg)?);
    let ptr = Box::into_raw(aio) as usize;
    match GLOBAL.compare_exchange(0, ptr, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => {
            // A first aio_waitcomplete that ran while this instance was
            // being built may have missed it: look at the flag again.
            // SAFETY: just published; never freed.
            reap::published(unsafe { &*(ptr as *const Instance) });
            crate::stats::arm(|| try_global().map(Instance::pool_stats));
            // SAFETY: just published; never freed.
            Ok(unsafe { &*(ptr as *const Instance) })
        }
        Err(other) => {
            // Another thread won: stop and free ours.
            // SAFETY: `ptr` came from Box::into_raw and was never shared.
            let mine = unsafe { Box::from_raw(ptr as *mut Instance) };
            mine.shutdown();
            drop(mine);
            // SAFETY: the winner's instance is never freed.
            Ok(unsafe { &*(other as *const Instance) })
        }
    }
}

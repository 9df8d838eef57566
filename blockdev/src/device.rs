//! The consumer-side interface every device implements, and small helpers
//! the devices share (aligned buffers, bounds, a seeded RNG, joining a
//! device thread from its own `Drop`).

use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::fmt;
use std::ptr::NonNull;

use aio_core::sync::thread::{self, JoinHandle};
use aio_core::{Error, Result, Strategy, Target};

/// A device's shape: the unit of direct I/O and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// The logical block size in bytes: the alignment a direct transfer's
    /// offset, length and buffer address must have (a power of two).
    pub block_size: u32,
    /// The size in bytes. Reads starting at or past it return 0 bytes,
    /// reads crossing it are cut short, writes starting at or past it fail
    /// with `ENOSPC` and writes crossing it are cut short. A stream (pipe,
    /// socket, pty) has no size: `u64::MAX`.
    pub capacity: u64,
}

/// A block device: something that can run ops synchronously ([`Target`])
/// and start them without waiting ([`Strategy`]), with a shape.
///
/// # Which thread completes an op, and what a callback must not do
///
/// Every device completes each op exactly once with
/// [`InFlight::complete`](aio_core::InFlight::complete). The thread that
/// does it, and so the thread that runs the op's callback (or pushes its
/// completion-ring entry), depends on the device:
///
/// | device | completing thread |
/// |---|---|
/// | [`RamDisk`](crate::RamDisk) | the submitter, inside `submit` / `try_nowait` |
/// | [`FileDevice`](crate::FileDevice) on a [`UringEngine`](crate::UringEngine) | the servicing thread, inside [`Engine::poll`](aio_core::Engine::poll) (or inside `submit` for an op rejected up front, or inside `Strategy::cancel` for an op cancelled in the backlog, or when the engine is dropped) |
/// | `FileDevice` on any other engine | a thread of its [`BlockingPool`](crate::BlockingPool) (the process-wide one by default), then its `EngineTicket` returns |
/// | `FileDevice` on a stream (pipe, FIFO, socket, pty), any engine | the submitter inside `submit` if the transfer could be done at once, else the readiness thread (or the canceller, inside `Strategy::cancel`); no engine ticket: the op is detached from the engine |
/// | [`NbdDevice`](crate::NbdDevice) | the device's reader thread (or the submitter for a refused request, or the caller of `shutdown`) |
/// | [`DelayDevice`](crate::DelayDevice) | the device's timer thread (or the inner device's thread once shut down) |
/// | [`FaultDevice`](crate::FaultDevice) | the submitter (injected errors), the inner device's thread (short transfers, no fault), the timer thread (reordered) |
///
/// No lock of the device is held while a callback runs (the devices call
/// out after unlocking, as NetBSD's `biodone2` does). A callback may run on
/// the submitter's own thread, inside `submit` or inside `Engine::poll`, so
/// it **must not block** (no waiting for another op, no sleeping, no
/// blocking I/O) and **must not submit to the engine that is running it**.
/// It may submit to other engines, and it may wake threads.
pub trait Device: Target + Strategy {
    /// A short human-readable name (a path, an export, `ram`).
    fn name(&self) -> &str;

    /// The device's shape.
    fn geometry(&self) -> Geometry;

    /// Stops the device. Ops submitted afterwards complete at once with
    /// `ECANCELED`; ops already in flight complete with their result or with
    /// `ECANCELED`, never hang and are never lost. Idempotent; never blocks
    /// for long.
    fn shutdown(&self);
}

/// Clamps a transfer to the device's capacity, Linux block-device style.
///
/// Returns the length to transfer, or the result to complete with at once:
/// `Ok(0)` for an empty transfer or a read at or past the end, `ENOSPC` for
/// a write at or past the end.
pub(crate) fn clamp_transfer(
    write: bool,
    offset: u64,
    len: usize,
    capacity: u64,
) -> std::result::Result<usize, Result<usize>> {
    if len == 0 {
        return Err(Ok(0));
    }
    if offset >= capacity {
        return Err(if write { Err(Error::ENOSPC) } else { Ok(0) });
    }
    let room = capacity - offset;
    Ok(usize::try_from(room).map_or(len, |room| len.min(room)))
}

/// A zeroed heap buffer with a chosen alignment, for direct I/O (an owned
/// `Vec<u8>` cannot promise more than byte alignment).
///
/// Hand it to an op with
/// [`Op::from_raw_parts`](aio_core::Op::from_raw_parts) and keep it alive
/// until the op is delivered.
pub struct AlignedBuf {
    ptr: NonNull<u8>,
    layout: Layout,
}

// SAFETY: the buffer is plain bytes owned by this value; moving it between
// threads moves the ownership.
unsafe impl Send for AlignedBuf {}
// SAFETY: shared access only reads (`as_slice`); writing needs `&mut`.
unsafe impl Sync for AlignedBuf {}

impl AlignedBuf {
    /// `len` zeroed bytes aligned to `align` (a power of two). `EINVAL` if
    /// `align` is not a power of two, `ENOMEM` if the allocation fails.
    pub fn new(len: usize, align: usize) -> Result<AlignedBuf> {
        let layout = Layout::from_size_align(len.max(1), align).map_err(|_| Error::EINVAL)?;
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc_zeroed(layout) };
        let ptr = NonNull::new(ptr).ok_or(Error::ENOMEM)?;
        Ok(AlignedBuf { ptr, layout })
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.layout.size()
    }

    /// Whether the buffer is empty (never: at least one byte is allocated).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The first byte.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr` is valid for `len` initialized bytes while `self`
        // lives, and `&self` excludes writers.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.layout.size()) }
    }

    /// The bytes, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`, with `&mut self` for exclusivity.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.layout.size()) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

impl fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlignedBuf")
            .field("len", &self.layout.size())
            .field("align", &self.layout.align())
            .finish()
    }
}

/// A small seeded PRNG (xorshift64*): reproducible fault and latency
/// patterns without a dependency.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator from `seed` (0 is replaced by a fixed non-zero value).
    pub fn new(seed: u64) -> XorShift {
        XorShift(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A uniform `f64` in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Joins a device thread from the device's `Drop`, unless `Drop` is running
/// on that very thread (the last reference to a device can be released by
/// an op completed on the device's own thread): then the thread is left to
/// finish on its own, which it does because the device told it to stop.
pub(crate) fn join_unless_self(h: Option<JoinHandle<()>>) {
    if let Some(h) = h {
        #[cfg(not(loom))]
        if h.thread().id() == thread::current().id() {
            return;
        }
        let _ = h.join();
    }
    #[cfg(loom)]
    let _ = thread::current;
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn clamp_follows_linux_block_devices() {
        assert_eq!(clamp_transfer(false, 0, 0, 10), Err(Ok(0)));
        assert_eq!(clamp_transfer(false, 10, 4, 10), Err(Ok(0)));
        assert_eq!(clamp_transfer(true, 10, 4, 10), Err(Err(Error::ENOSPC)));
        assert_eq!(clamp_transfer(true, 8, 4, 10), Ok(2));
        assert_eq!(clamp_transfer(false, 2, 4, 10), Ok(4));
    }

    #[test]
    fn aligned_buf_is_aligned_and_zeroed() {
        let mut b = AlignedBuf::new(8192, 4096).unwrap();
        assert_eq!(b.as_mut_ptr() as usize % 4096, 0);
        assert!(b.as_slice().iter().all(|&x| x == 0));
        assert_eq!(AlignedBuf::new(10, 3).unwrap_err(), Error::EINVAL);
    }

    #[test]
    fn xorshift_is_reproducible() {
        let mut a = XorShift::new(42);
        let mut b = XorShift::new(42);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let f = XorShift::new(7).next_f64();
        assert!((0.0..1.0).contains(&f));
    }
}

//! [`MemTarget`]: an in-memory [`Target`] for aio-core's own tests, models
//! and benches. It is not the RAM disk (that is `blockdev::RamDisk`, with
//! geometry and an asynchronous interface); it is the smallest thing an op
//! can run against, plus a gate that makes it answer `Busy`.

use crate::error::{Error, Result};
use crate::op::{Segments, SegmentsMut};
use crate::sync::Mutex;
use crate::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use crate::target::{Attempt, Availability, FlushKind, Target};

/// A byte array behind a mutex, with a gate that can be closed to make
/// every call answer [`Attempt::Busy`].
///
/// Reads that start at or past the end return 0 bytes and reads crossing
/// it are cut short; writes that do not fit fail with `ENOSPC`.
#[derive(Debug)]
pub struct MemTarget {
    data: Mutex<Vec<u8>>,
    closed: AtomicBool,
    avail: Availability,
    flushes: AtomicU64,
}

impl MemTarget {
    /// `size` zeroed bytes, gate open.
    pub fn new(size: usize) -> MemTarget {
        MemTarget {
            data: Mutex::ranked(crate::lock_order::MEM_TARGET_DATA, vec![0; size]),
            closed: AtomicBool::new(false),
            avail: Availability::new(),
            flushes: AtomicU64::new(0),
        }
    }

    /// Closes the gate: every call answers `Busy` until [`MemTarget::open`].
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// Opens the gate and releases the target's availability, waking every
    /// op that was waiting for it.
    pub fn open(&self) {
        self.closed.store(false, Ordering::Release);
        self.avail.release();
    }

    /// How many flushes succeeded.
    pub fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }

    /// A copy of the contents.
    pub fn snapshot(&self) -> Vec<u8> {
        self.data.lock().clone()
    }

    #[inline]
    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

impl Target for MemTarget {
    #[inline]
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Attempt<Result<usize>> {
        if self.is_closed() {
            return Attempt::Busy;
        }
        let data = self.data.lock();
        let Ok(off) = usize::try_from(offset) else {
            return Attempt::Ready(Ok(0));
        };
        if off >= data.len() {
            return Attempt::Ready(Ok(0));
        }
        let n = buf.len().min(data.len() - off);
        buf[..n].copy_from_slice(&data[off..off + n]);
        Attempt::Ready(Ok(n))
    }

    #[inline]
    fn write_at(&self, buf: &[u8], offset: u64) -> Attempt<Result<usize>> {
        if self.is_closed() {
            return Attempt::Busy;
        }
        let mut data = self.data.lock();
        let end = usize::try_from(offset)
            .ok()
            .and_then(|o| o.checked_add(buf.len()));
        match end {
            Some(end) if end <= data.len() => {
                data[end - buf.len()..end].copy_from_slice(buf);
                Attempt::Ready(Ok(buf.len()))
            }
            _ => Attempt::Ready(Err(Error::ENOSPC)),
        }
    }

    /// One transfer under one lock: the segments are filled in order from
    /// `offset`, cut short at the end of the target.
    fn read_vectored_at(&self, segs: &mut SegmentsMut<'_>, offset: u64) -> Attempt<Result<usize>> {
        if self.is_closed() {
            return Attempt::Busy;
        }
        let data = self.data.lock();
        let Ok(mut off) = usize::try_from(offset) else {
            return Attempt::Ready(Ok(0));
        };
        let mut done = 0;
        for seg in segs.iter_mut() {
            if off >= data.len() {
                break;
            }
            let n = seg.len().min(data.len() - off);
            seg[..n].copy_from_slice(&data[off..off + n]);
            done += n;
            off += n;
        }
        Attempt::Ready(Ok(done))
    }

    /// One transfer under one lock: all the segments fit, or nothing is
    /// written (`ENOSPC`), as for a contiguous write.
    fn write_vectored_at(&self, segs: &Segments<'_>, offset: u64) -> Attempt<Result<usize>> {
        if self.is_closed() {
            return Attempt::Busy;
        }
        let mut data = self.data.lock();
        let total = segs.total_len();
        let start = match usize::try_from(offset).ok() {
            Some(o) if o.checked_add(total).is_some_and(|end| end <= data.len()) => o,
            _ => return Attempt::Ready(Err(Error::ENOSPC)),
        };
        let mut off = start;
        for seg in segs.iter() {
            data[off..off + seg.len()].copy_from_slice(seg);
            off += seg.len();
        }
        Attempt::Ready(Ok(total))
    }

    fn flush(&self, _kind: FlushKind) -> Attempt<Result<()>> {
        if self.is_closed() {
            return Attempt::Busy;
        }
        self.flushes.fetch_add(1, Ordering::Relaxed);
        Attempt::Ready(Ok(()))
    }

    fn availability(&self) -> Option<&Availability> {
        Some(&self.avail)
    }
}

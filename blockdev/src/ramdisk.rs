//! [`RamDisk`]: a device in memory, the embedded default of the project.
//!
//! The bytes are split into fixed-size regions ("shards"), each behind its
//! own lock, so transfers to different regions from different threads never
//! contend. A transfer that spans regions locks them one at a time in
//! ascending order (never two at once), so it is not atomic with respect
//! to a concurrent overlapping transfer: like a real disk, the device only
//! promises that each region is written or read whole.
//!
//! # Field legend
//!
//! ```text
//!   m   under that shard's mutex
//!   a   atomic
//!
//!   shards[i]   m   bytes [i << shard_shift, (i + 1) << shard_shift)
//!   flushes     a   statistics
//!   closed      a   set by shutdown (Release), read by every request (Acquire)
//!
//!   Shard mutexes are taken one at a time (lock order: the crate docs).
//! ```
//!
//! Every op completes inside `submit` (and inside `try_nowait`), on the
//! submitter's thread, after the shard lock is released.

use std::fmt;

use aio_core::sync::Mutex;
use aio_core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use aio_core::{
    Attempt, Engines, Error, FlushKind, InFlight, OpKind, Result, Segments, SegmentsMut, Strategy,
    Target,
};

use crate::device::{Device, Geometry, clamp_transfer};

/// How a [`RamDisk`] is made.
#[derive(Debug, Clone)]
pub struct RamDiskOptions {
    /// Size in bytes.
    pub capacity: u64,
    /// Logical block size reported by [`Device::geometry`] (a power of two).
    pub block_size: u32,
    /// Bytes per lock (a power of two, at least the block size).
    pub shard_size: usize,
    /// The name reported by [`Device::name`].
    pub name: String,
}

impl RamDiskOptions {
    /// `capacity` bytes, 512-byte blocks, 64 KiB per lock, named `ram`.
    pub fn new(capacity: u64) -> RamDiskOptions {
        RamDiskOptions {
            capacity,
            block_size: 512,
            shard_size: 64 << 10,
            name: "ram".into(),
        }
    }
}

/// A RAM disk, sized at creation.
pub struct RamDisk {
    name: String,
    capacity: u64,
    block_size: u32,
    shard_shift: u32,
    shards: Box<[Mutex<Box<[u8]>>]>,
    flushes: AtomicU64,
    closed: AtomicBool,
}

impl fmt::Debug for RamDisk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RamDisk")
            .field("name", &self.name)
            .field("capacity", &self.capacity)
            .field("shards", &self.shards.len())
            .finish()
    }
}

impl RamDisk {
    /// A zeroed RAM disk of `capacity` bytes with default options.
    pub fn new(capacity: u64) -> Result<RamDisk> {
        RamDisk::with_options(RamDiskOptions::new(capacity))
    }

    /// A zeroed RAM disk. `EINVAL` if the block or shard size is not a
    /// power of two or the shard is smaller than a block; `ENOMEM` if the
    /// capacity does not fit in memory's address space.
    pub fn with_options(o: RamDiskOptions) -> Result<RamDisk> {
        if !o.block_size.is_power_of_two()
            || !o.shard_size.is_power_of_two()
            || o.shard_size < o.block_size as usize
        {
            return Err(Error::EINVAL);
        }
        let cap = usize::try_from(o.capacity).map_err(|_| Error::ENOMEM)?;
        if cap > isize::MAX as usize {
            return Err(Error::ENOMEM);
        }
        let n = cap.div_ceil(o.shard_size);
        let mut shards = Vec::with_capacity(n);
        for i in 0..n {
            let len = o.shard_size.min(cap - i * o.shard_size);
            shards.push(Mutex::ranked(
                crate::lock_order::RAMDISK_SHARD,
                vec![0u8; len].into_boxed_slice(),
            ));
        }
        Ok(RamDisk {
            name: o.name,
            capacity: o.capacity,
            block_size: o.block_size,
            shard_shift: o.shard_size.trailing_zeros(),
            shards: shards.into_boxed_slice(),
            flushes: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        })
    }

    /// How many flushes completed.
    pub fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }

    /// Copies between the disk and `buf`, region by region. `off + len`
    /// must be within the capacity (the caller clamped it).
    fn copy(&self, off: u64, len: usize, mut f: impl FnMut(&mut [u8], usize)) {
        let mut done = 0usize;
        // The caller clamped `off + len` to the capacity, which fits in a
        // usize (checked at creation).
        let mut pos = off as usize;
        let mask = (1usize << self.shard_shift) - 1;
        while done < len {
            let idx = pos >> self.shard_shift;
            let within = pos & mask;
            let mut shard = self.shards[idx].lock();
            let n = (shard.len() - within).min(len - done);
            f(&mut shard[within..within + n], done);
            drop(shard);
            done += n;
            pos += n;
        }
    }

    fn do_read(&self, buf: &mut [u8], offset: u64) -> Result<usize> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::ECANCELED);
        }
        let n = match clamp_transfer(false, offset, buf.len(), self.capacity) {
            Ok(n) => n,
            Err(r) => return r,
        };
        self.copy(offset, n, |disk, at| {
            buf[at..at + disk.len()].copy_from_slice(disk)
        });
        Ok(n)
    }

    fn do_write(&self, buf: &[u8], offset: u64) -> Result<usize> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::ECANCELED);
        }
        let n = match clamp_transfer(true, offset, buf.len(), self.capacity) {
            Ok(n) => n,
            Err(r) => return r,
        };
        self.copy(offset, n, |disk, at| {
            disk.copy_from_slice(&buf[at..at + disk.len()])
        });
        Ok(n)
    }

    /// Reads into `segs`, in order: one transfer of their total length,
    /// clamped once at the end of the disk (so a short read stops inside
    /// whichever segment holds the last byte).
    fn do_readv(&self, segs: &mut SegmentsMut<'_>, offset: u64) -> Result<usize> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::ECANCELED);
        }
        let n = match clamp_transfer(false, offset, segs.total_len(), self.capacity) {
            Ok(n) => n,
            Err(r) => return r,
        };
        let (mut at, mut left) = (offset, n);
        for seg in segs.iter_mut() {
            let k = seg.len().min(left);
            self.copy(at, k, |disk, i| {
                seg[i..i + disk.len()].copy_from_slice(disk)
            });
            at += k as u64;
            left -= k;
        }
        Ok(n)
    }

    /// Writes `segs`, in order, as [`RamDisk::do_readv`] reads.
    fn do_writev(&self, segs: &Segments<'_>, offset: u64) -> Result<usize> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::ECANCELED);
        }
        let n = match clamp_transfer(true, offset, segs.total_len(), self.capacity) {
            Ok(n) => n,
            Err(r) => return r,
        };
        let (mut at, mut left) = (offset, n);
        for seg in segs.iter() {
            let k = seg.len().min(left);
            self.copy(at, k, |disk, i| {
                disk.copy_from_slice(&seg[i..i + disk.len()])
            });
            at += k as u64;
            left -= k;
        }
        Ok(n)
    }

    fn do_flush(&self) -> Result<usize> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::ECANCELED);
        }
        self.flushes.fetch_add(1, Ordering::Relaxed);
        Ok(0)
    }

    fn run(&self, op: &mut InFlight) -> Result<usize> {
        let offset = op.offset();
        match op.kind() {
            // The segments (one for a contiguous buffer): a segmented op is
            // one transfer too.
            OpKind::Read => self.do_readv(&mut op.segments_mut(), offset),
            OpKind::Write => self.do_writev(&op.segments(), offset),
            OpKind::Fsync | OpKind::Fdatasync => self.do_flush(),
        }
    }
}

impl Target for RamDisk {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Attempt<Result<usize>> {
        Attempt::Ready(self.do_read(buf, offset))
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> Attempt<Result<usize>> {
        Attempt::Ready(self.do_write(buf, offset))
    }

    fn read_vectored_at(&self, segs: &mut SegmentsMut<'_>, offset: u64) -> Attempt<Result<usize>> {
        Attempt::Ready(self.do_readv(segs, offset))
    }

    fn write_vectored_at(&self, segs: &Segments<'_>, offset: u64) -> Attempt<Result<usize>> {
        Attempt::Ready(self.do_writev(segs, offset))
    }

    fn flush(&self, _kind: FlushKind) -> Attempt<Result<()>> {
        Attempt::Ready(self.do_flush().map(|_| ()))
    }

    fn strategy(&self) -> Option<&dyn Strategy> {
        Some(self)
    }
}

impl Strategy for RamDisk {
    /// Completes the op before returning, on the caller's thread; the
    /// engine is not used.
    fn submit(&self, mut op: InFlight, _engine: &mut Engines) {
        let r = self.run(&mut op);
        op.complete(r);
    }

    /// Always succeeds: a RAM disk never blocks.
    fn try_nowait(&self, mut op: InFlight) -> std::result::Result<(), InFlight> {
        let r = self.run(&mut op);
        op.complete(r);
        Ok(())
    }
}

impl Device for RamDisk {
    fn name(&self) -> &str {
        &self.name
    }

    fn geometry(&self) -> Geometry {
        Geometry {
            block_size: self.block_size,
            capacity: self.capacity,
        }
    }

    fn shutdown(&self) {
        self.closed.store(true, Ordering::Release);
    }
}

//! The target trait: the least an op needs from whatever services it.
//!
//! A [`Target`] reads and writes at an offset and flushes, synchronously, on
//! the caller's thread. It may answer [`Attempt::Busy`] instead of doing the
//! work ("the resource is not available now"); the caller then sleeps on its
//! op's `available` condvar until the target's [`Availability`] is released.
//! That is all aio-core needs to run an op in synchronous mode; `blockdev`
//! implements this trait for its devices and adds the asynchronous
//! strategy-style interface on top.
//!
//! The availability protocol (how a caller sleeps on a busy target and how
//! a release wakes it) is one module, `op/available.rs`, narrated in
//! [the op module's docs](crate::op#waiting-for-a-busy-target-available);
//! [`Availability`] is re-exported here, where targets name it.

use crate::error::Result;
pub use crate::op::Availability;
use crate::op::{Segments, SegmentsMut};
use crate::sync::Arc;

/// The outcome of asking a target to do something now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Attempt<T> {
    /// The work was done (successfully or not).
    Ready(T),
    /// The resource is busy; nothing was done. Wait on the target's
    /// [`Availability`] and try again.
    Busy,
}

/// Which flush an [`OpKind::Fsync`](crate::OpKind::Fsync) or
/// [`OpKind::Fdatasync`](crate::OpKind::Fdatasync) asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushKind {
    /// Data and metadata (`fsync(2)`).
    Full,
    /// Data and the metadata needed to read it back (`fdatasync(2)`).
    Data,
}

/// Whatever an op is aimed at: a device, a file, a test double.
///
/// Every method runs on the caller's thread and may block for the duration
/// of the I/O itself, but must not block waiting for a *resource* (a free
/// slot, a lock held across I/O): it answers [`Attempt::Busy`] instead, and
/// releases its [`Availability`] once the resource frees up.
pub trait Target: Send + Sync {
    /// Reads into `buf` from `offset`. Returns the number of bytes read,
    /// which is short at the end of the target and 0 past it.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Attempt<Result<usize>>;

    /// Writes `buf` at `offset`. Returns the number of bytes written.
    fn write_at(&self, buf: &[u8], offset: u64) -> Attempt<Result<usize>>;

    /// Reads into `segs`, in order, from `offset`: one transfer of
    /// `segs.total_len()` bytes (`preadv(2)`). Returns the bytes read.
    ///
    /// The default reads segment by segment with [`Target::read_at`] and
    /// stops at the first short read. If a later segment answers `Busy` or
    /// fails, it returns the bytes already read (a short read), since it
    /// cannot undo them. A target that can do better (one lock, one
    /// syscall) overrides it; see
    /// [`IoBuf`](crate::IoBuf#how-a-device-serves-a-segmented-buffer).
    fn read_vectored_at(&self, segs: &mut SegmentsMut<'_>, offset: u64) -> Attempt<Result<usize>> {
        let mut done = 0usize;
        for seg in segs.iter_mut() {
            if seg.is_empty() {
                continue;
            }
            let want = seg.len();
            match self.read_at(seg, offset + done as u64) {
                Attempt::Ready(Ok(n)) => {
                    done += n;
                    if n < want {
                        break;
                    }
                }
                r if done == 0 => return r,
                _ => break,
            }
        }
        Attempt::Ready(Ok(done))
    }

    /// Writes `segs`, in order, at `offset`: one transfer of
    /// `segs.total_len()` bytes (`pwritev(2)`). Returns the bytes written.
    /// The default works as [`Target::read_vectored_at`]'s, with
    /// [`Target::write_at`].
    fn write_vectored_at(&self, segs: &Segments<'_>, offset: u64) -> Attempt<Result<usize>> {
        let mut done = 0usize;
        for seg in segs.iter() {
            if seg.is_empty() {
                continue;
            }
            match self.write_at(seg, offset + done as u64) {
                Attempt::Ready(Ok(n)) => {
                    done += n;
                    if n < seg.len() {
                        break;
                    }
                }
                r if done == 0 => return r,
                _ => break,
            }
        }
        Attempt::Ready(Ok(done))
    }

    /// Makes earlier writes durable.
    fn flush(&self, kind: FlushKind) -> Attempt<Result<()>>;

    /// Where callers wait after [`Attempt::Busy`]. A target that can never be
    /// busy returns `None` (the default); if it answers `Busy` anyway the op
    /// fails with `EAGAIN` rather than sleeping forever.
    fn availability(&self) -> Option<&Availability> {
        None
    }

    /// The target's strategy routine, if it can start I/O without waiting
    /// for it (see [`Strategy`](crate::Strategy)). A servicer runs a target
    /// without one synchronously on its own thread.
    fn strategy(&self) -> Option<&dyn crate::strategy::Strategy> {
        None
    }
}

/// Turns a concrete target into the `Arc<dyn Target>` that ops carry.
// The shim's `Arc` cannot be unsized (loom's cannot), so the trait object is
// made as a std `Arc` and converted by the shim.
#[allow(clippy::disallowed_types)]
pub fn into_dyn<T: Target + 'static>(t: T) -> Arc<dyn Target> {
    crate::sync::arc_from_std(std::sync::Arc::new(t) as std::sync::Arc<dyn Target>)
}

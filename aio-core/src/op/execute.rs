//! Running an op against its target on the calling thread: the one
//! synchronous execution path, used by the owner's
//! [`Op::run_sync`](crate::Op::run_sync) and by a servicer's
//! [`InFlight::execute`]. It binds the record's target handle
//! (`record.rs`, `TargetHandle`) to `Arc<dyn Target>` and gives the token
//! its target-facing methods, so that `record.rs` and `inflight.rs`, which
//! a [`Strategy`](crate::Strategy) depends on, do not depend on
//! [`Target`] (see [the file map](super#files-and-imports)).

use super::inflight::InFlight;
use super::kind::OpKind;
use super::record::{Binding, Desc, OpShared, TargetBinding};
use crate::error::Result;
use crate::sync::Arc;
use crate::target::{Attempt, FlushKind, Target};

impl TargetBinding for Binding {
    type Handle = Arc<dyn Target>;
}

impl OpShared {
    /// Runs the op against its target on the calling thread.
    ///
    /// # Safety
    /// The caller holds the right to the buffer: the owner in synchronous
    /// mode, or the in-flight token.
    #[inline]
    pub(super) unsafe fn execute(&self) -> Attempt<Result<usize>> {
        // SAFETY: the caller's right to the op covers the descriptor and the
        // buffer; `contiguous` points at `len >= d.len` valid bytes
        // (checked by `Op::prepare`, promised by the raw constructors).
        self.desc.with_mut(|p| unsafe {
            let d = &mut *p;
            // The common case first, small enough to be inlined into the
            // caller (synchronous mode's zero-cost claim); the rest apart.
            if d.kind == OpKind::Read && !d.buf.is_segmented() {
                let (ptr, _) = d.buf.contiguous();
                return d
                    .target
                    .read_at(std::slice::from_raw_parts_mut(ptr, d.len), d.offset);
            }
            execute_other(d)
        })
    }
}

/// [`OpShared::execute`] for every op but a contiguous read.
///
/// # Safety
/// As for [`OpShared::execute`]: the caller holds the right to the
/// descriptor's buffer; a segmented buffer's segments carry exactly
/// `d.len` bytes.
#[inline(never)]
unsafe fn execute_other(d: &mut Desc) -> Attempt<Result<usize>> {
    // SAFETY: as the caller promises (see above).
    unsafe {
        match d.kind {
            OpKind::Read if d.buf.is_segmented() => {
                let mut segs = d.buf.segments(d.len);
                d.target.read_vectored_at(&mut segs, d.offset)
            }
            OpKind::Write if d.buf.is_segmented() => {
                let segs = d.buf.segments(d.len);
                d.target.write_vectored_at(&segs.as_segments(), d.offset)
            }
            OpKind::Read => {
                let (ptr, _) = d.buf.contiguous();
                d.target
                    .read_at(std::slice::from_raw_parts_mut(ptr, d.len), d.offset)
            }
            OpKind::Write => {
                let (ptr, _) = d.buf.contiguous();
                d.target
                    .write_at(std::slice::from_raw_parts(ptr, d.len), d.offset)
            }
            OpKind::Fsync => match d.target.flush(FlushKind::Full) {
                Attempt::Ready(r) => Attempt::Ready(r.map(|()| 0)),
                Attempt::Busy => Attempt::Busy,
            },
            OpKind::Fdatasync => match d.target.flush(FlushKind::Data) {
                Attempt::Ready(r) => Attempt::Ready(r.map(|()| 0)),
                Attempt::Busy => Attempt::Busy,
            },
        }
    }
}

/// The token's target-facing methods (the rest are in `inflight.rs`).
impl InFlight {
    /// The op's target.
    pub fn target(&self) -> Arc<dyn Target> {
        self.d(|d| Arc::clone(&d.target))
    }
    /// A key identifying the op's target, as
    /// [`Queued::target_key`](crate::Queued::target_key).
    pub fn target_key(&self) -> usize {
        self.d(|d| Arc::as_ptr(&d.target) as *const () as usize)
    }

    /// Runs the op against its target on this thread (the servicer's).
    pub fn execute(&mut self) -> Attempt<Result<usize>> {
        // SAFETY: the token gives the right to the buffer.
        unsafe { self.shared.execute() }
    }
}

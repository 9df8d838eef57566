//! Forwarding an op to an inner device while keeping the right to complete
//! it: the wrappers' way to see an inner completion before the owner does.
//!
//! The outer op (the one the owner submitted to the wrapper) stays with the
//! wrapper. A shadow op is made on the inner device over the *same buffer*
//! (by raw pointer: the outer op's in-flight token guarantees the buffer
//! lives and nobody else touches it), detached, started and submitted to
//! the inner device through the caller's engine. Its callback hands the
//! outer op, the outer op's engine ticket and the inner result to `then`,
//! which completes the outer op now or later (on a timer).
//!
//! Why reusing the buffer is safe, and why a cancel never reaches the
//! shadow op: [`crate::wrap`]'s module docs, "Forwarding".

use aio_core::sync::Arc;
use aio_core::{
    Attempt, Availability, Completion, EngineTicket, Engines, Error, FlushKind, InFlight, IoBuf,
    Op, Result, Strategy, Target,
};

use crate::iov;

/// What to do with the outer op once the inner device has finished.
pub(crate) type Then = Box<dyn FnOnce(InFlight, EngineTicket, Result<usize>) + Send>;

struct Ctx {
    outer: InFlight,
    ticket: EngineTicket,
    then: Then,
}

fn shadow_done(c: &Completion<'_>) {
    // SAFETY: `private` is the pointer `forward` leaked for this op, and
    // this callback runs exactly once per op (aio-core's guarantee), so the
    // box is reclaimed exactly once.
    let ctx = unsafe { Box::from_raw(c.private() as *mut Ctx) };
    let Ctx {
        outer,
        ticket,
        then,
    } = *ctx;
    then(outer, ticket, c.result());
}

/// Sends `outer` to `inner` as a transfer of `len` bytes (at most the op's
/// length; the same kind and offset) and calls `then` with the result. The
/// outer op's engine ticket is taken here, from `engine`.
pub(crate) fn forward(
    inner: &Arc<dyn Target>,
    mut outer: InFlight,
    engine: &mut Engines,
    len: usize,
    then: Then,
) {
    let ticket = engine.ticket();
    let kind = outer.kind();
    let offset = outer.offset();
    // (A transfer of 0 bytes has no segments: nothing to share.)
    let nsegs = if kind.is_transfer() {
        outer.segments().len()
    } else {
        0
    };
    let segmented = nsegs > 1;
    let (ptr, cap) = if nsegs == 1 {
        let b = outer.buf_mut();
        (b.as_mut_ptr(), b.len())
    } else {
        (std::ptr::null_mut(), 0)
    };
    let mut shadow = if segmented {
        // A segmented op: the shadow gets the first `len` bytes of the
        // same segments (a shortened transfer ends inside the segment
        // that holds its last byte), so the inner device serves one
        // request too.
        let segs = outer.segments();
        let cap = segs.total_len();
        let iovs = iov::range(segs.as_iovecs(), 0, len.min(cap))
            .as_slice()
            .to_vec();
        // SAFETY: the segments are the outer op's, valid and reserved to
        // us by the outer in-flight token exactly as the contiguous buffer
        // below is.
        let buf = unsafe { IoBuf::from_segments(iovs) };
        Op::with_io_buf(Arc::clone(inner), buf)
    } else {
        // SAFETY: the buffer is the outer op's, valid for `cap` bytes and
        // reserved to us by the outer in-flight token, which `Ctx` keeps until
        // after the shadow op's callback, i.e. until the inner device is done
        // with the buffer (see the module docs).
        unsafe { Op::from_raw_parts(Arc::clone(inner), ptr, cap) }
    };
    // The shadow carries the outer op's id (user data), so an inner
    // device's logs name the op its owner knows. Cancels key on the record
    // (`OpKey`), and the shadow is a record of its own, so a cancel of the
    // outer op, or of another op with the same id, never reaches it.
    shadow.set_id(outer.id());
    let len = if kind.is_transfer() {
        len.min(shadow.io_buf().len())
    } else {
        0
    };
    if let Err(e) = shadow.prepare(kind, offset, len) {
        return then(outer, ticket, Err(e));
    }
    let ctx = Box::new(Ctx {
        outer,
        ticket,
        then,
    });
    shadow.set_callback(shadow_done);
    shadow.set_private(Box::into_raw(ctx) as usize);
    let (pending, queued) = shadow.enqueue();
    // Detached: the shadow op lives until its callback has run.
    drop(pending);
    let Some(mut f) = queued.start() else {
        // Nobody else knows the shadow op, so nobody cancelled it; never
        // reached. (If it were, the cancel would have run the callback.)
        return;
    };
    match inner.strategy() {
        Some(s) => s.submit(f, engine),
        None => {
            // A plain target: run it here (it may block, as a synchronous
            // target does).
            let r = match f.execute() {
                Attempt::Ready(r) => r,
                Attempt::Busy => Err(Error::EAGAIN),
            };
            f.complete(r);
        }
    }
}

/// A device behind an [`Arc`], usable as a target: the owner keeps typed
/// access to the device (to shut it down, read its geometry, reach its own
/// methods) while ops carry `Arc<dyn Target>`s made from this wrapper by
/// [`SharedDevice::target`]. Every call is forwarded, including
/// `Target::strategy`, so a servicer submits straight to the device.
pub struct SharedDevice<D>(Arc<D>);

impl<D> SharedDevice<D> {
    /// Wraps `device`.
    pub fn new(device: Arc<D>) -> SharedDevice<D> {
        SharedDevice(device)
    }

    /// The device.
    pub fn device(&self) -> &Arc<D> {
        &self.0
    }
}

impl<D: Target + 'static> SharedDevice<D> {
    /// An `Arc<dyn Target>` for ops, forwarding to `device`.
    pub fn target(device: &Arc<D>) -> Arc<dyn Target> {
        aio_core::into_dyn(SharedDevice(Arc::clone(device)))
    }
}

impl<D> std::fmt::Debug for SharedDevice<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedDevice")
    }
}

impl<D: Target> Target for SharedDevice<D> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Attempt<Result<usize>> {
        self.0.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> Attempt<Result<usize>> {
        self.0.write_at(buf, offset)
    }
    fn flush(&self, kind: FlushKind) -> Attempt<Result<()>> {
        self.0.flush(kind)
    }
    fn availability(&self) -> Option<&Availability> {
        self.0.availability()
    }
    fn strategy(&self) -> Option<&dyn Strategy> {
        self.0.strategy()
    }
}

impl<D: Strategy> Strategy for SharedDevice<D> {
    fn submit(&self, op: InFlight, engine: &mut Engines) {
        self.0.submit(op, engine)
    }
    fn cancel(&self, key: aio_core::OpKey, engine: &mut Engines) -> aio_core::CancelOutcome {
        self.0.cancel(key, engine)
    }
    fn try_nowait(&self, op: InFlight) -> std::result::Result<(), InFlight> {
        self.0.try_nowait(op)
    }
}

impl<D: crate::Device> crate::Device for SharedDevice<D> {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn geometry(&self) -> crate::Geometry {
        self.0.geometry()
    }
    fn shutdown(&self) {
        self.0.shutdown()
    }
}

//! The op's buffer: [`IoBuf`], owned, raw foreign memory, or a list of
//! segments, with an optional keep-alive.

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::ptr::NonNull;

/// Where an op's data lives: the extension point for vectored I/O and
/// foreign memory.
///
/// Three shapes, one type:
///
/// * **owned** ([`IoBuf::owned`], `From<Vec<u8>>`): a `Vec<u8>` the op owns
///   and hands back ([`Op::into_buf`](crate::Op::into_buf)); no allocation
///   beyond the vector's own;
/// * **raw** ([`IoBuf::from_raw_parts`]): `len` bytes at a pointer the
///   caller keeps valid (the C layer's `aio_buf`);
/// * **segments** ([`IoBuf::from_segments`]): a list of `(ptr, len)`
///   segments laid out as `struct iovec` (an `aio_readv`'s `iov`, a guest's
///   scatter/gather list).
///
/// Any of them may carry a **keep-alive** ([`IoBuf::with_keep_alive`]): an
/// object that owns the memory (a guest-memory mapping, a pinned page set)
/// and is dropped exactly once, when the op lets go of the buffer: when the
/// op is given another buffer, when [`Op::into_buf`](crate::Op::into_buf)
/// takes it back, or when the record is freed (which, for a detached op,
/// happens on whichever thread lets go of it last).
///
/// # How a device serves a segmented buffer
///
/// As one request: a segmented op is *one* transfer of the segments' total
/// length at the op's offset, filling (or writing) the segments in order,
/// never one request per segment. A device gets the segments from
/// [`InFlight::segments_mut`](crate::InFlight::segments_mut) (to read into)
/// or [`InFlight::segments`](crate::InFlight::segments) (to write from);
/// both give the list as `struct iovec`s (`as_iovecs`), so a file device
/// passes them to `preadv`/`pwritev` or an io_uring `READV`/`WRITEV` as
/// they are, and as byte slices (`iter_mut`, `iter`);
/// and an NBD client sends one request and scatters the reply into them. A
/// contiguous buffer gives a one-element slice, so a device written against
/// the segments serves every op. A synchronous target serves them in
/// [`Target::read_vectored_at`](crate::Target::read_vectored_at) and
/// [`Target::write_vectored_at`](crate::Target::write_vectored_at), whose
/// defaults loop over the segments; [`MemTarget`](crate::MemTarget) copies
/// them under one lock.
///
/// A segmented op's transfer length is the segments' total length:
/// [`Op::prepare`](crate::Op::prepare) of a read or write refuses any other
/// (`EINVAL`), as `readv(2)` takes its length from the `iovec` list. The
/// contiguous accessors ([`Op::buf`](crate::Op::buf),
/// [`InFlight::buf`](crate::InFlight::buf) and their `_mut` forms) give the
/// one segment of a one-segment list and panic on a list of more (there is
/// no contiguous view of scattered memory; use the segments).
pub struct IoBuf {
    mem: Mem,
    keep_alive: Option<Box<dyn Any + Send + Sync>>,
}

/// The memory itself.
enum Mem {
    /// No buffer (flushes, or a fresh op).
    None,
    /// Owned by the op.
    Owned(Vec<u8>),
    /// Foreign memory, valid as promised to [`IoBuf::from_raw_parts`].
    Raw { ptr: NonNull<u8>, len: usize },
    /// Foreign segments, valid as promised to [`IoBuf::from_segments`];
    /// `total` is the sum of their lengths.
    Segments { iov: Vec<libc::iovec>, total: usize },
}

// SAFETY: an `IoBuf` by itself gives no access to foreign memory (its
// public methods read only lengths, or hand back an owned `Vec`); the bytes
// are reached only through an op, whose protocol gives one party at a time
// the use of them (the owner while the op is not submitted, the holder of
// the in-flight right while it is), and the raw constructors' callers
// promise the memory stays valid and unaliased for that use. The owned
// `Vec` and the keep-alive (`Send + Sync` by its bound) are thread-safe.
unsafe impl Send for IoBuf {}
// SAFETY: as for `Send`; `&IoBuf` gives no access to the memory that the
// op's protocol does not order.
unsafe impl Sync for IoBuf {}

impl fmt::Debug for IoBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shape = match &self.mem {
            Mem::None => "none",
            Mem::Owned(_) => "owned",
            Mem::Raw { .. } => "raw",
            Mem::Segments { .. } => "segments",
        };
        f.debug_struct("IoBuf")
            .field("shape", &shape)
            .field("len", &self.len())
            .field("segments", &self.segment_count())
            .field("keep_alive", &self.keep_alive.is_some())
            .finish()
    }
}

impl Default for IoBuf {
    fn default() -> Self {
        IoBuf::none()
    }
}

impl From<Vec<u8>> for IoBuf {
    fn from(v: Vec<u8>) -> Self {
        IoBuf::owned(v)
    }
}

impl IoBuf {
    fn from_mem(mem: Mem) -> IoBuf {
        IoBuf {
            mem,
            keep_alive: None,
        }
    }

    /// No buffer (0 bytes): what a flush needs.
    pub fn none() -> IoBuf {
        IoBuf::from_mem(Mem::None)
    }

    /// A buffer the op owns.
    pub fn owned(v: Vec<u8>) -> IoBuf {
        IoBuf::from_mem(Mem::Owned(v))
    }

    /// `len` bytes of foreign memory at `ptr`. A null `ptr` or a zero `len`
    /// makes an empty buffer.
    ///
    /// # Safety
    ///
    /// Whenever an op holding this buffer is submitted or run, until the op
    /// lets go of the buffer, `ptr` must be valid for reads and writes of
    /// `len` bytes, and nothing else may access those bytes between
    /// submission and delivery. After delivery (see the op module's
    /// [early-free rule](crate::op#the-early-free-rayons-latch-warning)) the
    /// caller may free them, unless a keep-alive owns them.
    pub unsafe fn from_raw_parts(ptr: *mut u8, len: usize) -> IoBuf {
        match NonNull::new(ptr) {
            Some(ptr) if len > 0 => IoBuf::from_mem(Mem::Raw { ptr, len }),
            _ => IoBuf::none(),
        }
    }

    /// A list of foreign segments, `struct iovec` by `struct iovec` (the
    /// list itself is copied into the buffer; the memory it points at is
    /// not). Segments of length 0 are allowed and carry nothing.
    ///
    /// # Safety
    ///
    /// As for [`IoBuf::from_raw_parts`], for every segment: `iov_base` is
    /// valid for reads and writes of `iov_len` bytes whenever the op is
    /// submitted or run, nothing else accesses them between submission and
    /// delivery, and no two segments overlap.
    ///
    /// # Panics
    ///
    /// If the total length overflows `usize`.
    pub unsafe fn from_segments(iov: impl Into<Box<[libc::iovec]>>) -> IoBuf {
        // SAFETY: the caller makes `from_segment_vec`'s promise, which is
        // this function's.
        unsafe { IoBuf::from_segment_vec(iov.into().into_vec()) }
    }

    /// As [`IoBuf::from_segments`], from a vector the buffer keeps as it is
    /// (its spare capacity too): [`IoBuf::into_segment_vec`] hands it back,
    /// so a caller that refills the same vector for every op (the C
    /// layer's `aio_readv`) allocates nothing once it has grown.
    ///
    /// # Safety
    ///
    /// As for [`IoBuf::from_segments`].
    ///
    /// # Panics
    ///
    /// If the total length overflows `usize`.
    pub unsafe fn from_segment_vec(iov: Vec<libc::iovec>) -> IoBuf {
        let total = iov
            .iter()
            .try_fold(0usize, |t, s| t.checked_add(s.iov_len))
            .expect("IoBuf::from_segments: total length overflows usize");
        IoBuf::from_mem(Mem::Segments { iov, total })
    }

    /// Attaches `owner`, dropped exactly once when the op lets go of this
    /// buffer (see the type's docs). Replaces (and drops) an earlier one.
    pub fn with_keep_alive(mut self, owner: Box<dyn Any + Send + Sync>) -> IoBuf {
        self.keep_alive = Some(owner);
        self
    }

    /// Total length in bytes (the capacity an op may transfer).
    pub fn len(&self) -> usize {
        match &self.mem {
            Mem::None => 0,
            Mem::Owned(v) => v.len(),
            Mem::Raw { len, .. } => *len,
            Mem::Segments { total, .. } => *total,
        }
    }

    /// Whether the buffer holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the buffer is a list of segments (as made by
    /// [`IoBuf::from_segments`]), even a list of one.
    pub fn is_segmented(&self) -> bool {
        matches!(self.mem, Mem::Segments { .. })
    }

    /// How many segments the buffer has: 1 for a non-empty contiguous
    /// buffer, 0 for an empty one.
    pub fn segment_count(&self) -> usize {
        match &self.mem {
            Mem::Segments { iov, .. } => iov.len(),
            _ if self.is_empty() => 0,
            _ => 1,
        }
    }

    /// Takes the owned vector out (`None` for any other shape; the
    /// buffer, and its keep-alive, are dropped either way).
    pub fn into_vec(mut self) -> Option<Vec<u8>> {
        match std::mem::replace(&mut self.mem, Mem::None) {
            Mem::Owned(v) => Some(v),
            _ => None,
        }
    }

    /// Takes the segment list out (`None` for any other shape; the
    /// buffer, and its keep-alive, are dropped either way), with the
    /// capacity it had, to be refilled and given to
    /// [`IoBuf::from_segment_vec`] again.
    pub fn into_segment_vec(mut self) -> Option<Vec<libc::iovec>> {
        match std::mem::replace(&mut self.mem, Mem::None) {
            Mem::Segments { iov, .. } => Some(iov),
            _ => None,
        }
    }

    /// The contiguous memory: `(pointer, length)`.
    ///
    /// # Panics
    ///
    /// On a list of more than one segment.
    #[inline]
    pub(super) fn contiguous(&mut self) -> (*mut u8, usize) {
        match &mut self.mem {
            Mem::None => (NonNull::dangling().as_ptr(), 0),
            Mem::Owned(v) => (v.as_mut_ptr(), v.len()),
            Mem::Raw { ptr, len } => (ptr.as_ptr(), *len),
            Mem::Segments { iov, .. } => match &**iov {
                [] => (NonNull::dangling().as_ptr(), 0),
                [one] if !one.iov_base.is_null() => (one.iov_base.cast(), one.iov_len),
                [_] => (NonNull::dangling().as_ptr(), 0),
                _ => panic!(
                    "the contiguous view of a buffer of {} segments: use the segments",
                    iov.len()
                ),
            },
        }
    }

    /// The segments that carry the first `len` bytes, to read into.
    ///
    /// # Safety
    ///
    /// The caller has the use of the memory (the op's owner, or the holder
    /// of its in-flight right) for `'a`, and `len` is at most the buffer's
    /// length and, for a segmented buffer, 0 or equal to it (as `prepare`
    /// and `Op::set_io_buf` enforce).
    #[inline]
    pub(super) unsafe fn segments<'a>(&'a mut self, len: usize) -> SegmentsMut<'a> {
        if !self.is_segmented() {
            let (ptr, _) = self.contiguous();
            return SegmentsMut {
                list: SegList::One(libc::iovec {
                    iov_base: ptr.cast(),
                    iov_len: len,
                }),
                _use: PhantomData,
            };
        }
        let Mem::Segments { iov, total } = &self.mem else {
            unreachable!("checked just above");
        };
        // A segmented transfer is the whole list or nothing (a flush, or a
        // transfer reset by `set_io_buf`): `prepare` allows no other length.
        let list = if len == 0 {
            SegList::Many(&[])
        } else {
            debug_assert_eq!(len, *total);
            SegList::Many(iov)
        };
        SegmentsMut {
            list,
            _use: PhantomData,
        }
    }
}

/// The list behind a [`Segments`] or [`SegmentsMut`]: the buffer's own
/// `iovec` array, or one `iovec` for a contiguous buffer (so no allocation).
#[derive(Clone, Copy)]
enum SegList<'a> {
    One(libc::iovec),
    Many(&'a [libc::iovec]),
}

impl SegList<'_> {
    fn iovecs(&self) -> &[libc::iovec] {
        match self {
            SegList::One(one) => std::slice::from_ref(one),
            SegList::Many(s) => s,
        }
    }
}

/// One segment as a pointer that is never null (a null `iov_base` is only
/// allowed with length 0, where any well-aligned pointer will do).
fn seg_ptr(s: &libc::iovec) -> *mut u8 {
    if s.iov_len == 0 || s.iov_base.is_null() {
        NonNull::dangling().as_ptr()
    } else {
        s.iov_base.cast()
    }
}

/// The segments of an op's buffer, to read into (one segment for a
/// contiguous buffer). Made by
/// [`InFlight::segments_mut`](crate::InFlight::segments_mut) or
/// [`Op::segments_mut`](crate::Op::segments_mut); allocates nothing.
///
/// The list itself cannot be changed through it (so a device that advances
/// through a short transfer works on its own copy of the `iovec`s, never
/// on the op's).
pub struct SegmentsMut<'a> {
    list: SegList<'a>,
    _use: PhantomData<&'a mut [u8]>,
}

/// The segments of an op's buffer, to write from (one segment for a
/// contiguous buffer). Made by [`InFlight::segments`](crate::InFlight::segments),
/// [`Op::segments`](crate::Op::segments) or [`SegmentsMut::as_segments`].
#[derive(Clone, Copy)]
pub struct Segments<'a> {
    list: SegList<'a>,
    _use: PhantomData<&'a [u8]>,
}

impl fmt::Debug for SegmentsMut<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_segments().fmt(f)
    }
}

impl fmt::Debug for Segments<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.list.iovecs().iter().map(|s| s.iov_len))
            .finish()
    }
}

impl<'a> Segments<'a> {
    /// The segments as `struct iovec`s, for `pwritev`, an io_uring
    /// `WRITEV`, or a vectored send.
    pub fn as_iovecs(&self) -> &[libc::iovec] {
        self.list.iovecs()
    }

    /// How many segments there are.
    pub fn len(&self) -> usize {
        self.list.iovecs().len()
    }

    /// Whether there are no segments.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes all the segments hold.
    pub fn total_len(&self) -> usize {
        self.list.iovecs().iter().map(|s| s.iov_len).sum()
    }

    /// The segments' bytes, in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.list.iovecs().iter().map(|s| {
            // SAFETY: the op's protocol gives this view's maker the use of
            // the memory for `'a`, which outlives this borrow; each segment
            // is valid for `iov_len` bytes (the buffer's constructor's
            // promise) and `seg_ptr` is never null.
            unsafe { std::slice::from_raw_parts(seg_ptr(s), s.iov_len) }
        })
    }
}

impl<'a> SegmentsMut<'a> {
    /// A read-only view of the same segments, for as long as this borrow.
    pub fn as_segments(&self) -> Segments<'_> {
        Segments {
            list: self.list,
            _use: PhantomData,
        }
    }

    /// The same segments, read-only, for the rest of `'a`.
    pub fn into_segments(self) -> Segments<'a> {
        Segments {
            list: self.list,
            _use: PhantomData,
        }
    }

    /// The segments as `struct iovec`s, for `preadv`, an io_uring `READV`,
    /// or a vectored receive.
    pub fn as_iovecs(&mut self) -> &[libc::iovec] {
        self.list.iovecs()
    }

    /// How many segments there are.
    pub fn len(&self) -> usize {
        self.list.iovecs().len()
    }

    /// Whether there are no segments.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes all the segments hold.
    pub fn total_len(&self) -> usize {
        self.as_segments().total_len()
    }

    /// The segments' bytes, in order, to fill.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut [u8]> + '_ {
        self.list.iovecs().iter().map(|s| {
            // SAFETY: as in `Segments::iter`, and `&mut self` plus the
            // constructor's promise that segments do not overlap make each
            // slice the only access to its bytes.
            unsafe { std::slice::from_raw_parts_mut(seg_ptr(s), s.iov_len) }
        })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::IoBuf;
    use crate::sync::Arc;
    use crate::sync::atomic::{AtomicUsize, Ordering};
    use crate::{MemTarget, Op, OpKind, into_dyn};

    /// Counts its drops.
    struct KeepAlive(Arc<AtomicUsize>);
    impl Drop for KeepAlive {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn iov(s: &mut [u8]) -> libc::iovec {
        libc::iovec {
            iov_base: s.as_mut_ptr().cast(),
            iov_len: s.len(),
        }
    }

    #[test]
    fn a_segment_vec_comes_back_with_its_capacity() {
        let mut a = [0u8; 8];
        let mut b = [0u8; 8];
        let mut v = Vec::with_capacity(16);
        v.push(iov(&mut a));
        v.push(iov(&mut b));
        let cap = v.capacity();
        // SAFETY: `a` and `b` outlive the buffer, which moves no data.
        let buf = unsafe { IoBuf::from_segment_vec(v) };
        assert!(buf.is_segmented());
        assert_eq!((buf.segment_count(), buf.len()), (2, 16));
        let back = buf.into_segment_vec().expect("a segmented buffer");
        assert_eq!((back.len(), back.capacity()), (2, cap));
        assert!(IoBuf::from(vec![1u8; 4]).into_segment_vec().is_none());
    }

    #[test]
    fn a_three_segment_write_and_read_are_one_transfer_each() {
        let mem = Arc::new(MemTarget::new(4096));
        let target = into_dyn(MemTargetRef(Arc::clone(&mem)));
        let (mut a, mut b, mut c) = (*b"abc", *b"defgh", *b"ij");
        // SAFETY: the three arrays outlive the op's use of them and are
        // touched by nothing else while it runs.
        let buf = unsafe { IoBuf::from_segments(vec![iov(&mut a), iov(&mut b), iov(&mut c)]) };
        assert!(buf.is_segmented());
        assert_eq!((buf.len(), buf.segment_count()), (10, 3));
        let mut op = Op::with_io_buf(Arc::clone(&target), buf);
        assert_eq!(op.prepare(OpKind::Write, 100, 9), Err(crate::Error::EINVAL));
        op.prepare(OpKind::Write, 100, 10).unwrap();
        assert_eq!(op.run_sync(), Ok(10));
        assert_eq!(&mem.snapshot()[100..110], b"abcdefghij");

        let (mut x, mut y, mut z) = ([0u8; 4], [0u8; 1], [0u8; 5]);
        // SAFETY: as above.
        let buf = unsafe { IoBuf::from_segments(vec![iov(&mut x), iov(&mut y), iov(&mut z)]) };
        drop(op.set_io_buf(buf));
        op.prepare(OpKind::Read, 100, 10).unwrap();
        assert_eq!(op.segments().total_len(), 10);
        assert_eq!(op.run_sync(), Ok(10));
        drop(op);
        assert_eq!((&x, &y, &z), (b"abcd", b"e", b"fghij"));
    }

    #[test]
    fn the_default_vectored_path_serves_segments_too() {
        // A target that does not override the vectored methods: the
        // default loops over the segments with `read_at`/`write_at`.
        struct Plain(MemTarget);
        impl crate::Target for Plain {
            fn read_at(&self, b: &mut [u8], o: u64) -> crate::Attempt<crate::Result<usize>> {
                self.0.read_at(b, o)
            }
            fn write_at(&self, b: &[u8], o: u64) -> crate::Attempt<crate::Result<usize>> {
                self.0.write_at(b, o)
            }
            fn flush(&self, k: crate::FlushKind) -> crate::Attempt<crate::Result<()>> {
                self.0.flush(k)
            }
        }
        let target = into_dyn(Plain(MemTarget::new(64)));
        let (mut a, mut b) = (*b"12", *b"345");
        // SAFETY: as above.
        let buf = unsafe { IoBuf::from_segments(vec![iov(&mut a), iov(&mut b)]) };
        let mut op = Op::with_io_buf(target, buf);
        op.prepare(OpKind::Write, 59, 5).unwrap();
        assert_eq!(op.run_sync(), Ok(5));
        let (mut x, mut y) = ([0u8; 3], [0u8; 3]);
        // SAFETY: as above.
        let buf = unsafe { IoBuf::from_segments(vec![iov(&mut x), iov(&mut y)]) };
        drop(op.set_io_buf(buf));
        op.prepare(OpKind::Read, 59, 6).unwrap();
        assert_eq!(op.run_sync(), Ok(5), "cut short at the end of the target");
        drop(op);
        assert_eq!((&x, &y), (b"123", b"45\0"));
    }

    #[test]
    fn the_keep_alive_is_dropped_once_when_the_op_is_dropped() {
        let drops = Arc::new(AtomicUsize::new(0));
        let buf =
            IoBuf::owned(vec![7; 16]).with_keep_alive(Box::new(KeepAlive(Arc::clone(&drops))));
        let mut op = Op::with_io_buf(into_dyn(MemTarget::new(64)), buf);
        op.prepare(OpKind::Write, 0, 16).unwrap();
        assert_eq!(op.run_sync(), Ok(16));
        let (pending, queued) = op.enqueue();
        queued.start().unwrap().complete(Ok(16));
        let (op, r) = pending.wait();
        assert_eq!(r, Ok(16));
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        drop(op);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn the_keep_alive_is_dropped_once_when_the_buffer_is_replaced() {
        let drops = Arc::new(AtomicUsize::new(0));
        let mut backing = vec![0u8; 8];
        // SAFETY: `backing` outlives the op and nothing else touches it.
        let buf = unsafe { IoBuf::from_raw_parts(backing.as_mut_ptr(), backing.len()) }
            .with_keep_alive(Box::new(KeepAlive(Arc::clone(&drops))));
        let mut op = Op::with_io_buf(into_dyn(MemTarget::new(64)), buf);
        assert_eq!(
            op.set_buf(vec![1; 4]),
            None,
            "a raw buffer is not handed back"
        );
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        // Replacing again, and dropping the op, drop nothing more.
        let old = op.set_io_buf(IoBuf::none());
        assert_eq!(old.into_vec(), Some(vec![1; 4]));
        drop(op);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        drop(backing);
    }

    #[test]
    fn contiguous_buffers_are_one_segment() {
        let mut op = Op::new(into_dyn(MemTarget::new(64)), b"hello".to_vec());
        op.prepare(OpKind::Write, 0, 5).unwrap();
        let (pending, queued) = op.enqueue();
        let f = queued.start().unwrap();
        let segs = f.segments();
        assert_eq!((segs.len(), segs.total_len()), (1, 5));
        assert_eq!(segs.iter().next(), Some(&b"hello"[..]));
        f.complete(Ok(5));
        let (mut op, _) = pending.wait();
        assert_eq!(op.segments_mut().len(), 1);
        assert!(!op.io_buf().is_segmented());
        assert_eq!(op.into_buf(), Some(b"hello".to_vec()));
    }

    /// A `MemTarget` shared with the test, so the test can look inside.
    struct MemTargetRef(Arc<MemTarget>);
    impl crate::Target for MemTargetRef {
        fn read_at(&self, b: &mut [u8], o: u64) -> crate::Attempt<crate::Result<usize>> {
            self.0.read_at(b, o)
        }
        fn write_at(&self, b: &[u8], o: u64) -> crate::Attempt<crate::Result<usize>> {
            self.0.write_at(b, o)
        }
        fn read_vectored_at(
            &self,
            s: &mut super::SegmentsMut<'_>,
            o: u64,
        ) -> crate::Attempt<crate::Result<usize>> {
            self.0.read_vectored_at(s, o)
        }
        fn write_vectored_at(
            &self,
            s: &super::Segments<'_>,
            o: u64,
        ) -> crate::Attempt<crate::Result<usize>> {
            self.0.write_vectored_at(s, o)
        }
        fn flush(&self, k: crate::FlushKind) -> crate::Attempt<crate::Result<()>> {
            self.0.flush(k)
        }
    }
}

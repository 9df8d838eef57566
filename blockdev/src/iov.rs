//! Byte ranges of an op's segments as `struct iovec` lists: how every
//! device serves a segmented buffer ([`aio_core::IoBuf`]) as *one* request
//! (scatter/gather), clamped to the length it decided on, or continued from
//! where a short transfer stopped. Uses nothing else of this crate.

/// The `iovec`s covering a byte range of an op's segments.
///
/// Allocates only for a strict sub-range of a list of two or more
/// segments (a transfer clamped at the end of the device, or the rest of a
/// short stream transfer): a contiguous buffer's range is always
/// [`IovRange::One`], and a whole list is borrowed as it is.
pub(crate) enum IovRange<'a> {
    /// The whole list, as the op holds it.
    Borrowed(&'a [libc::iovec]),
    /// A range inside one segment.
    One(libc::iovec),
    /// A range over two or more segments, trimmed at either end.
    Owned(Vec<libc::iovec>),
}

impl IovRange<'_> {
    /// The `iovec`s, for `preadv`/`pwritev` and their kin.
    pub(crate) fn as_slice(&self) -> &[libc::iovec] {
        match self {
            IovRange::Borrowed(s) => s,
            IovRange::One(one) => std::slice::from_ref(one),
            IovRange::Owned(v) => v,
        }
    }

    /// How many `iovec`s, as the system calls take it (an op's list is
    /// never longer than a process can pass: `IOV_MAX` is checked by the
    /// kernel, which answers `EINVAL`).
    pub(crate) fn count(&self) -> libc::c_int {
        self.as_slice().len().min(libc::c_int::MAX as usize) as libc::c_int
    }
}

/// The `iovec`s covering bytes `start..start + len` of the list `iovs`
/// (segments of length 0 are left out). `start + len` must be at most the
/// list's total length.
pub(crate) fn range(iovs: &[libc::iovec], start: usize, len: usize) -> IovRange<'_> {
    let total: usize = iovs.iter().map(|s| s.iov_len).sum();
    debug_assert!(start + len <= total);
    if start == 0 && len == total && iovs.len() > 1 {
        return IovRange::Borrowed(iovs);
    }
    let mut skip = start;
    let mut left = len;
    let mut out: Option<Vec<libc::iovec>> = None;
    let mut first: Option<libc::iovec> = None;
    for s in iovs {
        if left == 0 {
            break;
        }
        if skip >= s.iov_len {
            skip -= s.iov_len;
            continue;
        }
        let n = (s.iov_len - skip).min(left);
        let piece = libc::iovec {
            // `skip < iov_len`: inside the segment (nothing is accessed).
            iov_base: s.iov_base.cast::<u8>().wrapping_add(skip).cast(),
            iov_len: n,
        };
        skip = 0;
        left -= n;
        match (&mut out, first) {
            (Some(v), _) => v.push(piece),
            (None, None) => first = Some(piece),
            (None, Some(f)) => out = Some(vec![f, piece]),
        }
    }
    match (out, first) {
        (Some(v), _) => IovRange::Owned(v),
        (None, Some(f)) => IovRange::One(f),
        (None, None) => IovRange::One(libc::iovec {
            iov_base: std::ptr::NonNull::<u8>::dangling().as_ptr().cast(),
            iov_len: 0,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iov(s: &mut [u8]) -> libc::iovec {
        libc::iovec {
            iov_base: s.as_mut_ptr().cast(),
            iov_len: s.len(),
        }
    }

    #[test]
    fn ranges_cross_segment_boundaries() {
        let (mut a, mut b, mut c) = ([0u8; 1], [0u8; 5], [0u8; 3]);
        let list = [iov(&mut a), iov(&mut b), iov(&mut c)];
        let lens = |r: &IovRange<'_>| r.as_slice().iter().map(|s| s.iov_len).collect::<Vec<_>>();
        assert!(matches!(range(&list, 0, 9), IovRange::Borrowed(_)));
        assert_eq!(lens(&range(&list, 0, 9)), [1, 5, 3]);
        assert_eq!(lens(&range(&list, 0, 4)), [1, 3]);
        assert_eq!(lens(&range(&list, 1, 5)), [5]);
        assert_eq!(lens(&range(&list, 3, 6)), [3, 3]);
        assert_eq!(lens(&range(&list, 7, 2)), [2]);
        assert_eq!(
            range(&list, 7, 2).as_slice()[0].iov_base,
            list[2].iov_base.cast::<u8>().wrapping_add(1).cast()
        );
        assert_eq!(lens(&range(&list, 9, 0)), [0]);
    }
}

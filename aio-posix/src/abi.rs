//! The C ABI's data: glibc's `struct aiocb` and `struct sigevent`, with the
//! fields glibc keeps private spelled out, and the per-op state that lives
//! *inside* the caller's aiocb.
//!
//! # Where an op's state lives
//!
//! Like glibc, and unlike a table keyed by address, the completion state of
//! an op is kept in the aiocb itself, so nothing stays behind per completed
//! op (a program may never call `aio_return` and may free or resubmit the
//! aiocb at once):
//!
//! ```text
//!   field            written by                         read by
//!   __error_code     submitter (EINPROGRESS), then the   aio_error, aio_suspend,
//!                    completion callback (Release, its   aio_return (Acquire)
//!                    LAST touch of the aiocb)
//!   __return_value   the completion callback, before     aio_return, after an
//!                    __error_code                         Acquire of __error_code
//!   reserved[0..4]   tag: submitter (SUBMITTED),          aio_error, aio_return,
//!                    aio_return (RETURNED)                aio_cancel, resubmission
//!   reserved[4..12]  slot index and generation of the     aio_cancel
//!                    slab slot serving the op (submitter)
//!   reserved[12..16] the instance that accepted the op     resubmission (a fork
//!                    (submitter)                          child's copy is not
//!                                                         in flight there)
//! ```
//!
//! The tag tells a never-submitted aiocb (anything but the two magic
//! values: `aio_error` and `aio_return` say `EINVAL`), one whose result was
//! already returned (`aio_error` still gives the final status, as glibc's
//! does; a second `aio_return` is `EINVAL`), and a submitted one, whose
//! `__error_code` then says whether it is in flight.
//! The completion callback never touches the tag, so the submitter,
//! `aio_return` and `aio_waitcomplete` (the application's threads) are
//! its only writers; the last two take the result first with a CAS on
//! the slot's claim word, so at most one of them writes RETURNED for an
//! op (`README.md`, "aio_waitcomplete").

use std::mem::offset_of;

/// glibc's `struct aiocb` (and `struct aiocb64`, identical on LP64), with
/// its private fields named: the layout the C ABI reads and writes.
///
/// The size and every public offset are checked against the libc crate's
/// `libc::aiocb` at compile time.
#[repr(C)]
#[derive(Debug)]
pub struct RawAiocb {
    /// The file descriptor.
    pub aio_fildes: libc::c_int,
    /// `LIO_READ`, `LIO_WRITE`, `LIO_NOP`, or (extension)
    /// [`LIO_READV`]/[`LIO_WRITEV`] (for `lio_listio`).
    pub aio_lio_opcode: libc::c_int,
    /// Request priority offset (0 ..= `AIO_PRIO_DELTA_MAX`).
    pub aio_reqprio: libc::c_int,
    /// The buffer (`aio_readv`/`aio_writev`: the `iovec` array, FreeBSD's
    /// `aio_iov`).
    pub aio_buf: *mut libc::c_void,
    /// The transfer length (`aio_readv`/`aio_writev`: the number of
    /// `iovec`s, FreeBSD's `aio_iovcnt`).
    pub aio_nbytes: libc::size_t,
    /// How to notify completion.
    pub aio_sigevent: RawSigevent,
    /// glibc: the next request of the same priority (unused here).
    pub next_prio: *mut RawAiocb,
    /// glibc: absolute priority (unused here).
    pub abs_prio: libc::c_int,
    /// glibc: scheduling policy (unused here).
    pub policy: libc::c_int,
    /// glibc's `__error_code`: `aio_error`'s answer.
    pub error_code: libc::c_int,
    /// glibc's `__return_value`: `aio_return`'s answer.
    pub return_value: libc::ssize_t,
    /// The file offset.
    pub aio_offset: libc::off_t,
    /// glibc's `__glibc_reserved`: our tag, slot and generation.
    pub reserved: [u32; 8],
}

/// glibc's `struct sigevent` with the `SIGEV_THREAD` members of its union.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RawSigevent {
    /// The value passed to the handler (`sigev_value`).
    pub sigev_value: usize,
    /// The signal (`SIGEV_SIGNAL`, `SIGEV_THREAD_ID`).
    pub sigev_signo: libc::c_int,
    /// `SIGEV_NONE`, `SIGEV_SIGNAL`, `SIGEV_THREAD` or `SIGEV_THREAD_ID`.
    pub sigev_notify: libc::c_int,
    /// The union: a thread id, or `{function, attributes}`.
    pub un: SigevUnion,
}

/// The union part of `struct sigevent`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union SigevUnion {
    /// `SIGEV_THREAD_ID`: the kernel thread id to signal.
    pub tid: libc::c_int,
    /// `SIGEV_THREAD`: the function and its thread attributes.
    pub thread: SigevThread,
    /// The union's full size.
    pub pad: [libc::c_int; 12],
}

impl std::fmt::Debug for SigevUnion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigevUnion")
    }
}

/// `sigev_notify_function` and `sigev_notify_attributes`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SigevThread {
    /// The function a `SIGEV_THREAD` notification calls.
    pub function: Option<unsafe extern "C" fn(libc::sigval)>,
    /// Its thread attributes (ignored: our notification threads are ours).
    pub attributes: *mut libc::c_void,
}

// The layout is glibc's: checked against the libc crate's definitions.
const _: () = {
    assert!(std::mem::size_of::<RawAiocb>() == std::mem::size_of::<libc::aiocb>());
    assert!(std::mem::align_of::<RawAiocb>() == std::mem::align_of::<libc::aiocb>());
    assert!(offset_of!(RawAiocb, aio_fildes) == offset_of!(libc::aiocb, aio_fildes));
    assert!(offset_of!(RawAiocb, aio_lio_opcode) == offset_of!(libc::aiocb, aio_lio_opcode));
    assert!(offset_of!(RawAiocb, aio_reqprio) == offset_of!(libc::aiocb, aio_reqprio));
    assert!(offset_of!(RawAiocb, aio_buf) == offset_of!(libc::aiocb, aio_buf));
    assert!(offset_of!(RawAiocb, aio_nbytes) == offset_of!(libc::aiocb, aio_nbytes));
    assert!(offset_of!(RawAiocb, aio_sigevent) == offset_of!(libc::aiocb, aio_sigevent));
    assert!(offset_of!(RawAiocb, aio_offset) == offset_of!(libc::aiocb, aio_offset));
    assert!(std::mem::size_of::<RawSigevent>() == std::mem::size_of::<libc::sigevent>());
    assert!(offset_of!(RawSigevent, sigev_signo) == offset_of!(libc::sigevent, sigev_signo));
    assert!(offset_of!(RawSigevent, sigev_notify) == offset_of!(libc::sigevent, sigev_notify));
    assert!(offset_of!(RawSigevent, un) == offset_of!(libc::sigevent, sigev_notify_thread_id));
};

/// Reserved word holding the tag ([`TAG_SUBMITTED`], [`TAG_RETURNED`]).
#[cfg_attr(loom, allow(dead_code))]
pub(crate) const W_TAG: usize = 0;
/// Reserved word holding the slab slot serving the op.
#[cfg_attr(loom, allow(dead_code))]
pub(crate) const W_SLOT: usize = 1;
/// Reserved word holding that slot's generation.
#[cfg_attr(loom, allow(dead_code))]
pub(crate) const W_GEN: usize = 2;
/// Reserved word holding the instance (process incarnation) that accepted
/// the op: an aiocb in flight in a parent is not in flight in its fork
/// child, which may submit it again.
#[cfg_attr(loom, allow(dead_code))]
pub(crate) const W_INSTANCE: usize = 3;

/// The request fields of an aiocb, each read once through the raw pointer
/// (never through a reference: the completer writes other fields of the
/// same struct concurrently).
#[derive(Debug, Clone, Copy)]
#[cfg_attr(loom, allow(dead_code))]
pub(crate) struct Fields {
    pub(crate) fd: libc::c_int,
    pub(crate) reqprio: libc::c_int,
    pub(crate) buf: *mut libc::c_void,
    pub(crate) nbytes: libc::size_t,
    pub(crate) offset: libc::off_t,
    pub(crate) sigevent: RawSigevent,
}

#[cfg_attr(loom, allow(dead_code))]
impl Fields {
    /// Reads the request fields of `cb`.
    ///
    /// # Safety
    /// `cb` points at a valid, aligned aiocb whose request fields no other
    /// thread writes meanwhile (the program's side of the contract).
    pub(crate) unsafe fn read(cb: *const RawAiocb) -> Fields {
        // SAFETY: as the caller promises; raw place reads, no reference.
        unsafe {
            Fields {
                fd: (&raw const (*cb).aio_fildes).read(),
                reqprio: (&raw const (*cb).aio_reqprio).read(),
                buf: (&raw const (*cb).aio_buf).read(),
                nbytes: (&raw const (*cb).aio_nbytes).read(),
                offset: (&raw const (*cb).aio_offset).read(),
                sigevent: (&raw const (*cb).aio_sigevent).read(),
            }
        }
    }
}

/// `lio_listio` opcode (extension, FreeBSD's name and value): a vectored
/// read, as by `aio_readv`. Chosen not to collide with glibc's `LIO_READ`
/// (0), `LIO_WRITE` (1), `LIO_NOP` (2) nor the values glibc uses inside
/// its own implementation (`LIO_DSYNC` 3, `LIO_SYNC` 4, `LIO_READ64` 128,
/// `LIO_WRITE64` 129).
pub const LIO_READV: libc::c_int = 6;
/// `lio_listio` opcode (extension, FreeBSD's name and value): a vectored
/// write, as by `aio_writev`. See [`LIO_READV`].
pub const LIO_WRITEV: libc::c_int = 5;

const _: () = {
    let taken = [
        libc::LIO_READ,
        libc::LIO_WRITE,
        libc::LIO_NOP,
        3,
        4,
        128,
        129,
    ];
    let mut i = 0;
    while i < taken.len() {
        assert!(taken[i] != LIO_READV && taken[i] != LIO_WRITEV);
        i += 1;
    }
};

/// Tag of a submitted aiocb whose result has not been returned.
pub const TAG_SUBMITTED: u32 = 0x4149_4f53; // "AIOS"
/// Tag of an aiocb whose result `aio_return` has handed out.
pub const TAG_RETURNED: u32 = 0x4149_4f52; // "AIOR"

/// Atomic access to the fields of a caller's aiocb.
///
/// The aiocb is the application's memory, shared between the application's
/// threads and our completion callback; its fields are plain `int`s and
/// `ssize_t`s in C, so the only way to access them atomically is through a
/// pointer. This is the one place that does it.
pub mod field {
    #![allow(clippy::disallowed_types)]
    // SAFETY (for the whole module, why loom need not see these atomics):
    // loom cannot model memory it did not allocate, and these fields live
    // in the C caller's aiocb. The protocols built on them are modelled in
    // `src/tests` with shim atomics standing in for the fields (the same
    // orderings, the same order of operations); these helpers only apply
    // the ordering they are given.
    use std::sync::atomic::{AtomicI32, AtomicIsize, AtomicU32, Ordering};

    use super::RawAiocb;

    /// Loads `__error_code`.
    ///
    /// # Safety
    /// `cb` points at a live aiocb, 4-aligned (as any `struct aiocb` is).
    #[inline]
    pub unsafe fn error(cb: *const RawAiocb, o: Ordering) -> i32 {
        // SAFETY: the caller promises a live, aligned aiocb; every
        // concurrent access to the field goes through these atomics.
        unsafe { AtomicI32::from_ptr(&raw const (*cb).error_code as *mut i32).load(o) }
    }

    /// Stores `__error_code`.
    ///
    /// # Safety
    /// As for [`error`].
    #[inline]
    pub unsafe fn set_error(cb: *mut RawAiocb, v: i32, o: Ordering) {
        // SAFETY: as in `error`.
        unsafe { AtomicI32::from_ptr(&raw mut (*cb).error_code).store(v, o) }
    }

    /// Loads `__return_value`.
    ///
    /// # Safety
    /// As for [`error`].
    #[inline]
    pub unsafe fn ret(cb: *const RawAiocb) -> isize {
        // SAFETY: as in `error`; read after an Acquire of `__error_code`.
        unsafe {
            AtomicIsize::from_ptr(&raw const (*cb).return_value as *mut isize)
                .load(Ordering::Relaxed)
        }
    }

    /// Stores `__return_value`.
    ///
    /// # Safety
    /// As for [`error`].
    #[inline]
    pub unsafe fn set_ret(cb: *mut RawAiocb, v: isize) {
        // SAFETY: as in `error`; published by the Release store of
        // `__error_code` that follows.
        unsafe { AtomicIsize::from_ptr(&raw mut (*cb).return_value).store(v, Ordering::Relaxed) }
    }

    /// Loads reserved word `i` (0: tag, 1: slot, 2: generation).
    ///
    /// # Safety
    /// As for [`error`]; `i < 8`.
    #[inline]
    pub unsafe fn word(cb: *const RawAiocb, i: usize, o: Ordering) -> u32 {
        // SAFETY: as in `error`; `reserved` is 4-aligned `u32`s.
        unsafe { AtomicU32::from_ptr(&raw const (*cb).reserved[i] as *mut u32).load(o) }
    }

    /// Stores reserved word `i`.
    ///
    /// # Safety
    /// As for [`word`].
    #[inline]
    pub unsafe fn set_word(cb: *mut RawAiocb, i: usize, v: u32, o: Ordering) {
        // SAFETY: as in `word`.
        unsafe { AtomicU32::from_ptr(&raw mut (*cb).reserved[i]).store(v, o) }
    }
}

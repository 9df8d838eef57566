//! Reaping: `aio_waitcomplete` (FreeBSD's) and the completion descriptor,
//! on the slab's completed list (`README.md`, "aio_waitcomplete" and "The
//! completion descriptor").

use aio_core::sync::atomic::Ordering;
use aio_core::{Error, Result};

use crate::abi::{RawAiocb, TAG_RETURNED, W_GEN, W_INSTANCE, W_SLOT, W_TAG, field};
use crate::slab::Taken;

use super::Instance;

/// Set by the process's first `aio_waitcomplete` or completion descriptor,
/// also one made before the instance exists (nothing submitted yet) or in
/// a fork's parent: every instance built afterwards reaps from the start
/// (its slab keeps untaken results), so "from the first call on" holds
/// whatever the order of the calls. An instance being built as the flag
/// is set (it read the flag before) is switched by whichever of the two
/// looks second: [`process_reaps`] after its store, or the builder after
/// publishing the instance ([`published`]); see
/// [`set_reaping`](crate::slab::set_reaping).
static REAPS: aio_core::sync::atomic::AtomicBool = aio_core::sync::atomic::AtomicBool::new(false);

/// Marks the process as reaping (see [`REAPS`]); the live instance, if
/// any, switches now.
pub(crate) fn process_reaps() {
    crate::slab::set_reaping(&REAPS, || super::try_global().map(|aio| &aio.core.slab));
}

/// An instance was just published (see [`REAPS`]): it reaps if the process
/// does by now.
pub(crate) fn published(aio: &Instance) {
    crate::slab::published(&REAPS, &aio.core.slab);
}

/// Whether a new instance must start reaping.
pub(crate) fn reaps() -> bool {
    REAPS.load(Ordering::Acquire)
}

/// What one look at the completed list found (`aio_waitcomplete`'s step).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reaped {
    /// An op's result, now taken: its aiocb, and what `read`/`write`/
    /// `fsync` would have returned (bytes) or the op's error.
    Op(*mut RawAiocb, std::result::Result<usize, Error>),
    /// Nothing completed yet, but an op is outstanding: sleep and look again.
    Wait,
}

impl Instance {
    /// Takes the oldest completed op whose result nobody took, as
    /// `aio_return` would (its aiocb is marked returned when it still
    /// names that op); [`Reaped::Wait`] if none is but an op of this
    /// instance may still complete; `EAGAIN` if none may (nothing is
    /// submitted and not yet reaped or returned).
    pub(crate) fn reap_one(&self) -> Result<Reaped> {
        let mark = |aiocb: usize, idx: u32, generation: u32| {
            let cb = aiocb as *mut RawAiocb;
            if cb.is_null() {
                return;
            }
            // SAFETY: a program that reaps keeps an aiocb valid until it is
            // reaped or returned (README, "aio_waitcomplete"); the op's
            // last store to it (K3) happened before K3b, whose DONE the
            // claim read (Acquire). The tag is set only if the aiocb still
            // names this op (it may have been resubmitted meanwhile,
            // against the rule).
            unsafe {
                if field::word(cb, W_SLOT, Ordering::Relaxed) == idx
                    && field::word(cb, W_GEN, Ordering::Relaxed) == generation
                    && field::word(cb, W_INSTANCE, Ordering::Relaxed) == self.instance
                {
                    field::set_word(cb, W_TAG, TAG_RETURNED, Ordering::Release);
                }
            }
        };
        if !reaps() {
            REAPS.store(true, Ordering::Release);
        }
        match self.core.slab.take(mark) {
            Taken::Op { aiocb, res, .. } => {
                let cb = aiocb as *mut RawAiocb;
                let r = if res >= 0 {
                    Ok(res as usize)
                } else {
                    Err(Error::from_errno((-res) as i32))
                };
                Ok(Reaped::Op(cb, r))
            }
            Taken::Nothing { outstanding: true } => Ok(Reaped::Wait),
            Taken::Nothing { outstanding: false } => Err(Error::EAGAIN),
        }
    }

    /// The completion descriptor (made on the first call): an eventfd,
    /// non-blocking and close-on-exec, readable whenever a completed op's
    /// result is untaken. The library owns it (the program must not close
    /// it); a fork child's copy is closed in the child (`atfork_child`).
    #[cfg(not(loom))]
    pub(crate) fn completion_fd(&self) -> Result<i32> {
        let cfd = &self.core.slab.cfd;
        if let Some(fd) = cfd.fd() {
            return Ok(fd);
        }
        // From now on results nobody took keep their slots: the program
        // will reap them with aio_waitcomplete.
        process_reaps();
        // SAFETY: plain syscall.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(Error::last_os_error());
        }
        let used = cfd.install(fd);
        if used != fd {
            // Another thread made one first.
            // SAFETY: ours, never shared.
            unsafe { libc::close(fd) };
        } else {
            // Completions already untaken (or racing the install):
            // readable at once. One that settles later sees the descriptor.
            self.core.slab.arm_if_busy();
        }
        Ok(used)
    }
}

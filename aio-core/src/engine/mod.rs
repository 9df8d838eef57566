//! Engines: a servicing thread's completion sources and its one sleep.
//!
//! A servicing thread (an aio-pool worker) keeps many ops in flight. What
//! completes them is one or more *completion sources*, each an [`Engine`]:
//! the thread's io_uring (`blockdev::UringEngine`), a [`BasicEngine`] that
//! only counts ops completed on device threads, or a device's own
//! completion queue. The thread owns them together in one set, [`Engines`],
//! and hands the set to every [`Strategy::submit`](crate::Strategy::submit)
//! and [`Strategy::cancel`](crate::Strategy::cancel).
//!
//! # Finding a source
//!
//! A device finds its source by type: [`Engines::get`] if it only uses a
//! source the thread was given (a `FileDevice` uses the thread's io_uring
//! when there is one, and its blocking pool when there is not), or
//! [`Engines::get_or_insert_with`] to add its own on first use. The type
//! check is written once, in [`Engines`] (every [`Engine`] is [`Any`]):
//! devices never downcast.
//!
//! # One sleep
//!
//! The first source of a set, its *home* (the one it was made with:
//! [`Engines::new`]), is the only one the set sleeps in. The set's
//! [`Engines::wait`] is the home's [`Engine::wait`], its
//! [`Engines::waker`] the home's [`Engine::waker`], and its
//! [`Engines::ticket`] the home's [`Engine::ticket`]; its
//! [`Engines::poll`] and [`Engines::in_flight`] sum over every source. With
//! one source, then, the set is that source, exactly (one vector element
//! more to read).
//!
//! The thread sleeps in [`Engines::wait`] only while
//! [`Engines::in_flight`] is not zero, and the sleep must end when any op
//! becomes ready to complete. There are three ways an op can:
//!
//! 1. **The home's own completions** (a CQE in the io_uring): its `wait`
//!    returns for them, as it always did.
//! 2. **A device thread completes a ticketed op.** The ticket came from
//!    the home's [`Doorbell`], whose signal ends the home's wait (through
//!    its condvar, and its waker for a home that sleeps where a condvar
//!    cannot reach: io_uring's eventfd). See [`EngineTicket`].
//! 3. **An added source has a completion for its `poll`.** When a device
//!    adds a source, [`Engines::get_or_insert_with`] hands it the home's
//!    waker, and the source must call it after making the completion
//!    visible to its [`Engine::poll`]. The home's waker is sticky (a wake
//!    before the home sleeps ends its next sleep), so a completion that
//!    comes between the thread's last poll and its sleep is not missed.
//!
//! The set never calls an added source's `wait`, `waker` or `ticket`. An
//! added source must therefore not need a sleep of its own: one that can
//! only learn of its completions in a syscall (an io_uring; a second
//! io_uring) must be the home. (Serving two kernel queues from one sleep
//! would need each to signal an eventfd, `IORING_REGISTER_EVENTFD` for a
//! ring, and the set to sleep in `poll(2)` on them; not built.)
//!
//! The loom model `loom_added_source_wakes_the_home_sleep`
//! (`src/tests/loom_engines.rs`) checks (2) and (3) against a worker asleep
//! in the home; the mutant `engines-no-waker` hands the added source a
//! waker that does nothing, and the model deadlocks.
//!
//! # Adding a device with its own completion queue
//!
//! One file: the device's. It defines its source type (an [`Engine`] whose
//! `poll` delivers what its queue holds and that calls the waker it was
//! made with), and its `submit` does
//! `engines.get_or_insert_with::<MySource>(|waker| MySource::new(waker))`
//! and hands the op to it. Nothing in aio-pool or aio-posix changes.
//! (`tests/tests/engines.rs` is that device, next to a `FileDevice` on
//! io_uring, on one worker.)

mod doorbell;
mod set;
mod source;

#[cfg(doc)]
use std::any::Any;

pub use doorbell::{Doorbell, DoorbellWaker, EngineTicket, EngineWaker};
pub use set::Engines;
pub use source::{BasicEngine, Engine};

//! The completion source trait, and the source of a thread with no kernel
//! queue; see the [`engine`](crate::engine) module docs.

use std::any::Any;
use std::time::{Duration, Instant};

use super::doorbell::{Doorbell, DoorbellWaker, EngineTicket, EngineWaker};
use crate::error::Result;
use crate::sync::Arc;

/// A completion source: what a servicing thread polls and sleeps in to keep
/// many ops in flight (an io_uring; a [`BasicEngine`]). A thread holds its
/// sources in one [`Engines`](super::Engines) set, which is what devices
/// see; a device finds its own source there by type
/// ([`Engines::get`](super::Engines::get)), never by downcasting.
///
/// A source the set did not start with (one a device added with
/// [`Engines::get_or_insert_with`](super::Engines::get_or_insert_with)) is
/// never slept in: it is given the set's waker and must call it, after
/// making the completion visible to its [`Engine::poll`], whenever one
/// becomes ready that only that `poll` would deliver (the module docs, "One
/// sleep").
pub trait Engine: Any + Send {
    /// Pushes batched submissions to the kernel (if any) and completes up
    /// to `budget` finished ops without blocking; returns how many.
    fn poll(&mut self, budget: usize) -> Result<usize>;

    /// Ops submitted through this engine and not yet completed.
    fn in_flight(&self) -> usize;

    /// Sleeps until a completion is ready, [`EngineWaker::wake`] is called,
    /// or `timeout` passes. May return early (spuriously).
    fn wait(&mut self, timeout: Option<Duration>) -> Result<()>;

    /// A handle any thread can use to wake [`Engine::wait`]. (Boxed, not
    /// an `Arc<dyn _>`: loom's `Arc` cannot be unsized.)
    fn waker(&self) -> Box<dyn EngineWaker>;

    /// Counts one op that will be completed by a device-owned thread; see
    /// [`EngineTicket`].
    fn ticket(&mut self) -> EngineTicket;
}

/// The engine of a thread that has no kernel queue (no io_uring): it only counts ops
/// completed by device threads and sleeps on a [`Doorbell`]. Devices that
/// complete inside `submit` (RAM disk, synchronous targets) need nothing
/// more.
#[derive(Debug)]
pub struct BasicEngine {
    bell: Arc<Doorbell>,
}

impl Default for BasicEngine {
    fn default() -> Self {
        Self::new()
    }
}

impl BasicEngine {
    /// A new engine.
    pub fn new() -> BasicEngine {
        BasicEngine {
            bell: Doorbell::new(),
        }
    }

    /// The engine's doorbell.
    pub fn doorbell(&self) -> &Arc<Doorbell> {
        &self.bell
    }
}

impl Engine for BasicEngine {
    fn poll(&mut self, _budget: usize) -> Result<usize> {
        Ok(0)
    }

    fn in_flight(&self) -> usize {
        self.bell.outstanding()
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Result<()> {
        self.bell.sleep(timeout.map(|t| Instant::now() + t));
        Ok(())
    }

    fn waker(&self) -> Box<dyn EngineWaker> {
        Box::new(DoorbellWaker(Arc::clone(&self.bell)))
    }

    fn ticket(&mut self) -> EngineTicket {
        Doorbell::ticket(&self.bell)
    }
}

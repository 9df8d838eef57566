//! [`Engines`], a servicing thread's completion sources; the protocol is in
//! the [`engine`](crate::engine) module docs, "One sleep".

use std::any::Any;
use std::fmt;
use std::time::Duration;

use super::doorbell::{EngineTicket, EngineWaker};
use super::source::{BasicEngine, Engine};
use crate::error::Result;

/// A servicing thread's completion sources: its home source, which it
/// sleeps in, then those that devices added. What
/// [`Strategy::submit`](crate::Strategy::submit) receives.
pub struct Engines {
    /// `sources[0]` is the home; the others follow in the order devices
    /// added them. Never empty.
    sources: Vec<Box<dyn Engine>>,
    /// The source [`Engines::poll`] starts with, so that a source that
    /// fills the budget every time does not starve the ones after it.
    turn: usize,
}

impl fmt::Debug for Engines {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engines")
            .field("sources", &self.sources.len())
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

impl Default for Engines {
    fn default() -> Self {
        Self::basic()
    }
}

impl<E: Engine> From<E> for Engines {
    /// A set whose home is `home`.
    fn from(home: E) -> Engines {
        Engines::new(Box::new(home))
    }
}

/// The waker of the mutant `engines-no-waker`: wakes nothing.
struct NoWake;

impl EngineWaker for NoWake {
    fn wake(&self) {}
}

impl Engines {
    /// A set whose home (the source it sleeps in) is `home`.
    pub fn new(home: Box<dyn Engine>) -> Engines {
        Engines {
            sources: vec![home],
            turn: 0,
        }
    }

    /// A set whose home is a new [`BasicEngine`].
    pub fn basic() -> Engines {
        Engines::new(Box::new(BasicEngine::new()))
    }

    /// How many sources the set holds (at least one: the home).
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// Always false: a set holds at least its home. (For clippy's
    /// `len_without_is_empty`.)
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The source of type `T`, if the set holds one (the home included).
    pub fn get<T: Engine>(&mut self) -> Option<&mut T> {
        self.sources
            .iter_mut()
            .find_map(|s| (&mut **s as &mut dyn Any).downcast_mut::<T>())
    }

    /// The source of type `T`; if the set holds none, adds the one `make`
    /// returns. `make` is given the set's waker, which the new source must
    /// call whenever it has a completion ready for its [`Engine::poll`]
    /// (the module docs, "One sleep"; the set never sleeps in it).
    pub fn get_or_insert_with<T: Engine>(
        &mut self,
        make: impl FnOnce(Box<dyn EngineWaker>) -> T,
    ) -> &mut T {
        let i = match self
            .sources
            .iter()
            .position(|s| (&**s as &dyn Any).is::<T>())
        {
            Some(i) => i,
            None => {
                let waker: Box<dyn EngineWaker> =
                    if crate::sync::mutant(crate::sync::Mutant::EnginesNoWaker) {
                        Box::new(NoWake)
                    } else {
                        self.waker()
                    };
                self.sources.push(Box::new(make(waker)));
                self.sources.len() - 1
            }
        };
        (&mut *self.sources[i] as &mut dyn Any)
            .downcast_mut::<T>()
            .expect("the source at `i` is a T")
    }

    /// Polls every source that has ops in flight, up to `budget`
    /// completions in all; returns how many. With one source, that
    /// source's [`Engine::poll`]. With several, an error from one does not
    /// keep the others from being polled; it is returned if nothing
    /// completed.
    pub fn poll(&mut self, budget: usize) -> Result<usize> {
        if let [home] = &mut self.sources[..] {
            return home.poll(budget);
        }
        let len = self.sources.len();
        let start = self.turn % len;
        self.turn = start + 1;
        let mut done = 0;
        let mut err = None;
        for k in 0..len {
            if done >= budget {
                break;
            }
            let s = &mut self.sources[(start + k) % len];
            if s.in_flight() == 0 {
                continue;
            }
            match s.poll(budget - done) {
                Ok(n) => done += n,
                Err(e) => err = err.or(Some(e)),
            }
        }
        match err {
            Some(e) if done == 0 => Err(e),
            _ => Ok(done),
        }
    }

    /// Ops in flight in all sources (tickets included: they count in the
    /// home).
    pub fn in_flight(&self) -> usize {
        self.sources.iter().map(|s| s.in_flight()).sum()
    }

    /// Sleeps in the home's [`Engine::wait`]: until a completion is ready
    /// in any source, the waker is called, or `timeout` passes. May return
    /// early.
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<()> {
        self.sources[0].wait(timeout)
    }

    /// A handle any thread can use to wake [`Engines::wait`]: the home's
    /// waker.
    pub fn waker(&self) -> Box<dyn EngineWaker> {
        self.sources[0].waker()
    }

    /// Counts one op that a device-owned thread will complete, in the
    /// home's doorbell (whose signal ends the home's wait); see
    /// [`EngineTicket`].
    pub fn ticket(&mut self) -> EngineTicket {
        self.sources[0].ticket()
    }
}

//! [`DelayDevice`]: adds latency to any device.
//!
//! Each op is forwarded to the inner device at once ([`crate::wrap`], "Forwarding");
//! when the inner device completes it, the result is held on a [`Timer`]
//! thread for a latency drawn from a seeded distribution, and the timer
//! thread completes the op. The submitter never sleeps: it draws a number,
//! forwards the op, and returns.

use std::fmt;
use std::time::Duration;

use aio_core::sync::atomic::{AtomicBool, Ordering};
use aio_core::sync::{Arc, Mutex};
use aio_core::{Attempt, Engines, Error, FlushKind, InFlight, Result, Strategy, Target};

use super::forward::{SharedDevice, forward};
use super::hold::{Held, fire, hold_on_timer};
use super::timer::Timer;
use crate::device::{Device, Geometry, XorShift};

/// A latency distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Latency {
    /// Always the same.
    Fixed(Duration),
    /// Uniform in `[min, max]`.
    Uniform {
        /// Shortest latency.
        min: Duration,
        /// Longest latency.
        max: Duration,
    },
    /// Exponential with the given mean (memoryless, like queueing delay).
    Exponential {
        /// Mean latency.
        mean: Duration,
    },
}

impl Latency {
    /// Draws one latency.
    pub fn sample(&self, rng: &mut XorShift) -> Duration {
        match *self {
            Latency::Fixed(d) => d,
            Latency::Uniform { min, max } => {
                let (lo, hi) = if min <= max { (min, max) } else { (max, min) };
                // f < 1, so the product is below `hi - lo` and the sum
                // below `hi`: no overflow.
                lo + (hi - lo).mul_f64(rng.next_f64())
            }
            Latency::Exponential { mean } => {
                // Inverse transform; 1 - u is in (0, 1], so ln is finite.
                let x = -(1.0 - rng.next_f64()).ln();
                Duration::try_from_secs_f64(mean.as_secs_f64() * x.min(50.0))
                    .unwrap_or(Duration::MAX)
            }
        }
    }
}

/// A device that adds latency to another; see the module docs.
pub struct DelayDevice<D> {
    inner: Arc<D>,
    inner_dyn: Arc<dyn Target>,
    latency: Latency,
    /// (lock: this mutex, taken alone)
    rng: Mutex<XorShift>,
    timer: Timer<Held>,
    name: String,
    closed: AtomicBool,
}

impl<D: Device> fmt::Debug for DelayDevice<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DelayDevice")
            .field("name", &self.name)
            .field("latency", &self.latency)
            .finish()
    }
}

impl<D: Device + 'static> DelayDevice<D> {
    /// Wraps `inner`, drawing latencies from `latency` with `seed`. Fails
    /// (`EAGAIN`) if the timer thread cannot be started.
    pub fn new(inner: D, latency: Latency, seed: u64) -> Result<DelayDevice<D>> {
        let inner = Arc::new(inner);
        let timer = Timer::spawn("blockdev-delay", fire).map_err(|_| Error::EAGAIN)?;
        Ok(DelayDevice {
            name: format!("delay({})", inner.name()),
            inner_dyn: SharedDevice::target(&inner),
            inner,
            latency,
            rng: Mutex::ranked(crate::lock_order::DELAY_RNG, XorShift::new(seed)),
            timer,
            closed: AtomicBool::new(false),
        })
    }

    /// The wrapped device.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    fn draw(&self) -> Duration {
        self.latency.sample(&mut self.rng.lock())
    }
}

impl<D: Device + 'static> Target for DelayDevice<D> {
    /// Synchronous mode: sleeps for the latency on the caller's thread (the
    /// caller asked to wait), then reads.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Attempt<Result<usize>> {
        aio_core::sync::thread::sleep(self.draw());
        self.inner.read_at(buf, offset)
    }
    /// As [`DelayDevice::read_at`], for writes.
    fn write_at(&self, buf: &[u8], offset: u64) -> Attempt<Result<usize>> {
        aio_core::sync::thread::sleep(self.draw());
        self.inner.write_at(buf, offset)
    }
    fn flush(&self, kind: FlushKind) -> Attempt<Result<()>> {
        aio_core::sync::thread::sleep(self.draw());
        self.inner.flush(kind)
    }
    fn strategy(&self) -> Option<&dyn Strategy> {
        Some(self)
    }
}

impl<D: Device + 'static> Strategy for DelayDevice<D> {
    /// An op whose inner result is waiting out its latency is taken off the
    /// timer and completed with `ECANCELED` here (its I/O was done, but its
    /// owner never learns the result, as with any cancelled op). An op still
    /// at the inner device cannot be cancelled (`InFlight`).
    fn cancel(&self, key: aio_core::OpKey, _engine: &mut Engines) -> aio_core::CancelOutcome {
        super::hold::cancel_held(&self.timer, key)
    }

    /// Forwards the op to the inner device through `engine`; the timer
    /// thread completes it once the inner result is in and the latency has
    /// passed (measured from the inner completion).
    fn submit(&self, op: InFlight, engine: &mut Engines) {
        if self.closed.load(Ordering::Acquire) {
            return op.complete(Err(Error::ECANCELED));
        }
        let delay = self.draw();
        let timer = self.timer.handle();
        let len = op.len();
        forward(
            &self.inner_dyn,
            op,
            engine,
            len,
            hold_on_timer(timer, delay),
        );
    }
}

impl<D: Device + 'static> Device for DelayDevice<D> {
    fn name(&self) -> &str {
        &self.name
    }
    fn geometry(&self) -> Geometry {
        self.inner.geometry()
    }
    /// New ops fail with `ECANCELED`; ops waiting out their latency complete
    /// at once with their inner result; the inner device is shut down.
    fn shutdown(&self) {
        self.closed.store(true, Ordering::Release);
        self.timer.close();
        self.inner.shutdown();
    }
}

//! [`FaultDevice`]: injects seeded faults into any device.
//!
//! For each op the policy draws the same number of random values from a
//! seeded generator (so a run is reproducible given the order of
//! submissions) and decides at most one fault:
//!
//! | fault | ops | what happens |
//! |---|---|---|
//! | [`Fault::Eio`] | transfers | completed with `EIO`; the inner device is not touched |
//! | [`Fault::Enospc`] | writes | completed with `ENOSPC`; nothing written |
//! | [`Fault::Short`] | transfers of 2+ bytes | forwarded with a shorter length; the op's result is the inner (short) count |
//! | [`Fault::FlushFail`] | fsync, fdatasync | completed with `EIO`; nothing flushed |
//! | [`Fault::Reorder`] | any | forwarded; the inner result is held on a timer for `reorder_delay`, so later ops overtake it |
//!
//! Every injected fault is recorded with the op's id ([`FaultDevice::injected`])
//! and reaches the op as its result. Ops without a fault go straight to the
//! inner device.

use std::fmt;
use std::time::Duration;

use aio_core::sync::{Arc, Mutex};
use aio_core::{Attempt, Engines, Error, FlushKind, InFlight, OpKind, Result, Strategy, Target};

use super::forward::{SharedDevice, forward};
use super::hold::{Held, fire, hold_on_timer};
use super::timer::Timer;
use crate::device::{Device, Geometry, XorShift};

/// Which faults to inject, each with a probability in `[0, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPolicy {
    /// Seed of the generator.
    pub seed: u64,
    /// Probability that a transfer fails with `EIO`.
    pub eio: f64,
    /// Probability that a write fails with `ENOSPC`.
    pub enospc: f64,
    /// Probability that a transfer is cut short.
    pub short: f64,
    /// Probability that a flush fails with `EIO`.
    pub flush_fail: f64,
    /// Probability that an op's completion is held back.
    pub reorder: f64,
    /// How long a reordered completion is held.
    pub reorder_delay: Duration,
}

impl FaultPolicy {
    /// No faults (every probability 0), seeded with `seed`.
    pub fn none(seed: u64) -> FaultPolicy {
        FaultPolicy {
            seed,
            eio: 0.0,
            enospc: 0.0,
            short: 0.0,
            flush_fail: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::from_millis(5),
        }
    }
}

/// An injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The transfer failed with `EIO`.
    Eio,
    /// The write failed with `ENOSPC`.
    Enospc,
    /// The transfer was cut to `len` bytes.
    Short {
        /// The length the inner device was asked for.
        len: usize,
    },
    /// The flush failed with `EIO`.
    FlushFail,
    /// The completion was held back.
    Reorder,
}

/// A device that injects faults into another; see the module docs.
pub struct FaultDevice<D> {
    inner: Arc<D>,
    inner_dyn: Arc<dyn Target>,
    policy: FaultPolicy,
    /// (lock: this mutex, taken alone)
    rng: Mutex<XorShift>,
    /// (lock: this mutex, taken alone)
    log: Mutex<Vec<(u64, Fault)>>,
    timer: Timer<Held>,
    name: String,
}

impl<D: Device> fmt::Debug for FaultDevice<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultDevice")
            .field("name", &self.name)
            .field("policy", &self.policy)
            .finish()
    }
}

impl<D: Device + 'static> FaultDevice<D> {
    /// Wraps `inner`. Fails (`EAGAIN`) if the timer thread cannot be
    /// started, `EINVAL` if a probability is outside `[0, 1]`.
    pub fn new(inner: D, policy: FaultPolicy) -> Result<FaultDevice<D>> {
        let ps = [
            policy.eio,
            policy.enospc,
            policy.short,
            policy.flush_fail,
            policy.reorder,
        ];
        if ps.iter().any(|p| !(0.0..=1.0).contains(p)) {
            return Err(Error::EINVAL);
        }
        let inner = Arc::new(inner);
        let timer = Timer::spawn("blockdev-fault", fire).map_err(|_| Error::EAGAIN)?;
        Ok(FaultDevice {
            name: format!("fault({})", inner.name()),
            inner_dyn: SharedDevice::target(&inner),
            inner,
            rng: Mutex::ranked(crate::lock_order::FAULT_RNG, XorShift::new(policy.seed)),
            policy,
            log: Mutex::ranked(crate::lock_order::FAULT_LOG, Vec::new()),
            timer,
        })
    }

    /// The wrapped device.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// Every fault injected so far, with the id of its op (0 for
    /// synchronous calls), in the order they were decided.
    pub fn injected(&self) -> Vec<(u64, Fault)> {
        self.log.lock().clone()
    }

    /// Draws the fault for one op (always four draws, so decisions depend
    /// only on the seed and the order of ops).
    fn decide(&self, kind: OpKind, len: usize) -> Option<Fault> {
        let p = &self.policy;
        let [a, b, c, d] = {
            let mut r = self.rng.lock();
            [r.next_f64(), r.next_f64(), r.next_f64(), r.next_f64()]
        };
        if !kind.is_transfer() {
            return if a < p.flush_fail {
                Some(Fault::FlushFail)
            } else if d < p.reorder {
                Some(Fault::Reorder)
            } else {
                None
            };
        }
        if a < p.eio {
            return Some(Fault::Eio);
        }
        if kind == OpKind::Write && b < p.enospc {
            return Some(Fault::Enospc);
        }
        if len >= 2 && c < p.short {
            let bs = self.inner.geometry().block_size.max(1) as usize;
            let half = len / 2;
            let short = if len >= 2 * bs {
                (half / bs * bs).max(bs)
            } else {
                half
            };
            return Some(Fault::Short { len: short });
        }
        if d < p.reorder {
            return Some(Fault::Reorder);
        }
        None
    }

    fn record(&self, id: u64, f: Fault) {
        self.log.lock().push((id, f));
    }
}

impl<D: Device + 'static> Target for FaultDevice<D> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Attempt<Result<usize>> {
        match self.decide(OpKind::Read, buf.len()) {
            Some(Fault::Eio) => {
                self.record(0, Fault::Eio);
                Attempt::Ready(Err(Error::EIO))
            }
            Some(Fault::Short { len }) => {
                self.record(0, Fault::Short { len });
                self.inner.read_at(&mut buf[..len], offset)
            }
            _ => self.inner.read_at(buf, offset),
        }
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> Attempt<Result<usize>> {
        match self.decide(OpKind::Write, buf.len()) {
            Some(f @ (Fault::Eio | Fault::Enospc)) => {
                self.record(0, f);
                Attempt::Ready(Err(if f == Fault::Eio {
                    Error::EIO
                } else {
                    Error::ENOSPC
                }))
            }
            Some(Fault::Short { len }) => {
                self.record(0, Fault::Short { len });
                self.inner.write_at(&buf[..len], offset)
            }
            _ => self.inner.write_at(buf, offset),
        }
    }

    fn flush(&self, kind: FlushKind) -> Attempt<Result<()>> {
        let k = if kind == FlushKind::Full {
            OpKind::Fsync
        } else {
            OpKind::Fdatasync
        };
        match self.decide(k, 0) {
            Some(Fault::FlushFail) => {
                self.record(0, Fault::FlushFail);
                Attempt::Ready(Err(Error::EIO))
            }
            _ => self.inner.flush(kind),
        }
    }

    fn strategy(&self) -> Option<&dyn Strategy> {
        Some(self)
    }
}

impl<D: Device + 'static> Strategy for FaultDevice<D> {
    /// An op whose completion is being held back ([`Fault::Reorder`]) is
    /// taken off the timer and completed with `ECANCELED`; others answer
    /// `InFlight`. A reordered or short op still at the inner device is
    /// there as a shadow op, a record of its own that this key does not
    /// name; an op without a fault went to the inner device as it is, and
    /// the cancel is not passed on to it.
    fn cancel(&self, key: aio_core::OpKey, _engine: &mut Engines) -> aio_core::CancelOutcome {
        super::hold::cancel_held(&self.timer, key)
    }

    fn submit(&self, op: InFlight, engine: &mut Engines) {
        let Some(fault) = self.decide(op.kind(), op.len()) else {
            return Strategy::submit(&*self.inner, op, engine);
        };
        self.record(op.id(), fault);
        match fault {
            Fault::Eio | Fault::FlushFail => op.complete(Err(Error::EIO)),
            Fault::Enospc => op.complete(Err(Error::ENOSPC)),
            Fault::Short { len } => {
                forward(
                    &self.inner_dyn,
                    op,
                    engine,
                    len,
                    Box::new(|op, t, r| t.complete(op, r)),
                );
            }
            Fault::Reorder => {
                let timer = self.timer.handle();
                let hold = self.policy.reorder_delay;
                let len = op.len();
                forward(&self.inner_dyn, op, engine, len, hold_on_timer(timer, hold));
            }
        }
    }
}

impl<D: Device + 'static> Device for FaultDevice<D> {
    fn name(&self) -> &str {
        &self.name
    }
    fn geometry(&self) -> Geometry {
        self.inner.geometry()
    }
    /// Held completions are released at once; the inner device is shut
    /// down.
    fn shutdown(&self) {
        self.timer.close();
        self.inner.shutdown();
    }
}

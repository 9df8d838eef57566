//! What every job shares, whatever its mode: the stop rule ([`Shared`]),
//! the measurements ([`JobResult`]), the op generator ([`Gen`]) and the
//! write pattern.

use std::time::Instant;

use aio_core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use aio_core::{Error, OpKind};
use blockdev::{AlignedBuf, XorShift};
use hdrhistogram::Histogram;

use crate::args::{Args, Stop};

/// Shared by the jobs and the progress display.
pub(super) struct Shared {
    /// Ops claimed so far (for `--ops`).
    claimed: AtomicU64,
    /// Ops completed so far (for progress).
    pub(super) done: AtomicU64,
    /// Set when the run must stop issuing.
    stop: AtomicBool,
    /// `--ops`: how many ops in all.
    limit: Option<u64>,
    /// `--runtime`: when issuing stops.
    deadline: Option<Instant>,
}

impl Shared {
    /// Nothing claimed or done yet; a `--runtime` deadline counts from
    /// `t0`, the instant the run's elapsed time is measured from, so a run
    /// never reports less elapsed time than it was asked to run.
    pub(super) fn new(stop: Stop, t0: Instant) -> Shared {
        Shared {
            claimed: AtomicU64::new(0),
            done: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            limit: match stop {
                Stop::Ops(n) => Some(n),
                Stop::Runtime(_) => None,
            },
            deadline: match stop {
                Stop::Runtime(d) => Some(t0 + d),
                Stop::Ops(_) => None,
            },
        }
    }

    /// Claims the right to issue one more op.
    pub(super) fn claim(&self) -> bool {
        if self.stop.load(Ordering::Relaxed) {
            return false;
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d)
            || self
                .limit
                .is_some_and(|l| self.claimed.fetch_add(1, Ordering::Relaxed) >= l)
        {
            self.stop.store(true, Ordering::Relaxed);
            return false;
        }
        true
    }
}

/// One job's measurements.
pub(super) struct JobResult {
    /// Ops completed.
    pub(super) ops: u64,
    /// Ops that failed.
    pub(super) errors: u64,
    /// The first error seen.
    pub(super) first_error: Option<Error>,
    /// Bytes moved by successful ops.
    pub(super) bytes: u64,
    /// Completion latencies in nanoseconds.
    pub(super) hist: Histogram<u64>,
}

impl JobResult {
    /// Nothing measured yet.
    pub(super) fn new() -> JobResult {
        JobResult {
            ops: 0,
            errors: 0,
            first_error: None,
            bytes: 0,
            hist: Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid bounds"),
        }
    }

    /// Counts one completed op that was issued at `start`.
    pub(super) fn record(&mut self, r: Result<usize, Error>, start: Instant, sh: &Shared) {
        let ns = start.elapsed().as_nanos().clamp(1, 3_600_000_000_000) as u64;
        self.hist.record(ns).expect("within bounds");
        self.ops += 1;
        sh.done.fetch_add(1, Ordering::Relaxed);
        match r {
            Ok(n) => self.bytes += n as u64,
            Err(e) => {
                self.errors += 1;
                self.first_error.get_or_insert(e);
            }
        }
    }

    /// Adds another job's measurements to these (the first error seen
    /// stays first).
    pub(super) fn merge(&mut self, r: JobResult) {
        self.ops += r.ops;
        self.errors += r.errors;
        self.bytes += r.bytes;
        if self.first_error.is_none() {
            self.first_error = r.first_error;
        }
        self.hist.add(&r.hist).expect("same bounds");
    }
}

/// The next op of a job: kind and offset.
pub(super) struct Gen {
    /// Offsets and mix, seeded by `--seed` and the job number.
    rng: XorShift,
    /// Random offsets, else sequential.
    random: bool,
    /// Percentage of reads.
    read_pct: u32,
    /// Bytes per op.
    bs: u64,
    /// Blocks of `bs` on the device.
    blocks: u64,
    /// The next sequential block.
    next_seq: u64,
}

impl Gen {
    /// Job `job`'s generator over `blocks` blocks of `--bs`.
    pub(super) fn new(args: &Args, job: usize, blocks: u64) -> Gen {
        Gen {
            rng: XorShift::new(args.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (job as u64 + 1)),
            random: args.pattern.random,
            read_pct: args.pattern.read_pct,
            bs: args.bs as u64,
            blocks,
            next_seq: (job as u64 * blocks / args.jobs.max(1) as u64) % blocks,
        }
    }

    /// The next op: its kind and byte offset.
    pub(super) fn next(&mut self) -> (OpKind, u64) {
        let kind = match self.read_pct {
            100 => OpKind::Read,
            0 => OpKind::Write,
            p => {
                if (self.rng.next_u64() % 100) < u64::from(p) {
                    OpKind::Read
                } else {
                    OpKind::Write
                }
            }
        };
        let block = if self.random {
            self.rng.next_u64() % self.blocks
        } else {
            let b = self.next_seq;
            self.next_seq = (self.next_seq + 1) % self.blocks;
            b
        };
        (kind, block * self.bs)
    }
}

/// A buffer for one op slot, aligned for O_DIRECT and filled with a
/// pattern for writes.
pub(super) fn slot_buf(bs: usize, align: usize, seed: u64) -> Result<AlignedBuf, String> {
    let mut b = AlignedBuf::new(bs, align.max(512)).map_err(|e| format!("buffer: {e}"))?;
    pattern_fill(b.as_mut_slice(), seed);
    Ok(b)
}

/// Fills `buf` with the xorshift pattern of `seed`: what writes carry.
pub(super) fn pattern_fill(buf: &mut [u8], seed: u64) {
    let mut x = seed | 1;
    for chunk in buf.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
}

//! `--mode direct`: the baseline, the device without the op protocol.

use std::time::Instant;

use aio_core::sync::Arc;
use aio_core::{Attempt, OpKind, Target};

use super::job::{Gen, JobResult, Shared, slot_buf};
use crate::args::Args;

/// The baseline: the device's `Target` methods called directly.
pub(super) fn job_direct(
    a: &Args,
    target: &Arc<dyn Target>,
    mut workload: Gen,
    sh: &Shared,
    align: usize,
) -> Result<JobResult, String> {
    let mut buf = slot_buf(a.bs, align, a.seed)?;
    let mut res = JobResult::new();
    while sh.claim() {
        let (kind, off) = workload.next();
        let start = Instant::now();
        let r = loop {
            let att = match kind {
                OpKind::Write => target.write_at(buf.as_slice(), off),
                _ => target.read_at(buf.as_mut_slice(), off),
            };
            match att {
                Attempt::Ready(r) => break r,
                Attempt::Busy => aio_core::sync::thread::yield_now(),
            }
        };
        res.record(r, start, sh);
    }
    Ok(res)
}

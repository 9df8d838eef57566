//! `--mode sync`: one op at a time through the pools, no callback; the
//! submitter services it.

use std::time::Instant;

use aio_core::sync::Arc;
use aio_core::{Op, Target};
use aio_pool::{PoolSet, SubmitFlags, Submitted};

use super::job::{Gen, JobResult, Shared, slot_buf};
use crate::args::Args;

/// Synchronous mode through the pools: no callback, the caller services it.
pub(super) fn job_sync(
    a: &Args,
    target: &Arc<dyn Target>,
    pools: &PoolSet,
    mut workload: Gen,
    sh: &Shared,
    align: usize,
) -> Result<JobResult, String> {
    let mut buf = slot_buf(a.bs, align, a.seed)?;
    // SAFETY: `buf` outlives `op` (declared before it, dropped after) and
    // is only touched through the op.
    let mut op = unsafe { Op::from_raw_parts(Arc::clone(target), buf.as_mut_ptr(), a.bs) };
    let mut res = JobResult::new();
    while sh.claim() {
        let (kind, off) = workload.next();
        op.prepare(kind, off, a.bs)
            .map_err(|e| format!("prepare: {e}"))?;
        let start = Instant::now();
        match pools.submit(op, SubmitFlags::NONE) {
            Ok(Submitted::Done(back, r)) => {
                res.record(r, start, sh);
                op = back;
            }
            Ok(Submitted::Pending(_)) => return Err("a synchronous op was queued".into()),
            Err(e) => return Err(format!("submit: {}", e.error)),
        }
    }
    drop(op);
    drop(buf);
    Ok(res)
}

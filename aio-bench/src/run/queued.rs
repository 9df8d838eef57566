//! `--mode callback` and `--mode ring`: `iodepth` ops in flight per job
//! through the pools, each completion announced by a callback onto the
//! job's done list or by an entry in a completion ring.

use std::time::Instant;

use aio_core::sync::{Arc, Condvar, Mutex};
use aio_core::{Completion, CompletionRing, Error, Op, Pending, Reaper, Target};
use aio_pool::{PoolSet, SubmitFlags, Submitted};
use blockdev::AlignedBuf;

use super::job::{Gen, JobResult, Shared, slot_buf};
use crate::args::{Args, Mode};

/// Where a callback-mode completion is announced: the job's done list.
struct DoneList {
    /// Slots whose op has completed, not yet collected.
    list: Mutex<Vec<u32>>,
    /// Signalled on each push.
    cv: Condvar,
}

/// What a slot's op carries as private data (callback mode).
struct SlotCtx {
    /// The job's done list.
    done: *const DoneList,
    /// The slot's index.
    idx: u32,
}

/// The callback: announce the slot on its job's done list.
fn on_complete(c: &Completion<'_>) {
    // SAFETY: `private` is the address of a `SlotCtx` that the job keeps
    // alive, with its `DoneList`, until every op it issued is delivered.
    let ctx = unsafe { &*(c.private() as *const SlotCtx) };
    // SAFETY: as above.
    let done = unsafe { &*ctx.done };
    done.list.lock().push(ctx.idx);
    done.cv.notify_one();
}

/// One of a job's `iodepth` op slots.
struct Slot {
    /// The op's memory; kept alive with the op.
    _buf: AlignedBuf,
    /// The op while the slot is idle.
    op: Option<Op>,
    /// The op while it is in flight.
    pending: Option<Pending>,
    /// When the in-flight op was submitted.
    start: Instant,
}

/// Callback or ring mode: `iodepth` ops in flight per job.
pub(super) fn job_async(
    a: &Args,
    target: &Arc<dyn Target>,
    pools: &PoolSet,
    mut workload: Gen,
    sh: &Shared,
    align: usize,
) -> Result<JobResult, String> {
    let depth = a.iodepth;
    let done = Box::new(DoneList {
        list: Mutex::new(Vec::with_capacity(depth)),
        cv: Condvar::new(),
    });
    let ctxs: Vec<SlotCtx> = (0..depth)
        .map(|i| SlotCtx {
            done: &*done as *const DoneList,
            idx: i as u32,
        })
        .collect();
    let (ring, mut reaper): (Option<Arc<CompletionRing>>, Option<Reaper>) = if a.mode == Mode::Ring
    {
        let cap = depth.next_power_of_two().max(2);
        let (r, rp) = CompletionRing::new(cap).map_err(|e| format!("ring: {e}"))?;
        (Some(r), Some(rp))
    } else {
        (None, None)
    };
    let mut slots = Vec::with_capacity(depth);
    for (i, ctx) in ctxs.iter().enumerate() {
        let mut buf = slot_buf(a.bs, align, a.seed ^ i as u64)?;
        // SAFETY: the slot owns `buf` and the op; `job_async` waits for
        // every op to be delivered before the slots are dropped.
        let mut op = unsafe { Op::from_raw_parts(Arc::clone(target), buf.as_mut_ptr(), a.bs) };
        match &ring {
            Some(r) => op.set_ring(Arc::clone(r)),
            None => op.set_callback(on_complete),
        }
        op.set_private(match &ring {
            Some(_) => i,
            None => ctx as *const SlotCtx as usize,
        });
        slots.push(Slot {
            _buf: buf,
            op: Some(op),
            pending: None,
            start: Instant::now(),
        });
    }

    let mut res = JobResult::new();
    let mut outstanding = 0usize;
    let mut idle: Vec<usize> = (0..depth).rev().collect();
    let mut fatal = None;
    let mut ready: Vec<u32> = Vec::with_capacity(depth);
    loop {
        // Fill every idle slot.
        while let Some(&i) = idle.last() {
            if fatal.is_some() || !sh.claim() {
                break;
            }
            let s = &mut slots[i];
            let mut op = s.op.take().expect("idle slot has its op");
            let (kind, off) = workload.next();
            if let Err(e) = op.prepare(kind, off, a.bs) {
                fatal = Some(format!("prepare: {e}"));
                s.op = Some(op);
                break;
            }
            s.start = Instant::now();
            match pools.submit(op, SubmitFlags::NONE) {
                Ok(Submitted::Pending(p)) => {
                    s.pending = Some(p);
                    idle.pop();
                    outstanding += 1;
                }
                Ok(Submitted::Done(..)) => {
                    fatal = Some("an asynchronous op ran synchronously".into());
                    break;
                }
                Err(e) if e.error == Error::EAGAIN && outstanding > 0 => {
                    // Queues full: reap something first.
                    s.op = Some(e.op);
                    break;
                }
                Err(e) => {
                    s.op = Some(e.op);
                    fatal = Some(format!("submit: {}", e.error));
                    break;
                }
            }
        }
        if outstanding == 0 {
            break;
        }
        // Collect completions.
        ready.clear();
        match reaper.as_mut() {
            Some(rp) => {
                rp.reap_wait(depth, None, |e| ready.push(e.user_data as u32));
            }
            None => {
                let mut l = done.list.lock();
                while l.is_empty() {
                    l = done.cv.wait(l);
                }
                ready.extend(l.drain(..));
            }
        }
        for &i in &ready {
            let s = &mut slots[i as usize];
            let p = s.pending.take().expect("completed slot has a pending op");
            // The notification runs just before delivery: this wait is
            // at most that short window.
            let (op, r) = p.wait();
            res.record(r, s.start, sh);
            s.op = Some(op);
            idle.push(i as usize);
            outstanding -= 1;
        }
    }
    drop(slots);
    drop(ctxs);
    drop(done);
    match fatal {
        Some(e) => Err(e),
        None => Ok(res),
    }
}

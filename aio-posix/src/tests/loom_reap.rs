//! Reaping (`README.md`, "aio_waitcomplete" and "The completion
//! descriptor"): the slab's completed list against aio_return's claim, and
//! the completion descriptor against a completer.

use aio_core::Op;
use aio_core::sync::Arc;
use aio_core::sync::atomic::{AtomicUsize, Ordering};
use aio_core::sync::thread;

use super::{aiocb, submit};
use crate::abi::field;
use crate::complete::Completer;
use crate::slab::{ReturnClaim, Taken, claim};

/// These models run whole completions (ring, op delivery, claim, reap
/// walk) on two threads: more scheduling points than loom's default path
/// length allows.
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(2);
    }
    b.max_branches = 20_000;
    b.check(f);
}

fn never(_: Op) -> Result<aio_core::Pending, (Op, aio_core::Error)> {
    unreachable!("no stream queue in these models")
}

/// An op completes on one thread, which then reaps (`aio_waitcomplete`'s
/// step), while the program's other thread, seeing the aiocb done, calls
/// `aio_return`: exactly one of them may get the result, whether the
/// return comes between K3 and K3b (it takes the OPEN claim) or after.
/// Mutant `reap-take-unclaimed` takes the result with a load and a store
/// instead of a CAS: both report it.
#[test]
fn loom_waitcomplete_vs_return() {
    model(|| {
        let core = Arc::new(Completer::new(1, 1, never));
        let cb = aiocb();
        let (idx, queued) = submit(&core, cb);
        let reaped = Arc::new(AtomicUsize::new(0));
        let (core2, reaped2) = (Arc::clone(&core), Arc::clone(&reaped));
        let t = thread::spawn(move || {
            queued.start().expect("not cancelled").complete(Ok(0));
            if let Taken::Op { .. } = core2.slab.take(|_, _, _| {}) {
                reaped2.fetch_add(1, Ordering::Relaxed);
            }
        });
        // SAFETY: our aiocb, alive until the thread is joined.
        while unsafe { field::error(cb, Ordering::Acquire) } == libc::EINPROGRESS {
            thread::yield_now();
        }
        let returned = core.slab.claim_for_return(idx, 0) == ReturnClaim::Mine;
        t.join().unwrap();
        let n = reaped.load(Ordering::Relaxed) + returned as usize;
        assert!(n <= 1, "a completion was reported twice");
        // Not reaped and not returned: the reaper looked before K3b and
        // the return lost to nobody; a second look must find it.
        if n == 0 {
            assert!(
                matches!(core.slab.take(|_, _, _| {}), Taken::Op { .. }),
                "a completion was never reported"
            );
        }
        // SAFETY: from Box::into_raw; the thread is done with it.
        drop(unsafe { Box::from_raw(cb) });
    });
}

/// With the completion descriptor on, op A is complete and the
/// descriptor armed; the program drains (takes until nothing is left)
/// while op B completes on another thread. Afterwards, if a completion is
/// untaken, the descriptor must be readable (else an event loop sleeps
/// forever beside it). Mutant `cfd-recheck-before-clear` looks at the ring
/// before clearing: B, published in between, finds the descriptor still
/// armed, does not write, and is stranded.
#[test]
fn loom_completion_fd_vs_completer() {
    model(|| {
        let core = Arc::new(Completer::new(2, 1, never));
        core.slab.cfd.install_model();
        let (ca, cb) = (aiocb(), aiocb());
        let (_ia, qa) = submit(&core, ca);
        qa.start().expect("live").complete(Ok(0));
        let (ib, qb) = submit(&core, cb);
        let t = thread::spawn(move || {
            qb.start().expect("live").complete(Ok(0));
        });
        while let Taken::Op { .. } = core.slab.take(|_, _, _| {}) {}
        t.join().unwrap();
        let untaken =
            core.slab.slots[ib as usize].claim.load(Ordering::Acquire) as u32 == claim::DONE;
        assert!(
            !untaken || core.slab.cfd.readable(),
            "an untaken completion behind an unreadable descriptor"
        );
        // SAFETY: from Box::into_raw; the ops are complete.
        unsafe {
            drop(Box::from_raw(ca));
            drop(Box::from_raw(cb));
        }
    });
}

/// The process's first `aio_waitcomplete` sets the reaping flag while
/// another thread builds the instance (reads the flag, then publishes):
/// whichever looks second must switch the instance to reaping, or its
/// slab would recycle untaken results forever. Mutant `reaps-no-recheck`
/// drops the builder's look after publication: the reaper may look for
/// the instance before it is published, after the builder read the flag.
#[test]
fn loom_reaps_flag_vs_instance_build() {
    use aio_core::sync::atomic::AtomicBool;
    model(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let live = Arc::new(AtomicBool::new(false));
        let slab = Arc::new(crate::slab::Slab::new(1));
        let builder = {
            let (flag, live, slab) = (Arc::clone(&flag), Arc::clone(&live), Arc::clone(&slab));
            thread::spawn(move || {
                // Instance::new.
                if flag.load(Ordering::Acquire) {
                    slab.start_reaping();
                }
                // global_slow: publish, then look again.
                live.store(true, Ordering::Release);
                crate::slab::published(&flag, &slab);
            })
        };
        crate::slab::set_reaping(&flag, || live.load(Ordering::Acquire).then_some(&*slab));
        builder.join().unwrap();
        assert!(
            slab.is_reaping(),
            "an instance built as the process began to reap never reaps"
        );
    });
}

//! Random sequences of submit, start, cancel, complete, drop, wait and
//! synchronous runs on a few ops, checked step by step against a reference
//! model of the life cycle in aio-core/src/op/README.md. A stale `Queued`
//! token from an earlier submission is kept around to prove it can never
//! start or cancel a later one; a callback counts deliveries to prove
//! exactly-once. The waiting action registers a waiter (a wait that times
//! out on an undelivered op, as `Pending::wait_timeout` does), so
//! deliveries go through the waiter path (`WAITERS` and the `delivered`
//! stamp) too, followed by synchronous runs and resubmissions.

#![no_main]

use std::cell::Cell;
use std::time::Duration;

use aio_core::{CancelOutcome, Completion, Error, InFlight, MemTarget, Op, OpKind, OpState, Pending, Queued, into_dyn};
use libfuzzer_sys::fuzz_target;

thread_local! {
    static DELIVERED: Cell<[u32; N]> = const { Cell::new([0; N]) };
}
const N: usize = 3;

fn count(c: &Completion<'_>) {
    DELIVERED.with(|d| {
        let mut a = d.get();
        a[c.private()] += 1;
        d.set(a);
    });
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Model {
    Idle,
    Queued,
    InFlight,
    Done(i64),
}

struct Slot {
    op: Option<Op>,
    pending: Option<Pending>,
    queued: Option<Queued>,
    stale: Option<Queued>,
    inflight: Option<InFlight>,
    model: Model,
    submissions: u32,
}

fn res(r: Result<usize, Error>) -> i64 {
    Error::to_res(r)
}

fuzz_target!(|data: &[u8]| {
    DELIVERED.with(|d| d.set([0; N]));
    let target = into_dyn(MemTarget::new(4096));
    let mut slots: Vec<Slot> = (0..N)
        .map(|i| {
            let mut op = Op::new(target.clone(), vec![0u8; 64]);
            op.prepare(OpKind::Read, 0, 64).unwrap();
            op.set_callback(count);
            op.set_private(i);
            Slot { op: Some(op), pending: None, queued: None, stale: None, inflight: None, model: Model::Idle, submissions: 0 }
        })
        .collect();
    for pair in data.chunks(2) {
        let (action, arg) = (pair[0] % 10, pair.get(1).copied().unwrap_or(0));
        let s = &mut slots[(pair[0] / 10) as usize % N];
        match action {
            // Submit: only an idle or finished op exists as an `Op`.
            0 => {
                if let Some(op) = s.op.take() {
                    assert!(matches!(s.model, Model::Idle | Model::Done(_)));
                    let (p, q) = op.enqueue();
                    assert_eq!(p.state(), OpState::Queued);
                    assert_eq!(p.key(), q.key(), "one submission, one key");
                    if let Some(old) = s.queued.as_ref().or(s.stale.as_ref()) {
                        assert_ne!(old.key(), q.key(), "a resubmission kept its key");
                    }
                    s.stale = s.queued.take().or(s.stale.take());
                    s.pending = Some(p);
                    s.queued = Some(q);
                    s.model = Model::Queued;
                    s.submissions += 1;
                }
            }
            // Start.
            1 => {
                if let Some(q) = s.queued.take() {
                    let f = q.start();
                    assert_eq!(f.is_some(), s.model == Model::Queued, "start vs model {:?}", s.model);
                    if let Some(f) = f {
                        s.inflight = Some(f);
                        s.model = Model::InFlight;
                    }
                }
            }
            // Complete with a result chosen by the input.
            2 => {
                if let Some(f) = s.inflight.take() {
                    let r = match arg % 4 {
                        0 => Ok(arg as usize),
                        1 => Err(Error::EIO),
                        2 => Err(Error::ECANCELED),
                        _ => Ok(0),
                    };
                    f.complete(r);
                    s.model = Model::Done(res(r));
                }
            }
            // Drop the in-flight token: EIO.
            3 => {
                if let Some(f) = s.inflight.take() {
                    drop(f);
                    s.model = Model::Done(res(Err(Error::EIO)));
                }
            }
            // The owner cancels.
            4 => {
                if let Some(p) = &s.pending {
                    let want = match s.model {
                        Model::Queued => CancelOutcome::Cancelled,
                        Model::InFlight => CancelOutcome::InFlight,
                        _ => CancelOutcome::AlreadyDone,
                    };
                    assert_eq!(p.cancel(), want);
                    if want == CancelOutcome::Cancelled {
                        s.model = Model::Done(res(Err(Error::ECANCELED)));
                    }
                }
            }
            // The servicer cancels through its token.
            5 => {
                if let Some(q) = s.queued.take() {
                    let want = if s.model == Model::Queued { CancelOutcome::Cancelled } else { CancelOutcome::AlreadyDone };
                    let got = q.cancel();
                    if s.model == Model::InFlight {
                        assert_eq!(got, CancelOutcome::InFlight);
                    } else {
                        assert_eq!(got, want);
                    }
                    if got == CancelOutcome::Cancelled {
                        s.model = Model::Done(res(Err(Error::ECANCELED)));
                    }
                }
            }
            // A stale token from an earlier submission tries its luck.
            6 => {
                if let Some(st) = s.stale.take() {
                    assert!(!st.is_live());
                    if arg % 2 == 0 {
                        assert!(st.start().is_none(), "a stale token started a later submission");
                    } else {
                        let got = st.cancel();
                        assert_eq!(got, CancelOutcome::AlreadyDone, "a stale token cancelled a later submission");
                    }
                }
            }
            // Wait (non-blocking): take the op back iff delivered.
            7 => {
                if let Some(p) = s.pending.take() {
                    match (p.try_wait(), s.model) {
                        (Ok((op, r)), Model::Done(want)) => {
                            assert_eq!(res(r), want);
                            assert_eq!(op.result(), Some(r));
                            let st = if want == -i64::from(libc_ecanceled()) { OpState::Cancelled } else { OpState::Done };
                            assert_eq!(op.state(), st);
                            s.op = Some(op);
                        }
                        (Err(p), m) => {
                            assert!(!matches!(m, Model::Done(_)), "delivered op not complete");
                            s.pending = Some(p);
                        }
                        (Ok(_), m) => panic!("op complete while the model says {m:?}"),
                    }
                }
            }
            // Wait with a (zero) timeout: registers a waiter if the op is not
            // delivered yet, and must agree with the model either way.
            8 => {
                if let Some(p) = &s.pending {
                    let delivered = p.wait_timeout(Duration::ZERO);
                    assert_eq!(
                        delivered,
                        matches!(s.model, Model::Done(_)),
                        "wait_timeout vs model {:?}",
                        s.model
                    );
                }
            }
            // Synchronous mode on an idle op (its callback is not run).
            _ => {
                if let Some(op) = s.op.as_mut() {
                    let r = op.run_sync();
                    assert_eq!(r, Ok(64));
                }
            }
        }
    }
    // Finish everything: every submission is delivered exactly once.
    for s in slots.iter_mut() {
        if let Some(q) = s.queued.take() {
            if let Some(f) = q.start() {
                f.complete(Ok(1));
            }
        }
        drop(s.inflight.take());
        if let Some(p) = s.pending.take() {
            assert!(p.is_complete(), "an op was left undelivered");
            drop(p.wait());
        }
    }
    let delivered = DELIVERED.with(|d| d.get());
    for (i, s) in slots.iter().enumerate() {
        assert_eq!(delivered[i], s.submissions, "op {i}: delivered other than once per submission");
    }
});

fn libc_ecanceled() -> i32 {
    Error::ECANCELED.errno()
}

//! A stream lane (narration: `src/ready/README.md`, "Lanes"): an op
//! submitted while the lane's thread finishes the one before and decides
//! to exit. The thread and the transfers are real loom threads and a
//! fake transfer that always completes; the lane lingers not at all (loom
//! has no clock), so every op finds the thread either serving or gone.

use super::{Keep, model, nop};
use crate::ready::lane::{Lane, LaneOs};
use crate::ready::{Try, Waiter};
use aio_core::sync::thread::{self, JoinHandle};
use aio_core::sync::{Arc, Mutex};
use aio_core::{Op, OpKind, Pending};

loom::lazy_static! {
    /// The lane threads the model's `spawn` started, for it to join.
    static ref SPAWNED: Mutex<Vec<JoinHandle<()>>> = Mutex::new(Vec::new());
}

fn spawn(job: Box<dyn FnOnce() + Send>) -> bool {
    let h = thread::spawn(job);
    SPAWNED.lock().push(h);
    true
}

static OS: LaneOs = LaneOs {
    dup: |_| None,
    close: |_| {},
    spawn,
};

/// The blocking write of a one-byte op: always done.
fn fake_write(w: &mut Waiter, _fd: i32) -> Try {
    w.done = w.len;
    Try::Done(Ok(w.len))
}

fn waiter() -> (Pending, Waiter) {
    let mut op = Op::new(nop(), vec![7u8; 1]);
    op.prepare(OpKind::Write, 0, 1).unwrap();
    let (pending, queued) = op.enqueue();
    let w = Waiter {
        op: queued.start().unwrap(),
        keep: None,
        len: 1,
        done: 0,
        nonblock: false,
        attempt: fake_write,
        plain: false,
        once: false,
        fd: 3,
        key: 0x40,
    };
    (pending, w)
}

/// Two writes are submitted to an idle lane from two threads: one starts
/// the thread, the other joins it or, if the thread has already exited,
/// starts another. Once every thread is joined, both writes must have
/// completed.
///
/// Fails with "an op queued on the lane was never run" if the thread can
/// decide to exit (its queue empty) and say so in two steps (mutant
/// `lane-exit-split`): an op queued in between sees the lane served and
/// starts no thread.
#[test]
fn loom_lane_submit_vs_exit() {
    model(|| {
        let lane = Arc::new(Lane::new(&OS, None));
        let (p1, w1) = waiter();
        let (p2, w2) = waiter();
        let l2 = Arc::clone(&lane);
        let other = thread::spawn(move || {
            let w2 = match l2.offer(w2) {
                Ok(()) => return,
                Err(w) => w,
            };
            assert!(Lane::submit(&l2, w2).is_ok(), "a thread can be started");
        });
        assert!(Lane::submit(&lane, w1).is_ok(), "a thread can be started");
        other.join().unwrap();
        loop {
            let h = SPAWNED.lock().pop();
            match h {
                Some(h) => h.join().unwrap(),
                None => break,
            }
        }
        let lane = Keep::new(lane);
        assert!(p1.is_complete(), "an op queued on the lane was never run");
        assert!(p2.is_complete(), "an op queued on the lane was never run");
        assert_eq!(p1.wait().1, Ok(1));
        assert_eq!(p2.wait().1, Ok(1));
        lane.done();
    });
}

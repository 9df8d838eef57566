//! The engine set's one sleep (the `engine` module docs, "One sleep"): a
//! worker asleep in its home source must wake for a completion in a source
//! a device added, as for a ticketed one in the home.

use std::collections::VecDeque;

use super::{model, nop};
use crate::sync::{Arc, Mutex, thread};
use crate::{Engine, EngineTicket, EngineWaker, Engines, InFlight, Op, Result};

/// A device's own completion queue: its thread pushes finished ops and
/// calls the waker it was made with; `poll` completes them on the worker.
struct QueueSource {
    done: Arc<Mutex<VecDeque<(InFlight, Result<usize>)>>>,
    waker: Arc<Box<dyn EngineWaker>>,
    /// Ops handed to the device and not yet completed by `poll`.
    pending: usize,
}

impl Engine for QueueSource {
    fn poll(&mut self, budget: usize) -> Result<usize> {
        let mut n = 0;
        while n < budget {
            let Some((op, r)) = self.done.lock().pop_front() else {
                break;
            };
            op.complete(r);
            self.pending -= 1;
            n += 1;
        }
        Ok(n)
    }
    fn in_flight(&self) -> usize {
        self.pending
    }
    fn wait(&mut self, _: Option<std::time::Duration>) -> Result<()> {
        unreachable!("the set never sleeps in an added source")
    }
    fn waker(&self) -> Box<dyn EngineWaker> {
        unreachable!("the set never asks an added source for its waker")
    }
    fn ticket(&mut self) -> EngineTicket {
        unreachable!("the set issues tickets from its home")
    }
}

fn started() -> (crate::Pending, InFlight) {
    let (pending, queued) = Op::new(nop(), vec![0u8; 1]).enqueue();
    (pending, queued.start().unwrap())
}

/// Op 1 is ticketed in the home (a `BasicEngine`) and completed by one
/// device thread; op 2 goes to a source the device adds, and another
/// device thread queues its completion there and calls the waker. The
/// worker polls and sleeps in the set until nothing is in flight.
///
/// Fails with a deadlock if the added source's waker does not reach the
/// home's sleep (mutant `engines-no-waker`), or with an assertion if an op
/// is seen complete before it is.
#[test]
fn loom_added_source_wakes_the_home_sleep() {
    model(|| {
        let mut engines = Engines::basic();
        let (p1, f1) = started();
        let ticket = engines.ticket();
        let t1 = thread::spawn(move || ticket.complete(f1, Ok(1)));

        let (p2, f2) = started();
        let done = Arc::new(Mutex::new(VecDeque::new()));
        let waker = {
            let src = engines.get_or_insert_with(|w| QueueSource {
                done: Arc::clone(&done),
                waker: Arc::new(w),
                pending: 0,
            });
            src.pending += 1;
            Arc::clone(&src.waker)
        };
        assert_eq!(engines.len(), 2);
        let t2 = thread::spawn(move || {
            done.lock().push_back((f2, Ok(1)));
            waker.wake();
        });

        while engines.in_flight() > 0 {
            if engines.poll(8).unwrap() == 0 && engines.in_flight() > 0 {
                engines.wait(None).unwrap();
            }
        }
        assert!(p1.is_complete() && p2.is_complete());
        t1.join().unwrap();
        t2.join().unwrap();
    });
}

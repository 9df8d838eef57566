#![doc = include_str!("queue.md")]
//!
//! # Field legend
//!
//! ```text
//!   m   under WorkQueue::state
//!
//!   items      m   jobs not yet taken
//!   sleeping   m   consumers blocked on `cv`
//!   closed     m   no more pushes; consumers drain and exit
//! ```

use std::collections::VecDeque;

use aio_core::sync::{Condvar, Mutex};

struct QState<T> {
    items: VecDeque<T>,
    sleeping: usize,
    closed: bool,
}

/// A FIFO of jobs with blocking consumers that sleep when it is empty.
pub(crate) struct WorkQueue<T> {
    state: Mutex<QState<T>>,
    cv: Condvar,
}

/// What [`WorkQueue::push`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// A sleeping consumer was woken to take it.
    WokeSleeper,
    /// Every consumer is busy (or there is none): the job waits for the
    /// next consumer to come back for more.
    Queued,
}

impl<T> WorkQueue<T> {
    pub(crate) fn new() -> Self {
        WorkQueue {
            state: Mutex::ranked(
                crate::lock_order::WORK_QUEUE,
                QState {
                    items: VecDeque::new(),
                    sleeping: 0,
                    closed: false,
                },
            ),
            cv: Condvar::new(),
        }
    }

    /// Appends a job; gives it back if the queue is closed.
    pub(crate) fn push(&self, item: T) -> Result<Pushed, T> {
        let mut g = self.state.lock();
        if g.closed {
            return Err(item);
        }
        g.items.push_back(item);
        // A consumer counted in `sleeping` checked `items` under this lock
        // before it slept, so it cannot have seen this job: it must be
        // woken. One that is not counted will look at `items` (under the
        // lock) before it sleeps, so it will see the job.
        if g.sleeping > 0 {
            if !aio_core::sync::mutant(aio_core::sync::Mutant::QueuePushNoNotify) {
                self.cv.notify_one();
            }
            Ok(Pushed::WokeSleeper)
        } else {
            Ok(Pushed::Queued)
        }
    }

    /// Takes up to `max` jobs into `out`, sleeping while the queue is empty
    /// and open. Returns `false` once the queue is closed and drained (the
    /// consumer should exit); jobs pushed before `close` are still handed
    /// out.
    pub(crate) fn pop_batch(&self, out: &mut Vec<T>, max: usize) -> bool {
        let mut g = self.state.lock();
        loop {
            if !g.items.is_empty() {
                let n = g.items.len().min(max.max(1));
                out.extend(g.items.drain(..n));
                return true;
            }
            if g.closed {
                return false;
            }
            g.sleeping += 1;
            g = self.cv.wait(g);
            g.sleeping -= 1;
        }
    }

    /// Takes one job if there is one, without sleeping.
    pub(crate) fn try_pop(&self) -> Option<T> {
        self.state.lock().items.pop_front()
    }

    /// Closes the queue: later pushes fail, and every consumer wakes and
    /// exits once the jobs already queued are taken.
    pub(crate) fn close(&self) {
        let mut g = self.state.lock();
        g.closed = true;
        if !aio_core::sync::mutant(aio_core::sync::Mutant::QueueCloseNoNotify) {
            self.cv.notify_all();
        }
    }
}

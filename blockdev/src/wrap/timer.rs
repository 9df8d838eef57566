//! [`Timer`]: one thread that fires items at their deadlines (the delay
//! device's latency, the fault device's reordering). Submitters only lock,
//! push and maybe notify: they never sleep. The protocol: [`crate::wrap`]'s
//! module docs, "The timer".
//!
//! # Field legend
//!
//! ```text
//!   m   under TimerShared::state
//!
//!   heap     m   pending items, earliest deadline on top
//!   seq      m   insertion counter (FIFO among equal deadlines)
//!   closed   m   no more items; the thread fires what is left at once and exits
//! ```
//!
//! Items are fired after unlocking.

use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::time::Instant;

use aio_core::sync::thread::{self, JoinHandle};
use aio_core::sync::{Arc, Condvar, Mutex};

struct Entry<T> {
    when: Instant,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, o: &Self) -> bool {
        self.when == o.when && self.seq == o.seq
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, o: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(o))
    }
}
impl<T> Ord for Entry<T> {
    // Reversed: BinaryHeap is a max-heap and we want the earliest on top.
    fn cmp(&self, o: &Self) -> CmpOrdering {
        (o.when, o.seq).cmp(&(self.when, self.seq))
    }
}

struct TState<T> {
    heap: BinaryHeap<Entry<T>>,
    seq: u64,
    closed: bool,
}

struct TimerShared<T> {
    state: Mutex<TState<T>>,
    cv: Condvar,
}

/// A timer thread firing items of type `T`.
pub(crate) struct Timer<T: Send + 'static> {
    shared: Arc<TimerShared<T>>,
    handle: Mutex<Option<JoinHandle<()>>>,
}

/// A handle for scheduling on a [`Timer`] from anywhere (a completion
/// callback, another thread).
pub(crate) struct TimerHandle<T>(Arc<TimerShared<T>>);

impl<T> Clone for TimerHandle<T> {
    fn clone(&self) -> Self {
        TimerHandle(Arc::clone(&self.0))
    }
}

impl<T: Send + 'static> Timer<T> {
    /// Starts the thread; `fire` runs on it for each item, with no lock
    /// held.
    pub(crate) fn spawn(
        name: &str,
        fire: impl Fn(T) + Send + 'static,
    ) -> std::io::Result<Timer<T>> {
        let shared = TimerShared::new();
        let sh = Arc::clone(&shared);
        let handle = thread::spawn_named(name.into(), move || {
            run(&sh, |t| {
                fire(t);
                true
            })
        })?;
        Ok(Timer {
            shared,
            handle: Mutex::ranked(crate::lock_order::TIMER_HANDLE, Some(handle)),
        })
    }

    /// A scheduling handle.
    pub(crate) fn handle(&self) -> TimerHandle<T> {
        TimerHandle(Arc::clone(&self.shared))
    }

    /// Closes the timer: items still pending fire at once (on the timer
    /// thread), later ones are refused. Joins the thread unless called on
    /// it. Idempotent.
    pub(crate) fn close(&self) {
        {
            let mut g = self.shared.state.lock();
            g.closed = true;
            self.shared.cv.notify_all();
        }
        let h = self.handle.lock().take();
        crate::device::join_unless_self(h);
    }
}

impl<T: Send + 'static> Drop for Timer<T> {
    fn drop(&mut self) {
        self.close();
    }
}

impl<T> TimerShared<T> {
    fn new() -> Arc<TimerShared<T>> {
        Arc::new(TimerShared {
            state: Mutex::ranked(
                crate::lock_order::TIMER_STATE,
                TState {
                    heap: BinaryHeap::new(),
                    seq: 0,
                    closed: false,
                },
            ),
            cv: Condvar::new(),
        })
    }
}

/// The timer's loop without its thread, for loom models that run it on the
/// model's main thread (so that a missed wake-up is reported as a deadlock
/// of that thread alone).
#[cfg(loom)]
pub(crate) struct Runner<T>(Arc<TimerShared<T>>);

#[cfg(loom)]
impl<T> Runner<T> {
    /// A timer with no thread: its handle, and the loop to run by hand.
    pub(crate) fn new() -> (TimerHandle<T>, Runner<T>) {
        let sh = TimerShared::new();
        (TimerHandle(Arc::clone(&sh)), Runner(sh))
    }

    /// Runs the timer's loop here until `fire` returns `false`.
    pub(crate) fn run(&self, fire: impl FnMut(T) -> bool) {
        run(&self.0, fire);
    }
}

impl<T> TimerHandle<T> {
    /// Schedules `item` to fire at `when`; gives it back if the timer is
    /// closed. Never sleeps.
    pub(crate) fn schedule(&self, when: Instant, item: T) -> Result<(), T> {
        let mut g = self.0.state.lock();
        if g.closed {
            return Err(item);
        }
        let seq = g.seq;
        g.seq += 1;
        g.heap.push(Entry { when, seq, item });
        // The thread sleeps until the earliest deadline it saw, or forever
        // when it saw none. Only a new earliest entry changes that; the
        // thread decided how long to sleep under this lock, so notifying
        // under it cannot be missed.
        let earliest = g.heap.peek().is_some_and(|e| e.seq == seq);
        if earliest && !aio_core::sync::mutant(aio_core::sync::Mutant::TimerNoNotify) {
            self.0.cv.notify_one();
        }
        Ok(())
    }

    /// Takes back the first pending item that `matches`, if any, so that it
    /// never fires. Racing the timer thread, exactly one of the two gets an
    /// item: both take it out of the heap under the lock.
    pub(crate) fn take(&self, matches: impl Fn(&T) -> bool) -> Option<T> {
        let mut g = self.0.state.lock();
        let mut v = std::mem::take(&mut g.heap).into_vec();
        let found = v.iter().position(|e| matches(&e.item));
        let item = found.map(|i| v.swap_remove(i).item);
        g.heap = BinaryHeap::from(v);
        // A removed top only makes the thread wake early and sleep again.
        item
    }
}

/// The timer thread's loop: fires due items (after unlocking), sleeps until
/// the earliest deadline, exits once closed and empty. `fire` returning
/// `false` also ends it (only loom models do that).
fn run<T>(sh: &TimerShared<T>, mut fire: impl FnMut(T) -> bool) {
    let mut g = sh.state.lock();
    loop {
        let due = match g.heap.peek() {
            Some(e) => g.closed || e.when <= Instant::now(),
            None => false,
        };
        if due {
            let Some(e) = g.heap.pop() else { continue };
            drop(g);
            if !fire(e.item) {
                return;
            }
            g = sh.state.lock();
            continue;
        }
        if g.closed {
            return;
        }
        g = match g.heap.peek().map(|e| e.when) {
            None => sh.cv.wait(g),
            Some(when) => sh.cv.wait_until(g, when).0,
        };
    }
}

//! The timer's sleep and wake: scheduling an item that is already due while
//! the timer thread goes to sleep on an empty heap. Narration:
//! `src/wrap/README.md`, "The timer".

use std::time::Instant;

use super::{Flag, Keep, model};
use crate::wrap::timer::{Runner, Timer};
use aio_core::sync::{Arc, thread};

/// A submitter schedules a due item while the timer loop (run on the
/// model's main thread) decides to sleep; the loop must fire it.
///
/// Fails with a deadlock if scheduling can leave the timer asleep (mutant
/// `timer-no-notify`).
#[test]
fn loom_timer_schedule_vs_sleep() {
    model(|| {
        let (handle, runner) = Runner::new();
        let runner = Keep::new(runner);
        let submitter = thread::spawn(move || {
            handle
                .schedule(Instant::now(), 5u32)
                .map_err(|_| ())
                .unwrap();
        });
        let mut got = None;
        runner.run(|x| {
            got = Some(x);
            false
        });
        assert_eq!(got, Some(5));
        submitter.join().unwrap();
        runner.done();
    });
}

/// Closing fires what is pending and joins the thread.
///
/// Fails with an assertion if a pending item is dropped unfired, or a
/// deadlock if the thread misses the close.
#[test]
fn loom_timer_close_fires_pending() {
    model(|| {
        let fired = Arc::new(Flag::default());
        let f2 = Arc::clone(&fired);
        let timer = Timer::spawn("t", move |()| f2.raise()).unwrap();
        let h = timer.handle();
        // Far in the future: only the close can fire it.
        let later = Instant::now() + std::time::Duration::from_secs(3600);
        h.schedule(later, ()).map_err(|_| ()).unwrap();
        timer.close();
        fired.wait();
        assert!(
            h.schedule(Instant::now(), ()).is_err(),
            "a closed timer refuses items"
        );
    });
}

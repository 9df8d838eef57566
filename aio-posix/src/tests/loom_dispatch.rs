//! The SIGEV_THREAD dispatcher (`README.md`, "SIGEV_THREAD").

use aio_core::sync::{Arc, Condvar, Mutex};

use super::model;
use crate::notify::{Dispatcher, Job, Notification};

type Flag = (Mutex<bool>, Condvar);

extern "C" fn raise_flag(v: libc::sigval) {
    // SAFETY: the model passes the address of a Flag it keeps alive until
    // the function has run (it waits for the flag).
    let f = unsafe { &*(v.sival_ptr as *const Flag) };
    *f.0.lock() = true;
    f.1.notify_all();
}

/// One dispatcher thread, possibly already idle, and one notification
/// pushed from another thread: the function must run. Mutant
/// `dispatch-no-notify` leaves an idle thread asleep: deadlock.
#[test]
fn loom_dispatch_push_vs_idle() {
    model(|| {
        let d = Arc::new(Dispatcher::new(1, 4));
        d.start_pool_thread();
        let flag: Arc<Flag> = Arc::new((Mutex::new(false), Condvar::new()));
        let n = Notification::Thread {
            function: raise_flag,
            value: Arc::as_ptr(&flag) as usize,
            attributes: None,
        };
        assert!(d.reserve(&n).unwrap());
        d.push(Job {
            function: raise_flag,
            value: Arc::as_ptr(&flag) as usize,
            attr: 0,
        });
        let mut g = flag.0.lock();
        while !*g {
            g = flag.1.wait(g);
        }
        drop(g);
        d.shutdown();
    });
}

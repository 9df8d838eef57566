//! The fallback pool: jobs submitted from two threads to a pool of one
//! lazily started worker all run, and dropping the pool runs what is
//! queued before joining. Narration: `src/queue.md`, "The pool".

use super::model;
use crate::pool::BlockingPool;
use aio_core::sync::atomic::{AtomicUsize, Ordering};
use aio_core::sync::{Arc, thread};

/// Two submitters race to start the only worker; both jobs must run by the
/// time the pool is dropped.
///
/// Fails with an assertion if a job can be queued with no worker to take
/// it (mutant `pool-no-spawn`: a push that found nobody asleep does not
/// start a worker).
#[test]
fn loom_pool_jobs_from_two_threads_all_run() {
    model(|| {
        let ran = Arc::new(AtomicUsize::new(0));
        let pool = BlockingPool::new(1);
        let (p2, r2) = (Arc::clone(&pool), Arc::clone(&ran));
        let other = thread::spawn(move || {
            let job = Box::new(move || {
                r2.fetch_add(1, Ordering::Relaxed);
            });
            assert!(p2.execute(job).is_ok());
        });
        let r1 = Arc::clone(&ran);
        let job = Box::new(move || {
            r1.fetch_add(1, Ordering::Relaxed);
        });
        assert!(pool.execute(job).is_ok());
        other.join().unwrap();
        assert!(pool.threads() <= 1, "the bound was exceeded");
        // Dropping the last reference closes the queue, lets the worker
        // drain it, and joins the worker.
        drop(pool);
        assert_eq!(ran.load(Ordering::Relaxed), 2, "a job was lost");
    });
}

//! The work queue's dormancy: a consumer asleep on an empty queue must wake
//! for a push and for a close. Narration: `src/queue.md`.

use super::{Keep, model};
use crate::queue::WorkQueue;
use aio_core::sync::{Arc, thread};

/// A consumer takes one job while the producer pushes it.
///
/// Fails with a deadlock if a push can leave a sleeping consumer asleep
/// (mutant `queue-push-no-notify`).
#[test]
fn loom_queue_push_vs_sleeping_consumer() {
    model(|| {
        let q = Keep::new(Arc::new(WorkQueue::new()));
        let q2 = Arc::clone(&*q);
        let producer = thread::spawn(move || {
            q2.push(7u32).unwrap();
        });
        // The consumer is the model's main thread, so that a deadlock is
        // reported while it sleeps on the queue's condvar.
        let mut got = Vec::new();
        assert!(q.pop_batch(&mut got, 4));
        assert_eq!(got, vec![7]);
        producer.join().unwrap();
        q.done();
    });
}

/// A consumer drains the queue until it is closed; the producer pushes one
/// job and closes.
///
/// Fails with a deadlock if close can leave a sleeping consumer asleep
/// (mutant `queue-close-no-notify`), or with an assertion if a job pushed
/// before the close is lost.
#[test]
fn loom_queue_close_vs_sleeping_consumer() {
    model(|| {
        let q = Keep::new(Arc::new(WorkQueue::new()));
        let q2 = Arc::clone(&*q);
        let producer = thread::spawn(move || {
            q2.push(1u32).unwrap();
            q2.close();
            assert!(q2.push(2).is_err(), "a closed queue refuses jobs");
        });
        let mut got = Vec::new();
        while q.pop_batch(&mut got, 4) {}
        assert_eq!(got, vec![1]);
        producer.join().unwrap();
        q.done();
    });
}

//! [`BlockingPool`]: a bounded set of threads that run blocking system
//! calls (`pread`, `pwrite`, `fsync`) for a [`FileDevice`](crate::FileDevice)
//! whose servicing thread has no io_uring. Workers are started on demand up
//! to the bound and sleep on a [`WorkQueue`] when idle. The protocol (the
//! queue's dormancy, and when [`BlockingPool::execute`] starts a worker)
//! is narrated once, in [`crate::queue`]'s module docs ("The pool").

use std::fmt;

use aio_core::sync::thread::{self, JoinHandle};
use aio_core::sync::{Arc, Mutex};

use crate::queue::{Pushed, WorkQueue};

/// A job for a pool thread.
pub(crate) type Job = Box<dyn FnOnce() + Send + 'static>;

struct PoolShared {
    queue: WorkQueue<Job>,
}

/// A bounded pool of threads for blocking system calls.
///
/// Shared by [`Arc`]: many devices may use one pool, so a process with
/// thousands of descriptors still has a fixed number of threads. Dropping
/// the last reference closes the queue, lets the workers finish every job
/// already queued, and joins them.
pub struct BlockingPool {
    shared: Arc<PoolShared>,
    max: usize,
    /// Started workers. (lock: this mutex; taken alone)
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl fmt::Debug for BlockingPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingPool")
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

impl BlockingPool {
    /// A pool of at most `max` threads (at least one); none is started
    /// until there is work.
    pub fn new(max: usize) -> Arc<BlockingPool> {
        Arc::new(BlockingPool {
            shared: Arc::new(PoolShared {
                queue: WorkQueue::new(),
            }),
            max: max.max(1),
            workers: Mutex::ranked(crate::lock_order::BLOCKING_POOL_WORKERS, Vec::new()),
        })
    }

    /// The bound on threads.
    pub fn max_threads(&self) -> usize {
        self.max
    }

    /// Threads started so far.
    pub fn threads(&self) -> usize {
        self.workers.lock().len()
    }

    /// Runs `job` on a pool thread. Never blocks for long: if no worker is
    /// idle and the bound is reached, the job waits in the queue. Gives the
    /// job back if the pool is shutting down.
    pub(crate) fn execute(&self, job: Job) -> Result<(), Job> {
        match self.shared.queue.push(job)? {
            Pushed::WokeSleeper => Ok(()),
            Pushed::Queued => {
                let mut w = self.workers.lock();
                // Nobody was asleep to take the job: start a worker unless
                // the bound is reached (then every worker comes back to the
                // queue after its current job and finds this one).
                if w.len() < self.max
                    && !aio_core::sync::mutant(aio_core::sync::Mutant::PoolNoSpawn)
                {
                    let shared = Arc::clone(&self.shared);
                    let name = format!("blockdev-pool-{}", w.len());
                    let stack = aio_core::sync::SERVICE_STACK;
                    match thread::spawn_named_with_stack(name, stack, move || worker(&shared)) {
                        Ok(h) => w.push(h),
                        Err(_) if w.is_empty() => {
                            // No worker exists and none can be started
                            // (RLIMIT_NPROC, say): run the queue here
                            // rather than lose a job. Nothing is printed:
                            // this can happen on every op, and the
                            // program's stderr is not ours.
                            drop(w);
                            while let Some(j) = self.shared.queue.try_pop() {
                                j();
                            }
                        }
                        Err(_) => {} // the running workers will get to it
                    }
                }
                Ok(())
            }
        }
    }
}

fn worker(shared: &PoolShared) {
    let mut batch = Vec::with_capacity(1);
    while shared.queue.pop_batch(&mut batch, 1) {
        for job in batch.drain(..) {
            job();
        }
    }
}

impl Drop for BlockingPool {
    fn drop(&mut self) {
        self.shared.queue.close();
        for h in std::mem::take(self.workers.get_mut()) {
            crate::device::join_unless_self(Some(h));
        }
    }
}

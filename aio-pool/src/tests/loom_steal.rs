//! A stealer vs the pool's own worker taking from the same queue.

use super::{async_op, model, nop};
use crate::config::Class;
use crate::pool::{Meta, Pool, Steal, Token, Work};
use aio_core::sync::{Arc, thread};
use aio_core::{BasicEngine, Engine, OpKind};

/// One op queued on pool 0; its worker takes from the front while a
/// sibling steals. The op is taken exactly once, and the queue ends empty.
///
/// Fails (a panic in the stealer's drain, or the op taken twice) under
/// mutant `steal-len-unlocked`, where the stealer sizes its batch under the
/// lock, drops it, and drains that many after relocking.
#[test]
fn loom_steal_vs_local_pop() {
    model(|| {
        let pool = Arc::new(Pool::new(
            Class::Read,
            0,
            0,
            2,
            Some(BasicEngine::new().waker()),
        ));
        let target = nop();
        let (pending, q) = async_op(&target, OpKind::Read).enqueue();
        let m = Meta {
            op: q.key(),
            key: q.target_key(),
            kind: OpKind::Read,
            fifo: false,
            tracked: false,
            epoch: 0,
            home: 0,
        };
        pool.q.lock().queue.push_back(Work {
            tok: Token::Queued(q),
            m,
        });
        let p2 = Arc::clone(&pool);
        let stealer = thread::spawn(move || {
            let mut out = Vec::new();
            // Retry until the answer is definite, as a stealer would.
            loop {
                match p2.steal_into(4, &mut out) {
                    Steal::Retry => thread::yield_now(),
                    Steal::Empty => break 0,
                    Steal::Success(n) => {
                        assert_eq!(n, out.len());
                        break n;
                    }
                }
            }
        });
        let mut mine = Vec::new();
        {
            let mut g = pool.q.lock();
            Pool::take_locked(&mut g, 4, &mut mine);
        }
        let stolen = stealer.join().unwrap();
        assert_eq!(
            mine.len() + stolen,
            1,
            "the op was taken {} times",
            mine.len() + stolen
        );
        assert!(pool.q.lock().queue.is_empty());
        drop(mine);
        drop(pending);
    });
}

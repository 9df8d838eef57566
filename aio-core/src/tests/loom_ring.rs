//! Completion ring: publish vs reap, with the ring full and empty, and the
//! credit an op takes at submission so that its completer never waits.

use super::{model, nop};
use crate::sync::thread;
use crate::{CompletionRing, CqEntry, Op};

/// Reaps `n` entries, sleeping while the ring is empty; checks that each
/// producer's entries arrive in order and whole.
fn consume(reaper: &mut crate::Reaper, n: usize) -> [u64; 2] {
    let mut next = [0u64; 2];
    let mut got = 0;
    while got < n {
        got += reaper.reap_wait(4, None, |e| {
            assert_eq!(e.user_data, next[e.id as usize], "out of order");
            assert_eq!(e.res, (e.id * 10 + e.user_data) as i64, "torn entry");
            next[e.id as usize] += 1;
        });
    }
    next
}

fn entry(p: u64, i: u64) -> CqEntry {
    CqEntry {
        id: p,
        user_data: i,
        res: (p * 10 + i) as i64,
    }
}

/// One producer pushes two entries through a ring of one slot, so it must
/// sleep for the ring's one credit until the consumer returns it, while the
/// consumer sleeps when the ring is empty.
///
/// Fails if the consumer can read a slot before it is written (loom
/// reports a data race: mutant `ring-publish-relaxed`), or the producer
/// sleeps for a credit that the consumer returned without seeing it
/// (deadlock: mutant `ring-no-recheck`), or an entry is lost, duplicated or
/// torn (the assertions).
#[test]
fn loom_ring_full_producer_vs_reaper() {
    model(|| {
        let (ring, mut reaper) = CompletionRing::new(1).unwrap();
        let producer = thread::spawn(move || {
            ring.push(entry(0, 0));
            ring.push(entry(0, 1));
        });
        assert_eq!(consume(&mut reaper, 2), [2, 0]);
        producer.join().unwrap();
    });
}

/// Two producers race for the slots of a two-slot ring while the consumer
/// sleeps on the empty ring.
///
/// Fails if both claim one slot (torn entry or data race), if an entry is
/// read before it is published (mutant `ring-publish-relaxed`), or if the
/// consumer sleeps through a publication (deadlock).
#[test]
fn loom_ring_two_producers_vs_reaper() {
    model(|| {
        let (ring, mut reaper) = CompletionRing::new(2).unwrap();
        let producers: Vec<_> = (0..2u64)
            .map(|p| {
                let ring = crate::sync::Arc::clone(&ring);
                thread::spawn(move || ring.push(entry(p, 0)))
            })
            .collect();
        assert_eq!(consume(&mut reaper, 2), [1, 1]);
        for p in producers {
            p.join().unwrap();
        }
    });
}

/// An op on a one-slot ring completes on another thread while its owner
/// submits a second op to the same ring and the consumer reaps. The second
/// submission must wait for the first op's credit to come back; the
/// completers never wait.
///
/// Fails if the second op gets past submission before the first entry is
/// reaped (mutant `credit-not-reserved`, where a submission takes no
/// credit: its entry can then come first, "out of order", or its completer
/// finds the slot still unreaped, the debug assertion in
/// `CompletionRing::publish`), or a submitter sleeps through the return of
/// a credit (deadlock), or an entry is lost (the consumer waits forever).
#[test]
fn loom_ring_op_submitter_vs_completer_and_reaper() {
    model(|| {
        let (ring, mut reaper) = CompletionRing::new(1).unwrap();
        let ring_op = |i| {
            let mut op = Op::new(nop(), vec![0u8; 1]);
            op.set_ring(crate::sync::Arc::clone(&ring));
            op.set_private(i);
            op
        };
        let (first, queued) = ring_op(0).enqueue();
        let second = ring_op(1);
        let owner = thread::spawn(move || {
            let completer = thread::spawn(move || queued.start().unwrap().complete(Ok(1)));
            let (p, q) = second.enqueue();
            q.start().unwrap().complete(Ok(2));
            completer.join().unwrap();
            p
        });
        let mut next = 0;
        while next < 2 {
            reaper.reap_wait(2, None, |e| {
                assert_eq!(e.user_data, next, "out of order");
                next += 1;
            });
        }
        let second = owner.join().unwrap();
        assert_eq!(first.wait().1, Ok(1));
        assert_eq!(second.wait().1, Ok(2));
    });
}

//! Completion ring: publish vs reap, with the ring full and empty.

use super::model;
use crate::sync::thread;
use crate::{CompletionRing, CqEntry};

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
/// sleep on the full ring, while the consumer sleeps when it is empty.
///
/// Fails if the consumer can read a slot before it is written (loom
/// reports a data race: mutant `ring-publish-relaxed`), or the producer
/// sleeps on a full ring that the consumer drained without seeing it
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

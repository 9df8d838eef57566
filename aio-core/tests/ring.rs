//! The completion ring on real threads.

use std::time::{Duration, Instant};

use aio_core::sync::thread;
use aio_core::{CompletionRing, CqEntry, Error};

#[test]
fn capacity_must_be_a_power_of_two() {
    for bad in [0usize, 3, 6, 1 << 31] {
        assert_eq!(
            CompletionRing::new(bad).err(),
            Some(Error::EINVAL),
            "capacity {bad}"
        );
    }
    assert_eq!(CompletionRing::new(1).unwrap().0.capacity(), 1);
}

#[test]
fn full_ring_refuses_try_push_and_keeps_order() {
    let (ring, mut reaper) = CompletionRing::new(2).unwrap();
    let e = |id| CqEntry {
        id,
        user_data: id * 10,
        res: id as i64,
    };
    assert!(ring.try_push(e(1)).is_ok());
    assert!(ring.try_push(e(2)).is_ok());
    assert_eq!(
        ring.try_push(e(3)),
        Err(e(3)),
        "full: given back, not dropped"
    );
    let mut got = vec![];
    assert_eq!(reaper.reap(1, |x| got.push(x.id)), 1);
    assert!(ring.try_push(e(3)).is_ok());
    reaper.reap(10, |x| got.push(x.id));
    assert_eq!(got, vec![1, 2, 3]);
    assert!(!reaper.wait(Some(Instant::now() + Duration::from_millis(10))));
}

#[test]
fn producers_block_on_full_ring_and_nothing_is_lost() {
    // Miri interprets every instruction (and its clock advances with
    // them): fewer entries there, as crossbeam's tests do.
    const PER: u64 = if cfg!(miri) { 500 } else { 20_000 };
    let (ring, mut reaper) = CompletionRing::new(8).unwrap();
    let producers: Vec<_> = (0..3u64)
        .map(|p| {
            let ring = aio_core::sync::Arc::clone(&ring);
            thread::spawn(move || {
                for i in 0..PER {
                    ring.push(CqEntry {
                        id: p,
                        user_data: i,
                        res: 0,
                    });
                }
            })
        })
        .collect();
    let mut next = [0u64; 3];
    let mut total = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while total < 3 * PER {
        assert!(Instant::now() < deadline, "ring stalled at {total}");
        reaper.reap_wait(64, Some(Instant::now() + Duration::from_millis(100)), |e| {
            // Per producer, entries arrive in the order pushed.
            assert_eq!(e.user_data, next[e.id as usize]);
            next[e.id as usize] += 1;
            total += 1;
        });
    }
    for p in producers {
        p.join().unwrap();
    }
    assert_eq!(next, [PER; 3]);
    assert_eq!(reaper.reap(10, |_| panic!("extra entry")), 0);
}

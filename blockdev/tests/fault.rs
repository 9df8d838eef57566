//! FaultDevice: every fault kind reaches its op as the op's result, nothing
//! is lost or completed twice under a mixed seeded policy, decisions are
//! reproducible, and reordered completions overtake.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use aio_core::sync::Arc;
use aio_core::{Attempt, CompletionRing, Engines, Error, OpKind, Target, into_dyn};
use blockdev::{
    Device, Fault, FaultDevice, FaultPolicy, FileDevice, FileOptions, RamDisk, SharedDevice,
    UringEngine,
};
use common::*;

fn ram() -> RamDisk {
    RamDisk::new(1 << 20).unwrap()
}

fn device(policy: FaultPolicy) -> (Arc<FaultDevice<RamDisk>>, Arc<dyn Target>) {
    let d = Arc::new(FaultDevice::new(ram(), policy).unwrap());
    let t = SharedDevice::target(&d);
    (d, t)
}

#[test]
fn eio_fails_transfers_without_touching_the_device() {
    let (d, t) = device(FaultPolicy {
        eio: 1.0,
        ..FaultPolicy::none(1)
    });
    let mut e = Engines::basic();
    let ps = vec![
        submit(&t, &mut e, op(&t, OpKind::Write, 0, vec![9; 4096])),
        submit(&t, &mut e, op(&t, OpKind::Read, 0, vec![0; 4096])),
        submit(&t, &mut e, op(&t, OpKind::Fsync, 0, vec![])),
    ];
    let r: Vec<_> = drain(&mut e, ps).into_iter().map(|(_, r)| r).collect();
    assert_eq!(r, vec![Err(Error::EIO), Err(Error::EIO), Ok(0)]);
    let mut b = vec![1u8; 4096];
    assert_eq!(d.inner().read_at(&mut b, 0), Attempt::Ready(Ok(4096)));
    assert!(
        b.iter().all(|&x| x == 0),
        "the failed write reached the disk"
    );
    assert_eq!(
        d.injected().iter().map(|f| f.1).collect::<Vec<_>>(),
        vec![Fault::Eio, Fault::Eio]
    );
}

#[test]
fn enospc_fails_writes_only() {
    let (d, t) = device(FaultPolicy {
        enospc: 1.0,
        ..FaultPolicy::none(2)
    });
    let mut e = Engines::basic();
    let ps = vec![
        submit(&t, &mut e, op(&t, OpKind::Write, 0, vec![9; 512])),
        submit(&t, &mut e, op(&t, OpKind::Read, 0, vec![0; 512])),
    ];
    let r: Vec<_> = drain(&mut e, ps).into_iter().map(|(_, r)| r).collect();
    assert_eq!(r, vec![Err(Error::ENOSPC), Ok(512)]);
    assert_eq!(d.injected().len(), 1);
    assert_eq!(t.write_at(&[1; 10], 0), Attempt::Ready(Err(Error::ENOSPC)));
}

#[test]
fn short_transfers_move_only_their_prefix() {
    let (d, t) = device(FaultPolicy {
        short: 1.0,
        ..FaultPolicy::none(3)
    });
    let mut e = Engines::basic();
    let data = pattern(3, 0, 8192);
    let p = submit(&t, &mut e, op(&t, OpKind::Write, 0, data.clone()));
    let (_, r) = drain(&mut e, vec![p]).pop().unwrap();
    assert_eq!(r, Ok(4096), "half, rounded to the block size");
    let mut b = vec![0u8; 8192];
    assert_eq!(d.inner().read_at(&mut b, 0), Attempt::Ready(Ok(8192)));
    assert_eq!(&b[..4096], &data[..4096]);
    assert!(
        b[4096..].iter().all(|&x| x == 0),
        "a short write wrote past its count"
    );
    let p = submit(&t, &mut e, op(&t, OpKind::Read, 0, vec![0xff; 100]));
    let (o, r) = drain(&mut e, vec![p]).pop().unwrap();
    assert_eq!(r, Ok(50));
    assert_eq!(&o.buf()[..50], &data[..50]);
    assert!(
        o.buf()[50..].iter().all(|&x| x == 0xff),
        "a short read filled past its count"
    );
    assert_eq!(
        d.injected().iter().map(|f| f.1).collect::<Vec<_>>(),
        vec![Fault::Short { len: 4096 }, Fault::Short { len: 50 }]
    );
}

#[test]
fn failed_flushes_fail_and_transfers_pass() {
    let (d, t) = device(FaultPolicy {
        flush_fail: 1.0,
        ..FaultPolicy::none(4)
    });
    let mut e = Engines::basic();
    let ps = vec![
        submit(&t, &mut e, op(&t, OpKind::Fsync, 0, vec![])),
        submit(&t, &mut e, op(&t, OpKind::Fdatasync, 0, vec![])),
        submit(&t, &mut e, op(&t, OpKind::Write, 0, vec![1; 512])),
    ];
    let r: Vec<_> = drain(&mut e, ps).into_iter().map(|(_, r)| r).collect();
    assert_eq!(r, vec![Err(Error::EIO), Err(Error::EIO), Ok(512)]);
    assert_eq!(d.inner().flushes(), 0, "a failed flush reached the disk");
    assert_eq!(
        t.flush(aio_core::FlushKind::Full),
        Attempt::Ready(Err(Error::EIO))
    );
}

#[test]
fn reordered_completions_are_overtaken() {
    let (d, t) = device(FaultPolicy {
        reorder: 0.5,
        reorder_delay: Duration::from_millis(20),
        ..FaultPolicy::none(5)
    });
    let mut e = Engines::basic();
    let (ring, mut reaper) = CompletionRing::new(256).unwrap();
    let ps: Vec<_> = (0..64u64)
        .map(|i| {
            let mut o = op(&t, OpKind::Write, i * 512, vec![i as u8; 512]);
            o.set_ring(Arc::clone(&ring));
            o.set_private(i as usize);
            submit(&t, &mut e, o)
        })
        .collect();
    for (_, r) in drain(&mut e, ps) {
        assert_eq!(r, Ok(512));
    }
    let mut order = Vec::new();
    reaper.reap(usize::MAX, |c| order.push(c.user_data));
    assert_eq!(order.len(), 64);
    assert!(order.windows(2).any(|w| w[0] > w[1]), "in order: {order:?}");
    let held = d.injected().len();
    assert!(held > 10 && held < 54, "{held} of 64 held at p=0.5");
}

/// Thousands of ops under every fault at once: each op completes exactly
/// once (one ring entry per op), and each op's result is what its fault
/// (or the absence of one) says.
#[test]
fn a_mixed_policy_loses_nothing_and_reports_every_fault() {
    let policy = FaultPolicy {
        eio: 0.05,
        enospc: 0.05,
        short: 0.1,
        flush_fail: 0.3,
        reorder: 0.1,
        reorder_delay: Duration::from_millis(2),
        ..FaultPolicy::none(6)
    };
    let (d, t) = device(policy);
    let mut e = Engines::from(UringEngine::new(64).unwrap());
    let (ring, mut reaper) = CompletionRing::new(4096).unwrap();
    let mut ops = HashMap::new();
    let mut seen = HashMap::new();
    let mut entries = Vec::new();
    for round in 0..32u64 {
        let ps: Vec<_> = (0..64u64)
            .map(|k| {
                let i = round * 64 + k;
                let (kind, len) = match i % 5 {
                    0 | 1 => (OpKind::Write, 4096),
                    2 | 3 => (OpKind::Read, 4096),
                    _ => (OpKind::Fdatasync, 0),
                };
                let mut o = op(&t, kind, (i % 200) * 4096, vec![1; len]);
                o.set_ring(Arc::clone(&ring));
                o.set_private(i as usize);
                ops.insert(o.id(), (kind, len));
                submit(&t, &mut e, o)
            })
            .collect();
        for (o, r) in drain(&mut e, ps) {
            seen.insert(o.id(), r);
        }
        reaper.reap(usize::MAX, |c| entries.push(c.user_data));
    }
    // One ring entry per op: every private value exactly once.
    entries.sort_unstable();
    assert_eq!(entries, (0..2048).collect::<Vec<u64>>());
    assert_eq!(seen.len(), 2048);
    let faults: HashMap<u64, Fault> = d.injected().into_iter().collect();
    let mut kinds = std::collections::HashSet::new();
    for (id, (kind, len)) in &ops {
        let r = seen[id];
        match faults.get(id) {
            Some(Fault::Eio) | Some(Fault::FlushFail) => assert_eq!(r, Err(Error::EIO)),
            Some(Fault::Enospc) => assert_eq!(r, Err(Error::ENOSPC)),
            Some(Fault::Short { len: s }) => {
                assert!(*s < *len);
                assert_eq!(r, Ok(*s));
            }
            Some(Fault::Reorder) | None => assert_eq!(r, Ok(*len), "{kind:?}"),
        }
        if let Some(f) = faults.get(id) {
            kinds.insert(std::mem::discriminant(f));
        }
    }
    assert_eq!(kinds.len(), 5, "every fault kind was injected");
}

#[test]
fn the_same_seed_makes_the_same_decisions() {
    let run = || {
        let policy = FaultPolicy {
            eio: 0.2,
            short: 0.2,
            reorder: 0.2,
            ..FaultPolicy::none(77)
        };
        let (d, t) = device(policy);
        let mut e = Engines::basic();
        let ps: Vec<_> = (0..200u64)
            .map(|i| submit(&t, &mut e, op(&t, OpKind::Read, i * 512, vec![0; 1024])))
            .collect();
        drain(&mut e, ps);
        d.injected().into_iter().map(|(_, f)| f).collect::<Vec<_>>()
    };
    let a = run();
    assert!(!a.is_empty());
    assert_eq!(a, run());
}

#[test]
fn bad_policies_are_rejected() {
    let p = FaultPolicy {
        eio: 1.5,
        ..FaultPolicy::none(0)
    };
    assert_eq!(FaultDevice::new(ram(), p).unwrap_err(), Error::EINVAL);
}

#[test]
fn faults_over_a_file_device_on_a_ring() {
    let f = TempFile::new("fault", 1 << 20);
    let inner = FileDevice::open(&f.path, FileOptions::new()).unwrap();
    let d = FaultDevice::new(
        inner,
        FaultPolicy {
            short: 1.0,
            ..FaultPolicy::none(8)
        },
    )
    .unwrap();
    assert_eq!(d.name(), format!("fault({})", f.path.display()));
    let t = into_dyn(d);
    let mut e = Engines::from(UringEngine::new(16).unwrap());
    let ps: Vec<_> = (0..64u64)
        .map(|i| submit(&t, &mut e, op(&t, OpKind::Write, i * 8192, vec![5; 8192])))
        .collect();
    for (_, r) in drain(&mut e, ps) {
        assert_eq!(r, Ok(4096));
    }
}

#[test]
fn integrity_at_depth_64_with_no_faults_drawn() {
    let t =
        into_dyn(FaultDevice::new(RamDisk::new(4 << 20).unwrap(), FaultPolicy::none(9)).unwrap());
    integrity(&t, &mut Engines::basic(), 4096, 1024, 64, 61);
    integrity(
        &t,
        &mut Engines::from(UringEngine::new(64).unwrap()),
        4096,
        1024,
        128,
        62,
    );
}

#[test]
fn shutdown_releases_held_completions_and_cancels_new_ops() {
    let policy = FaultPolicy {
        reorder: 1.0,
        reorder_delay: Duration::from_secs(60),
        ..FaultPolicy::none(10)
    };
    let (d, t) = device(policy);
    let mut e = Engines::basic();
    let ps: Vec<_> = (0..64u64)
        .map(|i| submit(&t, &mut e, op(&t, OpKind::Write, i * 512, vec![3; 512])))
        .collect();
    aio_core::sync::thread::sleep(Duration::from_millis(20));
    assert!(ps.iter().all(|p| !p.is_complete()), "held for a minute");
    d.shutdown();
    for (_, r) in drain_within(&mut e, ps, Duration::from_secs(5)) {
        assert_eq!(r, Ok(512));
    }
    let late = submit(&t, &mut e, op(&t, OpKind::Read, 0, vec![0; 512]));
    let r = drain(&mut e, vec![late]).pop().unwrap().1;
    // The fault device refuses nothing itself; its inner RAM disk is shut.
    assert_eq!(r, Err(Error::ECANCELED));
}

#[test]
fn a_held_back_completion_can_be_cancelled() {
    let policy = FaultPolicy {
        reorder: 1.0,
        reorder_delay: Duration::from_secs(60),
        ..FaultPolicy::none(11)
    };
    let (d, t) = device(policy);
    let mut e = Engines::basic();
    let o = op(&t, OpKind::Read, 0, vec![0; 512]);
    let p = submit(&t, &mut e, o);
    let key = p.key();
    let s = t.strategy().unwrap();
    assert_eq!(s.cancel(key, &mut e), aio_core::CancelOutcome::Cancelled);
    assert!(p.is_complete());
    assert_eq!(p.wait().1, Err(Error::ECANCELED));
    assert_eq!(s.cancel(key, &mut e), aio_core::CancelOutcome::InFlight);
    assert_eq!(e.in_flight(), 0);
    d.shutdown();
}

//! A wrapper forwards an op to its inner device through a shadow op that
//! carries the outer op's id, so an inner FaultDevice logs the ids the
//! owner knows.

use std::time::Duration;

use aio_core::{Engines, Op, OpKind, Strategy};
use blockdev::{DelayDevice, FaultDevice, FaultPolicy, Latency, RamDisk, SharedDevice};

#[test]
fn inner_fault_log_names_the_outer_ids() {
    let mut policy = FaultPolicy::none(3);
    policy.eio = 1.0; // every transfer fails, so every op is logged
    let stack = aio_core::sync::Arc::new(
        DelayDevice::new(
            FaultDevice::new(RamDisk::new(1 << 20).unwrap(), policy).unwrap(),
            Latency::Fixed(Duration::from_micros(50)),
            1,
        )
        .unwrap(),
    );
    let target = SharedDevice::target(&stack);
    let mut engine = Engines::basic();
    let mut pendings = Vec::new();
    for id in [1001u64, 2002, 3003] {
        let mut op = Op::new(aio_core::sync::Arc::clone(&target), vec![0; 512]);
        op.prepare(OpKind::Read, 0, 512).unwrap();
        op.set_id(id);
        let (p, q) = op.enqueue();
        stack.submit(q.start().unwrap(), &mut engine);
        pendings.push(p);
    }
    for p in pendings {
        assert!(
            p.wait_timeout(Duration::from_secs(10)),
            "op never completed"
        );
        assert_eq!(p.wait().1, Err(aio_core::Error::EIO));
    }
    while engine.in_flight() > 0 {
        engine.wait(Some(Duration::from_millis(100))).unwrap();
    }
    let mut ids: Vec<u64> = stack
        .inner()
        .injected()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, vec![1001, 2002, 3003]);
}

//! Seeded random request sequences, run on each device through an engine
//! and on a plain byte vector as the reference: every result and every
//! byte read must agree (the vm-virtio habit of fuzzing request sequences,
//! made deterministic).

mod common;

use aio_core::sync::Arc;
use aio_core::{Engines, Error, OpKind, Result, Target, into_dyn};
use blockdev::{FileDevice, FileOptions, RamDisk, RamDiskOptions, UringEngine, XorShift};
use common::*;

/// The reference: Linux block-device semantics on a vector.
struct Model(Vec<u8>);

impl Model {
    fn apply(&mut self, kind: OpKind, off: u64, data: &[u8]) -> (Result<usize>, Vec<u8>) {
        let cap = self.0.len() as u64;
        match kind {
            OpKind::Fsync | OpKind::Fdatasync => (Ok(0), vec![]),
            _ if data.is_empty() => (Ok(0), vec![]),
            OpKind::Read if off >= cap => (Ok(0), vec![]),
            OpKind::Write if off >= cap => (Err(Error::ENOSPC), vec![]),
            OpKind::Read => {
                let n = data.len().min((cap - off) as usize);
                (Ok(n), self.0[off as usize..off as usize + n].to_vec())
            }
            OpKind::Write => {
                let n = data.len().min((cap - off) as usize);
                self.0[off as usize..off as usize + n].copy_from_slice(&data[..n]);
                (Ok(n), vec![])
            }
        }
    }
}

const SLOT: u64 = 64 << 10;

/// Runs `rounds` batches of up to 48 ops on disjoint 64 KiB slots (so the
/// order inside a batch does not matter), some slots past the end.
fn run(t: &Arc<dyn Target>, engine: &mut Engines, cap: u64, seed: u64, rounds: usize) {
    let mut r = XorShift::new(seed);
    let mut model = Model(vec![0; cap as usize]);
    let slots = cap.div_ceil(SLOT) + 2;
    for round in 0..rounds {
        let mut free: Vec<u64> = (0..slots).collect();
        let n = 1 + (r.next_u64() % 48) as usize;
        let mut batch = Vec::new();
        for _ in 0..n.min(free.len()) {
            let slot = free.swap_remove((r.next_u64() % free.len() as u64) as usize);
            let within = r.next_u64() % SLOT;
            let len = match r.next_u64() % 8 {
                0 => 0,
                1 => (SLOT - within) as usize,
                _ => (r.next_u64() % (SLOT - within + 1)) as usize,
            };
            let kind = match r.next_u64() % 10 {
                0 => OpKind::Fsync,
                1 => OpKind::Fdatasync,
                2..=5 => OpKind::Read,
                _ => OpKind::Write,
            };
            let off = slot * SLOT + within;
            let data = if kind == OpKind::Write {
                pattern(seed ^ round as u64, slot, len)
            } else {
                vec![0xAA; len]
            };
            batch.push((kind, off, data));
        }
        let ps: Vec<_> = batch
            .iter()
            .map(|(k, off, d)| submit(t, engine, op(t, *k, *off, d.clone())))
            .collect();
        for ((o, res), (kind, off, data)) in drain(engine, ps).into_iter().zip(&batch) {
            let (want, bytes) = model.apply(*kind, *off, data);
            assert_eq!(
                res,
                want,
                "round {round}: {kind:?} of {} at {off}",
                data.len()
            );
            if *kind == OpKind::Read {
                let n = bytes.len();
                assert_eq!(&o.buf()[..n], &bytes[..], "round {round}: read at {off}");
                assert!(
                    o.buf()[n..].iter().all(|&x| x == 0xAA),
                    "a read wrote past its count"
                );
            }
        }
    }
}

#[test]
fn ramdisk_matches_the_reference() {
    // A capacity that is not a multiple of the slot or shard size.
    let cap = 3 * SLOT + 12_345;
    let o = RamDiskOptions {
        shard_size: 4096,
        ..RamDiskOptions::new(cap)
    };
    let t = into_dyn(RamDisk::with_options(o).unwrap());
    run(&t, &mut Engines::basic(), cap, 1, 200);
}

#[test]
fn file_device_on_a_ring_matches_the_reference() {
    let cap = 3 * SLOT + 12_345;
    let f = TempFile::new("diff-uring", cap);
    let t = into_dyn(FileDevice::open(&f.path, FileOptions::new()).unwrap());
    run(
        &t,
        &mut Engines::from(UringEngine::new(32).unwrap()),
        cap,
        2,
        200,
    );
}

#[test]
fn file_device_on_the_pool_matches_the_reference() {
    let cap = 2 * SLOT + 777;
    let f = TempFile::new("diff-pool", cap);
    let t = into_dyn(FileDevice::open(&f.path, FileOptions::new()).unwrap());
    run(&t, &mut Engines::basic(), cap, 3, 100);
}

#[test]
fn nbd_matches_the_reference() {
    let cap = 3 * SLOT + 12_288;
    let s = QemuNbd::unix(cap, "diff");
    let d = blockdev::NbdDevice::connect_unix(s.socket.as_ref().unwrap(), "diff").unwrap();
    let t = into_dyn(d);
    run(&t, &mut Engines::basic(), cap, 4, 100);
}

//! Fault: `qemu-nbd` killed in the middle of a run through the service
//! pools. Two submitter threads keep 32 ops each in flight (writes of a
//! fixed pattern per block, reads checked against it, some flushes) on
//! blockdev's `NbdDevice`; the server is killed once 2000 ops completed,
//! and the submitters go on until each has submitted 200 ops after the
//! device reported the disconnection. Every op completes exactly once
//! (a callback ledger), with its full length or `EIO` (and `EIO` for every
//! op submitted after the disconnection was seen), reads that succeeded
//! hold the right bytes, and neither the ops nor the pools' shutdown hang.
//! Needs `qemu-nbd` (qemu-utils; `.ci/run` installs it): fails loudly
//! without it.

use std::time::{Duration, Instant};

use aio_core::sync::atomic::{AtomicU64, Ordering};
use aio_core::sync::{Arc, thread};
use aio_core::{Error, Op, OpKind, Pending, Target};
use aio_pool::{PoolConfig, PoolSet, SubmitFlags, Submitted};
use blockdev::{NbdDevice, SharedDevice, XorShift};
use test_support::{Ledger, QemuNbd};

const BS: usize = 4096;
const BLOCKS: u64 = 256; // per thread
const THREADS: u64 = 2;
const DEPTH: usize = 32;
const KILL_AFTER: u64 = 2000;
const AFTER_DISCONNECT: u64 = 200;
const HANG: Duration = Duration::from_secs(30);
const MAX_OPS: usize = 200_000;

/// Connects to `server` (retrying while it comes up, at most 10 s).
fn connect(server: &QemuNbd) -> NbdDevice {
    let socket = server.socket.as_ref().expect("a Unix-socket server");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match NbdDevice::connect_unix(socket, &server.export) {
            Ok(d) => return d,
            Err(e) => {
                assert!(Instant::now() < deadline, "connect to qemu-nbd: {e}");
                aio_core::sync::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// The one content block `b` of thread `t` ever holds (once written).
fn pattern(t: u64, b: u64, buf: &mut [u8]) {
    let mut r = XorShift::new((t << 32) ^ b ^ 0x6e62_6421);
    for chunk in buf.chunks_mut(8) {
        chunk.copy_from_slice(&r.next_u64().to_le_bytes()[..chunk.len()]);
    }
}

#[derive(Default)]
struct Tally {
    ops: u64,
    ok: u64,
    eio: u64,
    wrong: u64,
    corrupted: u64,
    ids: Vec<u64>,
}

struct Slot {
    op: Option<Op>,
    pending: Option<Pending>,
    id: u64,
    block: u64,
    after: bool,
}

fn submitter(
    t: u64,
    target: Arc<dyn Target>,
    dev: Arc<NbdDevice>,
    pools: Arc<PoolSet>,
    ledger: Arc<Ledger>,
    ids: Arc<AtomicU64>,
) -> Tally {
    let mut tally = Tally::default();
    let mut rng = XorShift::new(t + 3);
    let mut written = vec![false; BLOCKS as usize];
    let mut expect = vec![0u8; BS];
    let mut slots: Vec<Slot> = (0..DEPTH)
        .map(|_| {
            let mut op = Op::new(Arc::clone(&target), vec![0u8; BS]);
            ledger.attach(&mut op);
            Slot {
                op: Some(op),
                pending: None,
                id: 0,
                block: 0,
                after: false,
            }
        })
        .collect();
    let mut after = 0u64;
    let deadline = Instant::now() + HANG * 2;
    loop {
        assert!(
            Instant::now() < deadline,
            "thread {t}: the run did not end: a hang"
        );
        let disconnected = dev.is_disconnected();
        let more = after < AFTER_DISCONNECT;
        let mut outstanding = 0;
        for (i, s) in slots.iter_mut().enumerate() {
            if let Some(p) = s.pending.take() {
                match p.try_wait() {
                    Err(p) => {
                        s.pending = Some(p);
                        outstanding += 1;
                        continue;
                    }
                    Ok((op, r)) => {
                        tally.ops += 1;
                        tally.ids.push(s.id);
                        let full = if op.kind().is_transfer() { BS } else { 0 };
                        match r {
                            Ok(n) if n == full => {
                                tally.ok += 1;
                                if op.kind() == OpKind::Write {
                                    written[s.block as usize] = true;
                                }
                                if op.kind() == OpKind::Read && written[s.block as usize] {
                                    pattern(t, s.block, &mut expect);
                                    if op.buf()[..BS] != expect[..] {
                                        tally.corrupted += 1;
                                    }
                                }
                                if s.after {
                                    tally.wrong += 1; // succeeded on a dead connection
                                }
                            }
                            Err(Error::EIO) => tally.eio += 1,
                            other => {
                                tally.wrong += 1;
                                eprintln!("op {} {:?}: {other:?}", s.id, op.kind());
                            }
                        }
                        s.op = Some(op);
                    }
                }
            }
            if !more {
                continue;
            }
            // Issue a new op into this free slot.
            let mut op = s.op.take().expect("free slot holds its op");
            let id = ids.fetch_add(1, Ordering::Relaxed);
            assert!((id as usize) < MAX_OPS, "more ops than the ledger holds");
            op.set_id(id);
            s.id = id;
            s.after = disconnected;
            if disconnected {
                after += 1;
            }
            // Each slot owns the blocks congruent to it: never two ops on
            // one block at once.
            s.block = (rng.next_u64() % (BLOCKS / DEPTH as u64)) * DEPTH as u64 + i as u64;
            let dice = rng.next_u64() % 100;
            let kind = match dice {
                0..=2 => OpKind::Fsync,
                3..=49 => OpKind::Write,
                _ => OpKind::Read,
            };
            if kind == OpKind::Write {
                pattern(t, s.block, op.buf_mut());
            }
            let off = (t * BLOCKS + s.block) * BS as u64;
            if kind.is_transfer() {
                op.prepare(kind, off, BS).unwrap();
            } else {
                op.prepare(kind, 0, 0).unwrap();
            }
            match pools.submit(op, SubmitFlags::WAIT) {
                Ok(Submitted::Pending(p)) => {
                    s.pending = Some(p);
                    outstanding += 1;
                }
                Ok(Submitted::Done(..)) => panic!("an op with a callback ran synchronously"),
                Err(e) => panic!("submit refused with WAIT: {}", e.error),
            }
        }
        if outstanding == 0 && !more {
            break;
        }
        // Sleep on one op in flight (bounded) rather than spin.
        if let Some(s) = slots.iter().find(|s| s.pending.is_some()) {
            assert!(
                s.pending.as_ref().unwrap().wait_timeout(HANG),
                "op {} never completed: a hang",
                s.id
            );
        }
    }
    tally
}

#[test]
fn qemu_nbd_killed_mid_run_every_op_completes() {
    let mut server = QemuNbd::unix(THREADS * BLOCKS * BS as u64, "disk");
    let dev = Arc::new(connect(&server));
    let target = SharedDevice::target(&dev);
    let pools = Arc::new(PoolSet::new(PoolConfig::default()).unwrap());
    let ledger = Arc::new(Ledger::new(MAX_OPS));
    let ids = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (target, dev, pools, ledger, ids) = (
                Arc::clone(&target),
                Arc::clone(&dev),
                Arc::clone(&pools),
                Arc::clone(&ledger),
                Arc::clone(&ids),
            );
            thread::spawn(move || submitter(t, target, dev, pools, ledger, ids))
        })
        .collect();
    // Kill the server in the middle of the run.
    let deadline = Instant::now() + HANG;
    while ledger.done() < KILL_AFTER {
        assert!(
            Instant::now() < deadline,
            "the run never reached {KILL_AFTER} ops"
        );
        aio_core::sync::thread::sleep(Duration::from_millis(1));
    }
    let before_kill = ledger.done();
    server.kill();
    let tallies: Vec<Tally> = handles
        .into_iter()
        .map(|h| h.join().expect("submitter"))
        .collect();
    assert!(dev.is_disconnected(), "the device never saw the server die");

    // The pools shut down without hanging, even with the device dead.
    let p2 = Arc::clone(&pools);
    let h = thread::spawn(move || p2.shutdown(aio_pool::ShutdownMode::Drain));
    let deadline = Instant::now() + HANG;
    while !h.is_finished() {
        assert!(
            Instant::now() < deadline,
            "pool shutdown hung after the server died"
        );
        aio_core::sync::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(h.join().unwrap().worker_panics, 0);

    let (mut ops, mut ok, mut eio, mut wrong, mut corrupted) = (0, 0, 0, 0, 0);
    let (mut lost, mut duplicated) = (0u64, 0u64);
    for t in &tallies {
        ops += t.ops;
        ok += t.ok;
        eio += t.eio;
        wrong += t.wrong;
        corrupted += t.corrupted;
        for &id in &t.ids {
            match ledger.count(id) {
                0 => lost += 1,
                1 => {}
                _ => duplicated += 1,
            }
        }
    }
    let issued = ids.load(Ordering::Relaxed);
    println!(
        "nbd kill: ops {ops}, lost {lost}, duplicated {duplicated}, corrupted {corrupted} \
         ({ok} ok, {eio} EIO, {wrong} wrong; killed after {before_kill} completions)"
    );
    assert_eq!(ops, issued, "every issued op was harvested");
    assert_eq!(ledger.done(), issued, "callbacks = ops");
    assert_eq!((lost, duplicated, corrupted, wrong), (0, 0, 0, 0));
    assert!(
        eio >= THREADS * AFTER_DISCONNECT,
        "ops after the kill failed with EIO"
    );
    assert!(ok >= KILL_AFTER, "ops before the kill succeeded");
}

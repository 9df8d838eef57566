//! The soak: several submitter threads push a mix of reads, writes,
//! fsyncs and cancels through the service pools onto the RAM disk behind
//! a FaultDevice (EIO, ENOSPC, short transfers, failed flushes, reordered
//! completions) and a DelayDevice (exponential latency), and a ledger proves
//! that every op completed exactly once, with the result the fault log says
//! it should have, that data read back is what was last written, and that
//! every fsync completed after the writes submitted before it.
//!
//! CI-sized by default (`AIO_SOAK_OPS`, default 200000 ops; well under three
//! minutes on two cores). Long mode: `AIO_SOAK_OPS=1000000 cargo test
//! --release -p aio-tests --test soak -- --nocapture`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aio_core::sync::atomic::{AtomicU64, Ordering};
use aio_core::sync::{Arc, thread};
use aio_core::{CancelOutcome, Error, Op, OpKind, Pending, Result, Target};
use aio_pool::{PoolConfig, PoolSet, SubmitFlags, Submitted};
use blockdev::{
    DelayDevice, Fault, FaultDevice, FaultPolicy, Latency, RamDisk, SharedDevice, XorShift,
};
use test_support::Ledger;

const THREADS: usize = 4;
const DEPTH: usize = 8;
const BLOCKS: u64 = 64; // per thread
const BS: usize = 4096;
const HANG: Duration = Duration::from_secs(30);

/// The bytes a write of `version` puts in `block` of thread `t`.
fn pattern(t: usize, block: u64, version: u64, buf: &mut [u8]) {
    let mut x = (t as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (block << 20) ^ version;
    for chunk in buf.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
}

/// What the test knows a block holds.
#[derive(Clone, Copy, PartialEq)]
enum Content {
    Zero,
    Version(u64),
    Unknown,
}

/// One submitted op, for the final audit.
struct Record {
    id: u64,
    kind: OpKind,
    len: usize,
    result: Result<usize>,
    cancelled: bool,
    /// For an fsync: ids of this thread's writes submitted before it.
    before: Vec<u64>,
}

struct Slot {
    op: Option<Op>,
    pending: Option<Pending>,
    block: u64,
    version: u64,
    id: u64,
    cancelled: bool,
    before: Vec<u64>,
}

#[derive(Default)]
struct Tally {
    records: Vec<Record>,
    corrupted: u64,
    cancels: u64,
}

fn submitter(
    t: usize,
    target: Arc<dyn Target>,
    pools: Arc<PoolSet>,
    ledger: Arc<Ledger>,
    ids: Arc<AtomicU64>,
    budget: u64,
) -> Tally {
    let mut rng = XorShift::new(0x5eed + t as u64);
    let base = t as u64 * BLOCKS;
    let mut content = vec![Content::Zero; BLOCKS as usize];
    let mut busy = vec![false; BLOCKS as usize];
    let mut next_version = 1u64;
    let mut writes_since: Vec<u64> = Vec::new();
    let mut tally = Tally::default();
    let mut expect = vec![0u8; BS];
    let mut slots: Vec<Slot> = (0..DEPTH)
        .map(|_| {
            let mut op = Op::new(Arc::clone(&target), vec![0u8; BS]);
            ledger.attach(&mut op);
            Slot {
                op: Some(op),
                pending: None,
                block: 0,
                version: 0,
                id: 0,
                cancelled: false,
                before: vec![],
            }
        })
        .collect();
    let mut issued = 0u64;
    let mut outstanding = 0usize;
    loop {
        // Issue into every free slot.
        for s in slots.iter_mut().filter(|s| s.pending.is_none()) {
            if issued >= budget {
                break;
            }
            let mut op = s.op.take().expect("free slot holds its op");
            let dice = rng.next_u64() % 100;
            let id = ids.fetch_add(1, Ordering::Relaxed);
            op.set_id(id);
            s.id = id;
            s.cancelled = false;
            s.before.clear();
            // A block no other op of this thread is using.
            let mut block = rng.next_u64() % BLOCKS;
            while busy[block as usize] {
                block = (block + 1) % BLOCKS;
            }
            s.block = block;
            let kind = match dice {
                0..=4 => OpKind::Fsync,
                5..=6 => OpKind::Fdatasync,
                7..=46 => OpKind::Read,
                _ => OpKind::Write,
            };
            if kind == OpKind::Write {
                s.version = next_version;
                next_version += 1;
                pattern(t, block, s.version, op.buf_mut());
            }
            if kind.is_transfer() {
                busy[block as usize] = true;
                op.prepare(kind, (base + block) * BS as u64, BS).unwrap();
            } else {
                op.prepare(kind, 0, 0).unwrap();
                s.before = std::mem::take(&mut writes_since);
            }
            if kind == OpKind::Write {
                writes_since.push(id);
            }
            match pools.submit(op, SubmitFlags::WAIT) {
                Ok(Submitted::Pending(p)) => {
                    // Cancel some at once, some after a moment.
                    if dice % 10 == 3 {
                        if rng.next_u64().is_multiple_of(2) {
                            thread::yield_now();
                        }
                        tally.cancels += 1;
                        s.cancelled = p.cancel() == CancelOutcome::Cancelled;
                    }
                    s.pending = Some(p);
                    outstanding += 1;
                    issued += 1;
                }
                Ok(Submitted::Done(..)) => panic!("an op with a callback ran synchronously"),
                Err(e) => panic!("submit refused with WAIT: {}", e.error),
            }
        }
        if outstanding == 0 {
            break;
        }
        // Harvest whatever is done; sleep on one op if nothing is.
        let mut harvested = 0;
        for s in slots.iter_mut() {
            let Some(p) = s.pending.take() else { continue };
            let p = match p.try_wait() {
                Ok(done) => Ok(done),
                Err(p) if harvested == 0 && s.id % DEPTH as u64 == 0 => {
                    assert!(p.wait_timeout(HANG), "op {} never completed: a hang", s.id);
                    Ok(p.wait())
                }
                Err(p) => Err(p),
            };
            let (op, r) = match p {
                Ok(x) => x,
                Err(p) => {
                    s.pending = Some(p);
                    continue;
                }
            };
            harvested += 1;
            outstanding -= 1;
            let kind = op.kind();
            if kind.is_transfer() {
                busy[s.block as usize] = false;
            }
            let c = &mut content[s.block as usize];
            match (kind, r) {
                (OpKind::Write, Ok(n)) if n == BS => *c = Content::Version(s.version),
                (OpKind::Write, Ok(_)) => *c = Content::Unknown,
                (OpKind::Read, Ok(n)) => {
                    let want = match *c {
                        Content::Zero => Some(None),
                        Content::Version(v) => Some(Some(v)),
                        Content::Unknown => None,
                    };
                    if let Some(v) = want {
                        match v {
                            None => expect.fill(0),
                            Some(v) => pattern(t, s.block, v, &mut expect),
                        }
                        if op.buf()[..n] != expect[..n] {
                            tally.corrupted += 1;
                        }
                    }
                }
                _ => {}
            }
            tally.records.push(Record {
                id: s.id,
                kind,
                len: op.len(),
                result: r,
                cancelled: s.cancelled,
                before: std::mem::take(&mut s.before),
            });
            s.op = Some(op);
        }
        if harvested == 0 {
            // Everything still in flight: sleep on the oldest-numbered op.
            let s = slots
                .iter()
                .filter(|s| s.pending.is_some())
                .min_by_key(|s| s.id)
                .unwrap();
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
fn soak_nothing_lost_duplicated_or_corrupted() {
    let total: u64 = std::env::var("AIO_SOAK_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let ram = RamDisk::new(THREADS as u64 * BLOCKS * BS as u64).unwrap();
    let policy = FaultPolicy {
        seed: 7,
        eio: 0.01,
        enospc: 0.01,
        short: 0.01,
        flush_fail: 0.05,
        reorder: 0.02,
        reorder_delay: Duration::from_micros(300),
    };
    let stack = Arc::new(
        FaultDevice::new(
            DelayDevice::new(
                ram,
                Latency::Exponential {
                    mean: Duration::from_micros(20),
                },
                11,
            )
            .unwrap(),
            policy,
        )
        .unwrap(),
    );
    // The test keeps a typed handle (for the fault log); ops hold a dyn Target.
    let target = SharedDevice::target(&stack);
    let pools = Arc::new(PoolSet::new(PoolConfig::default()).unwrap());
    let ledger = Arc::new(Ledger::new(total as usize + 1));
    let ids = Arc::new(AtomicU64::new(1));
    let start = Instant::now();
    let per = total / THREADS as u64;
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (target, pools, ledger, ids) = (
                Arc::clone(&target),
                Arc::clone(&pools),
                Arc::clone(&ledger),
                Arc::clone(&ids),
            );
            let budget = if t == THREADS - 1 {
                total - per * (THREADS as u64 - 1)
            } else {
                per
            };
            thread::spawn(move || submitter(t, target, pools, ledger, ids, budget))
        })
        .collect();
    let tallies: Vec<Tally> = handles
        .into_iter()
        .map(|h| h.join().expect("submitter"))
        .collect();
    let elapsed = start.elapsed();
    let report = pools.shutdown(aio_pool::ShutdownMode::Drain);
    assert_eq!(report.worker_panics, 0);

    // The audit.
    let faults: HashMap<u64, Fault> = stack.injected().into_iter().collect();
    let (mut ops, mut lost, mut duplicated, mut corrupted, mut wrong) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let (mut cancelled, mut barriers, mut injected) = (0u64, 0u64, 0u64);
    for tally in &tallies {
        corrupted += tally.corrupted;
        for r in &tally.records {
            ops += 1;
            match ledger.count(r.id) {
                0 => lost += 1,
                1 => {}
                _ => duplicated += 1,
            }
            let fault = faults.get(&r.id).copied();
            injected += u64::from(fault.is_some());
            let ok = if r.cancelled {
                cancelled += 1;
                r.result == Err(Error::ECANCELED) && fault.is_none()
            } else {
                match (fault, r.kind) {
                    (None | Some(Fault::Reorder), OpKind::Read | OpKind::Write) => {
                        r.result == Ok(r.len)
                    }
                    (None | Some(Fault::Reorder), _) => r.result == Ok(0),
                    (Some(Fault::Eio), _) | (Some(Fault::FlushFail), _) => {
                        r.result == Err(Error::EIO)
                    }
                    (Some(Fault::Enospc), _) => r.result == Err(Error::ENOSPC),
                    (Some(Fault::Short { len }), _) => {
                        matches!(r.result, Ok(n) if n <= len && n < r.len)
                    }
                }
            };
            if !ok {
                wrong += 1;
                if wrong <= 5 {
                    eprintln!(
                        "op {} {:?}: result {:?}, fault {:?}, cancelled {}",
                        r.id, r.kind, r.result, fault, r.cancelled
                    );
                }
            }
            // An fsync completes after every write its thread submitted
            // before it (cancelled writes never ran and do not count).
            if !r.kind.is_transfer() && !r.cancelled {
                let fseq = ledger.seq(r.id);
                for w in &r.before {
                    let wseq = ledger.seq(*w);
                    barriers += 1;
                    if wseq > fseq {
                        wrong += 1;
                        eprintln!("fsync {} completed before earlier write {}", r.id, w);
                    }
                }
            }
        }
    }
    let cancels: u64 = tallies.iter().map(|t| t.cancels).sum();
    println!(
        "soak: ops {ops}, lost {lost}, duplicated {duplicated}, corrupted {corrupted} \
         (wrong results {wrong}; {injected} faults injected, {cancels} cancels tried, {cancelled} took, \
         {barriers} fsync barriers checked) in {:.1}s",
        elapsed.as_secs_f64()
    );
    assert_eq!(ops, total, "every submitted op was audited");
    assert!(
        injected > 0 && cancelled > 0 && barriers > 0,
        "the soak must exercise faults, cancels and barriers"
    );
    assert_eq!((lost, duplicated, corrupted, wrong), (0, 0, 0, 0));
}

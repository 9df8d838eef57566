//! Queue-depth-1 round trips through the pools, one per delivery
//! mechanism, side by side in one run with the synchronous baseline:
//!
//! * `sync`: no callback; the caller services the op (the floor);
//! * `wait`: queued to a worker, the owner sleeps on `delivered`;
//! * `callback`: queued to a worker, a callback wakes the owner;
//! * `ring`: queued to a worker, completion pushed to a ring the owner reaps.
//!
//! Inline completion is off for the queued variants, so every op crosses to
//! a worker thread and back. RAM disk, 4 KiB reads.
//!
//! Run: `cargo bench -p aio-bench --bench delivery`

use std::hint::black_box;

use aio_core::sync::atomic::{AtomicBool, Ordering};
use aio_core::sync::{Arc, Condvar, Mutex};
use aio_core::{Completion, CompletionRing, Op, OpKind, Target};
use aio_pool::{PoolConfig, PoolSet, SubmitFlags, Submitted};
use blockdev::RamDisk;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

struct Flag {
    done: Mutex<bool>,
    cv: Condvar,
    fast: AtomicBool,
}

fn wake(c: &Completion<'_>) {
    // SAFETY: private is the address of the bench's `Flag`, which outlives
    // every op it is given to.
    let f = unsafe { &*(c.private() as *const Flag) };
    f.fast.store(true, Ordering::Release);
    *f.done.lock() = true;
    f.cv.notify_one();
}

fn delivery(c: &mut Criterion) {
    let target: Arc<dyn Target> = aio_core::into_dyn(RamDisk::new(64 << 20).unwrap());
    let pools = PoolSet::new(PoolConfig::default().inline(false)).unwrap();
    let mut g = c.benchmark_group("qd1_round_trip");
    g.throughput(Throughput::Elements(1));

    let mut op = Some(Op::new(Arc::clone(&target), vec![0; 4096]));
    g.bench_function("sync", |b| {
        b.iter(|| {
            op.get().prepare(OpKind::Read, 8192, 4096).unwrap();
            let Ok(Submitted::Done(back, r)) = pools.submit(Slot::take(&mut op), SubmitFlags::NONE)
            else {
                panic!("sync op queued")
            };
            op.put(back);
            black_box(r)
        })
    });

    // Asynchronous with no notification beyond `delivered`: a callback that
    // does nothing makes the op asynchronous; the owner waits.
    fn nothing(_: &Completion<'_>) {}
    op.get().set_callback(nothing);
    g.bench_function("wait", |b| {
        b.iter(|| {
            let Ok(Submitted::Pending(p)) = pools.submit(Slot::take(&mut op), SubmitFlags::NONE)
            else {
                panic!("not queued")
            };
            let (back, r) = p.wait();
            op.put(back);
            black_box(r)
        })
    });

    let flag = Box::new(Flag {
        done: Mutex::new(false),
        cv: Condvar::new(),
        fast: AtomicBool::new(false),
    });
    op.get().set_callback(wake);
    op.get().set_private(&*flag as *const Flag as usize);
    g.bench_function("callback", |b| {
        b.iter(|| {
            *flag.done.lock() = false;
            flag.fast.store(false, Ordering::Relaxed);
            let Ok(Submitted::Pending(p)) = pools.submit(Slot::take(&mut op), SubmitFlags::NONE)
            else {
                panic!("not queued")
            };
            let mut d = flag.done.lock();
            while !*d {
                d = flag.cv.wait(d);
            }
            drop(d);
            let (back, r) = p.wait();
            op.put(back);
            black_box(r)
        })
    });

    let (ring, mut reaper) = CompletionRing::new(64).unwrap();
    op.get().set_ring(Arc::clone(&ring));
    g.bench_function("ring", |b| {
        b.iter(|| {
            let Ok(Submitted::Pending(p)) = pools.submit(Slot::take(&mut op), SubmitFlags::NONE)
            else {
                panic!("not queued")
            };
            reaper.reap_wait(1, None, |e| {
                black_box(e);
            });
            let (back, r) = p.wait();
            op.put(back);
            black_box(r)
        })
    });
    g.finish();
    pools.shutdown(aio_pool::ShutdownMode::Drain);
}

/// An `Option<Op>` with the moves spelled out.
trait Slot {
    fn take(&mut self) -> Op;
    fn put(&mut self, op: Op);
    fn get(&mut self) -> &mut Op;
}

impl Slot for Option<Op> {
    fn take(&mut self) -> Op {
        Option::take(self).expect("op present")
    }
    fn put(&mut self, op: Op) {
        *self = Some(op);
    }
    fn get(&mut self) -> &mut Op {
        self.as_mut().expect("op present")
    }
}

criterion_group!(benches, delivery);
criterion_main!(benches);

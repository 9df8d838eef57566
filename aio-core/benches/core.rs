//! aio-core benches, each compared side by side with its baseline in one run:
//!
//! * `sync_vs_direct`: an op in synchronous mode (no callback: the caller
//!   services it) against calling the same `Arc<dyn Target>` directly: the
//!   proposal's zero-cost claim (goal: at most 1.05x).
//! * `ring`: completion-ring throughput with one and two producers and one
//!   consumer reaping in batches.
//!
//! Run: `cargo bench -p aio-core --bench core`

use std::hint::black_box;
use std::time::{Duration, Instant};

use aio_core::sync::{Arc, thread};
use aio_core::{Attempt, CompletionRing, CqEntry, MemTarget, Op, OpKind, Target, into_dyn};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn sync_vs_direct(c: &mut Criterion) {
    eprintln!("op record: {} bytes", Op::RECORD_SIZE);
    for bs in [512usize, 4096] {
        let target: Arc<dyn Target> = into_dyn(MemTarget::new(1 << 20));
        let mut g = c.benchmark_group(format!("sync_vs_direct/{bs}"));
        g.throughput(Throughput::Elements(1));
        // Both paths copy into the same buffer (the op's), so buffer
        // placement (4K aliasing in memcpy) cannot favour either.
        let mut op = Op::new(Arc::clone(&target), vec![0u8; bs]);
        let t2 = Arc::clone(&target);
        g.bench_function("direct", |b| {
            let mut off = 0u64;
            b.iter(|| {
                off = (off + bs as u64) & ((1 << 20) - 1);
                match t2.read_at(black_box(&mut op.buf_mut()[..bs]), black_box(off)) {
                    Attempt::Ready(r) => black_box(r),
                    Attempt::Busy => unreachable!(),
                }
            })
        });
        g.bench_function("sync_op", |b| {
            let mut off = 0u64;
            b.iter(|| {
                off = (off + bs as u64) & ((1 << 20) - 1);
                op.prepare(OpKind::Read, black_box(off), bs).unwrap();
                black_box(op.run_sync())
            })
        });
        g.bench_function("sync_op_same_offset", |b| {
            op.prepare(OpKind::Read, 4096, bs).unwrap();
            b.iter(|| black_box(op.run_sync()))
        });
        g.finish();
    }
}

fn ring(c: &mut Criterion) {
    let mut g = c.benchmark_group("ring");
    const N: u64 = 100_000;
    g.throughput(Throughput::Elements(N));
    g.measurement_time(Duration::from_secs(5));
    for producers in [1u64, 2] {
        g.bench_function(format!("producers_{producers}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (ring, mut reaper) = CompletionRing::new(256).unwrap();
                    let per = N / producers;
                    let start = Instant::now();
                    let hs: Vec<_> = (0..producers)
                        .map(|p| {
                            let ring = Arc::clone(&ring);
                            thread::spawn(move || {
                                for i in 0..per {
                                    ring.push(CqEntry {
                                        id: p,
                                        user_data: i,
                                        res: 0,
                                    });
                                }
                            })
                        })
                        .collect();
                    let mut got = 0;
                    while got < per * producers {
                        got += reaper.reap_wait(256, None, |e| {
                            black_box(e);
                        }) as u64;
                    }
                    total += start.elapsed();
                    for h in hs {
                        h.join().unwrap();
                    }
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group!(benches, sync_vs_direct, ring);
criterion_main!(benches);

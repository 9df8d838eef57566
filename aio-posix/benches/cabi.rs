//! The C ABI's inline path per op against the system call it wraps:
//!
//! * `preadv2`: one bare `preadv2(fd, iov, 1, off, 0)` of a page-cached
//!   file (the floor: what any POSIX AIO read of cached data must do);
//! * `aio_read_inline`: `aio_read` of the same range on a zero-filled
//!   aiocb (completed inline by the submitting thread: the page is
//!   cached), then `aio_error` and `aio_return`, as a C program would;
//!   through `aio_posix::ffi`, the functions `libaio_posix.so` exports.
//!
//! The difference is the library's cost per op on its fastest path
//! (issue 16's "inline submission path of the C ABI per op").
//!
//! Run: `cargo bench -p aio-posix --bench cabi`

use std::hint::black_box;
use std::io::Write as _;
use std::os::fd::AsRawFd;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const FILE: usize = 1 << 20;

fn cabi(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("aio-posix-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("data");
    let mut f = std::fs::File::create(&path).expect("create");
    f.write_all(&vec![7u8; FILE]).expect("fill");
    drop(f);
    let file = std::fs::File::open(&path).expect("open");
    let fd = file.as_raw_fd();
    for bs in [512usize, 4096] {
        let mut g = c.benchmark_group(format!("cabi_inline/{bs}"));
        g.throughput(Throughput::Elements(1));
        let mut buf = vec![0u8; bs];
        g.bench_function("preadv2", |b| {
            let mut off = 0usize;
            b.iter(|| {
                off = (off + bs) & (FILE - 1);
                let iov = libc::iovec {
                    iov_base: buf.as_mut_ptr().cast(),
                    iov_len: bs,
                };
                // SAFETY: one iovec over our own buffer.
                let n = unsafe { libc::preadv2(fd, &iov, 1, black_box(off as i64), 0) };
                assert_eq!(n, bs as isize);
            })
        });
        g.bench_function("aio_read_inline", |b| {
            let mut off = 0usize;
            // SAFETY: a zeroed aiocb is a valid starting state.
            let mut cb: libc::aiocb = unsafe { std::mem::zeroed() };
            b.iter(|| {
                off = (off + bs) & (FILE - 1);
                cb.aio_fildes = fd;
                cb.aio_buf = buf.as_mut_ptr().cast();
                cb.aio_nbytes = bs;
                cb.aio_offset = black_box(off as i64);
                // SAFETY: the aiocb and the buffer outlive the op, which
                // is waited for below before either is touched.
                unsafe {
                    assert_eq!(aio_posix::ffi::aio_read(&mut cb), 0);
                    while aio_posix::ffi::aio_error(&cb) == libc::EINPROGRESS {
                        std::hint::spin_loop();
                    }
                    assert_eq!(aio_posix::ffi::aio_return(&mut cb), bs as isize);
                }
            })
        });
        g.finish();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, cabi);
criterion_main!(benches);

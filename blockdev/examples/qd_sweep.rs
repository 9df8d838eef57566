//! Queue-depth sweep: 4 KiB random reads at depths 1, 8, 32 and 128 from
//! one thread, on a RAM disk, a FileDevice (page cache and O_DIRECT) and an
//! NbdDevice (a qemu-nbd serving the same file), with `fio
//! --ioengine=io_uring` on the same file as the baseline.
//!
//! ```text
//! cargo run --release -p blockdev --example qd_sweep -- [FILE] [SECONDS] [SIZE_MIB]
//! ```
//!
//! FILE (default `target/qd_sweep.img`) is created and filled with data if
//! it is missing or too small: reads of a sparse file would never reach the
//! disk. fio and qemu-nbd are used when installed; their rows are skipped
//! otherwise.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aio_core::sync::Arc;
use aio_core::{CompletionRing, Engines, Op, OpKind, Pending, Target, into_dyn};
use blockdev::{AlignedBuf, FileDevice, FileOptions, NbdDevice, RamDisk, UringEngine, XorShift};

const BS: usize = 4096;
const DEPTHS: [usize; 4] = [1, 8, 32, 128];

/// Keeps `qd` random 4 KiB reads in flight on `target` for `secs`, from
/// this one thread, through `engine`. Returns reads per second.
fn run(target: &Arc<dyn Target>, engine: &mut Engines, size: u64, qd: usize, secs: f64) -> f64 {
    let blocks = size / BS as u64;
    let mut rng = XorShift::new(qd as u64 + 1);
    let (ring, mut reaper) = CompletionRing::new(qd.next_power_of_two().max(2) * 2).unwrap();
    let mut bufs: Vec<AlignedBuf> = (0..qd)
        .map(|_| AlignedBuf::new(BS, 4096).unwrap())
        .collect();
    let strategy = target.strategy().expect("a device");
    let mut slots: Vec<Option<Pending>> = Vec::with_capacity(qd);
    let mut ops: Vec<Option<Op>> = Vec::with_capacity(qd);
    for (i, b) in bufs.iter_mut().enumerate() {
        // SAFETY: `bufs` outlives every op: all are drained before return.
        let mut op = unsafe { Op::from_raw_parts(Arc::clone(target), b.as_mut_ptr(), BS) };
        op.set_ring(Arc::clone(&ring));
        op.set_private(i);
        ops.push(Some(op));
        slots.push(None);
    }
    let mut submit = |i: usize, op: Op, engine: &mut Engines, slots: &mut Vec<Option<Pending>>| {
        let mut op = op;
        op.prepare(OpKind::Read, (rng.next_u64() % blocks) * BS as u64, BS)
            .unwrap();
        let (p, q) = op.enqueue();
        slots[i] = Some(p);
        strategy.submit(q.start().unwrap(), engine);
    };
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(secs);
    for (i, op) in ops.iter_mut().enumerate() {
        submit(i, op.take().unwrap(), engine, &mut slots);
    }
    let mut done = 0u64;
    let mut ready = Vec::with_capacity(qd);
    let mut running = true;
    while running || slots.iter().any(Option::is_some) {
        reaper.reap(qd, |c| ready.push((c.user_data as usize, c.res)));
        if ready.is_empty() {
            // One system call on a ring: submit what is queued and wait for
            // a completion; then reap from the ring's memory.
            engine.wait(Some(Duration::from_millis(1))).unwrap();
            engine.poll(qd).unwrap();
            continue;
        }
        running = running && Instant::now() < end;
        for (i, res) in ready.drain(..) {
            assert_eq!(res, BS as i64, "read failed: {res}");
            done += 1;
            let (op, _) = slots[i].take().unwrap().wait();
            if running {
                submit(i, op, engine, &mut slots);
            }
        }
    }
    let t = start.elapsed().as_secs_f64();
    done as f64 / t
}

fn fill(path: &Path, size: u64) {
    if std::fs::metadata(path).is_ok_and(|m| m.len() >= size) {
        return;
    }
    eprintln!("filling {} ({} MiB)...", path.display(), size >> 20);
    let mut f = std::fs::File::create(path).unwrap();
    let mut r = XorShift::new(1);
    let mut chunk = vec![0u8; 1 << 20];
    for _ in 0..size >> 20 {
        for w in chunk.chunks_mut(8) {
            w.copy_from_slice(&r.next_u64().to_le_bytes());
        }
        f.write_all(&chunk).unwrap();
    }
    f.sync_all().unwrap();
}

fn fio(path: &Path, size: u64, qd: usize, direct: bool, secs: f64) -> Option<f64> {
    let out = Command::new("fio")
        .args([
            "--name=qd",
            "--ioengine=io_uring",
            "--rw=randread",
            "--bs=4k",
            "--numjobs=1",
        ])
        .arg(format!("--filename={}", path.display()))
        .arg(format!("--size={size}"))
        .arg(format!("--iodepth={qd}"))
        .arg(format!("--direct={}", u8::from(direct)))
        .arg(format!("--runtime={secs}"))
        .args(["--time_based", "--invalidate=0", "--output-format=json"])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let s = String::from_utf8_lossy(&out.stdout);
    // The first "iops" of the JSON report is jobs[0].read.iops.
    let at = s.find("\"iops\" :")? + "\"iops\" :".len();
    s[at..]
        .trim_start()
        .split(|c: char| c == ',' || c.is_whitespace())
        .next()?
        .parse()
        .ok()
}

fn row(name: &str, v: &[Option<f64>]) {
    print!("{name:<34}");
    for x in v {
        match x {
            Some(x) => print!("{:>12.0}", x),
            None => print!("{:>12}", "-"),
        }
    }
    println!();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = PathBuf::from(
        args.get(1)
            .cloned()
            .unwrap_or_else(|| "target/qd_sweep.img".into()),
    );
    let secs: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let size: u64 = args
        .get(3)
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(1024)
        << 20;
    fill(&path, size);
    // Warm the page cache for the buffered rows.
    let _ = std::fs::read(&path);

    println!("4 KiB random reads per second, one submitting thread, {secs} s per cell");
    print!("{:<34}", "device \\ queue depth");
    for qd in DEPTHS {
        print!("{qd:>12}");
    }
    println!();

    let ram = into_dyn(RamDisk::new(size).unwrap());
    row(
        "RamDisk (BasicEngine)",
        &DEPTHS.map(|qd| Some(run(&ram, &mut Engines::basic(), size, qd, secs))),
    );

    let buffered = into_dyn(FileDevice::open(&path, FileOptions::new()).unwrap());
    row(
        "FileDevice page cache (io_uring)",
        &DEPTHS.map(|qd| {
            Some(run(
                &buffered,
                &mut Engines::from(UringEngine::new(qd as u32).unwrap()),
                size,
                qd,
                secs,
            ))
        }),
    );
    row(
        "fio io_uring page cache",
        &DEPTHS.map(|qd| fio(&path, size, qd, false, secs)),
    );

    let direct = into_dyn(FileDevice::open(&path, FileOptions::new().direct(true)).unwrap());
    row(
        "FileDevice O_DIRECT (io_uring)",
        &DEPTHS.map(|qd| {
            Some(run(
                &direct,
                &mut Engines::from(UringEngine::new(qd as u32).unwrap()),
                size,
                qd,
                secs,
            ))
        }),
    );
    row(
        "fio io_uring O_DIRECT",
        &DEPTHS.map(|qd| fio(&path, size, qd, true, secs)),
    );
    row(
        "FileDevice O_DIRECT (pool, 4 thr)",
        &DEPTHS.map(|qd| Some(run(&direct, &mut Engines::basic(), size, qd, secs))),
    );

    let sock = path.with_extension("sock");
    let _ = std::fs::remove_file(&sock);
    let server = Command::new("qemu-nbd")
        .args([
            "--persistent",
            "--format=raw",
            "--shared=2",
            "--cache=writeback",
            "--export-name=sweep",
            "--read-only",
        ])
        .arg(format!("--socket={}", sock.display()))
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut server) = server else {
        row("NbdDevice (qemu-nbd not found)", &[None; 4]);
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let nbd = loop {
        match NbdDevice::connect_unix(&sock, "sweep") {
            Ok(d) => break Some(d),
            Err(_) if Instant::now() < deadline => {
                aio_core::sync::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => {
                eprintln!("nbd: {e}");
                break None;
            }
        }
    };
    if let Some(nbd) = nbd {
        let nbd = into_dyn(nbd);
        row(
            "NbdDevice unix socket (Basic)",
            &DEPTHS.map(|qd| Some(run(&nbd, &mut Engines::basic(), size, qd, secs))),
        );
    }
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_file(&sock);
}

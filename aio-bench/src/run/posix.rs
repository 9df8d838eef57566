//! `--mode posix`: the path a C program takes, through aio-posix's
//! `aio_read`/`aio_write`/`aio_suspend` on a file's descriptor.

use std::time::{Duration, Instant};

use aio_core::{Error, OpKind};

use super::job::{Gen, JobResult, Shared, pattern_fill};
use crate::args::{Args, DeviceSpec};

/// POSIX mode: `iodepth` aiocbs in flight per job through the aio-posix
/// layer on the file's own descriptor, waiting in `aio_suspend`, as a C
/// program would (the library runs its own pools).
pub(super) fn job_posix(a: &Args, mut workload: Gen, sh: &Shared) -> Result<JobResult, String> {
    use aio_posix::{InProgress, Request};
    use std::os::fd::AsRawFd;
    let DeviceSpec::File { path, direct, .. } = &a.device else {
        return Err("--mode posix needs --device file:PATH".into());
    };
    if *direct {
        return Err("--mode posix reads into unaligned buffers: O_DIRECT is not supported".into());
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| format!("cannot open '{path}': {e}"))?;
    let fd = file.as_raw_fd();
    let mut res = JobResult::new();
    let mut inflight: Vec<(InProgress, Instant)> = Vec::with_capacity(a.iodepth);
    let mut data = vec![0u8; a.bs];
    pattern_fill(&mut data, a.seed);
    loop {
        while inflight.len() < a.iodepth && sh.claim() {
            let (kind, off) = workload.next();
            let req = match kind {
                OpKind::Write => Request::write(fd, off as i64, data.clone()),
                _ => Request::read(fd, off as i64, a.bs),
            };
            let start = Instant::now();
            let sub = match kind {
                OpKind::Write => aio_posix::aio_write(req),
                _ => aio_posix::aio_read(req),
            };
            match sub {
                Ok(p) => inflight.push((p, start)),
                Err(e) => return Err(format!("aio submit: {}", e.error)),
            }
        }
        if inflight.is_empty() {
            break;
        }
        {
            let refs: Vec<&InProgress> = inflight.iter().map(|(p, _)| p).collect();
            match aio_posix::aio_suspend(&refs, Some(Duration::from_secs(30))) {
                Ok(()) => {}
                Err(Error::EINTR) => continue,
                Err(e) => return Err(format!("aio_suspend: {e}")),
            }
        }
        let mut i = 0;
        while i < inflight.len() {
            if inflight[i].0.is_done() {
                let (p, start) = inflight.swap_remove(i);
                match p.try_return() {
                    Ok((_, r)) => res.record(r, start, sh),
                    Err(_) => return Err("a completed op could not be returned".into()),
                }
            } else {
                i += 1;
            }
        }
    }
    Ok(res)
}

//! `--blocked-streams`: stream reads left waiting through the library
//! during a `--mode posix` run, which must cost the file load nothing.

use std::time::Duration;

/// Pipes with an `aio_read` waiting on each (nothing is ever written):
/// `--blocked-streams`. Dropping it closes the write ends, so the reads
/// end (at EOF) and are collected.
pub(super) struct Blocked {
    /// The waiting reads.
    reads: Vec<aio_posix::InProgress>,
    /// Each read's pipe: (read end, write end).
    pipes: Vec<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)>,
}

/// Leaves `n` stream reads waiting, one per new pipe.
pub(super) fn block_streams(n: usize) -> Result<Blocked, String> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let mut b = Blocked {
        reads: Vec::with_capacity(n),
        pipes: Vec::with_capacity(n),
    };
    for _ in 0..n {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for two descriptors.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(format!(
                "--blocked-streams: pipe: {}",
                std::io::Error::last_os_error()
            ));
        }
        // SAFETY: both were just created and are owned by nobody else.
        let pair = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let req = aio_posix::Request::read(pair.0.as_raw_fd(), 0, 64);
        let p = aio_posix::aio_read(req)
            .map_err(|e| format!("--blocked-streams: aio_read: {}", e.error))?;
        b.reads.push(p);
        b.pipes.push(pair);
    }
    Ok(b)
}

impl Drop for Blocked {
    fn drop(&mut self) {
        let still = self.reads.iter().filter(|p| !p.is_done()).count();
        if !self.reads.is_empty() {
            eprintln!(
                "aio-bench: {} blocked stream reads, {still} still waiting at the end",
                self.reads.len()
            );
        }
        // Close the write ends: every read completes at EOF.
        let reads = std::mem::take(&mut self.reads);
        let pipes = std::mem::take(&mut self.pipes);
        let (rs, ws): (Vec<_>, Vec<_>) = pipes.into_iter().unzip();
        drop(ws);
        for p in reads {
            let _ = aio_posix::aio_suspend(&[&p], Some(Duration::from_secs(10)));
            let _ = p.try_return();
        }
        drop(rs);
    }
}

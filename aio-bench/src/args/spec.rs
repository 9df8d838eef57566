//! What a run is: the device, the pattern, the mode, when it stops
//! ([`Args`] and its parts), with the defaults a bare `aio-bench` runs.

use std::fmt;
use std::time::Duration;

/// Where the I/O goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceSpec {
    /// The embedded RAM disk of `size` bytes.
    Ram { size: u64 },
    /// A host file or block device through io_uring.
    File {
        path: String,
        direct: bool,
        size: Option<u64>,
    },
    /// An NBD server on a Unix socket.
    NbdUnix { path: String, export: String },
    /// An NBD server on TCP.
    NbdTcp {
        host: String,
        port: u16,
        export: String,
    },
}

/// The access pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pattern {
    /// Random offsets (else sequential per job).
    pub random: bool,
    /// Percentage of reads, 0..=100.
    pub read_pct: u32,
}

/// How ops are issued and their completions delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The device called directly, without the protocol (the baseline).
    Direct,
    /// aio_ops in synchronous mode: no callback, the caller services it.
    Sync,
    /// Asynchronous through the pools, completion by callback.
    Callback,
    /// Asynchronous through the pools, completion through a ring.
    Ring,
    /// Through the POSIX AIO layer (aio_read/aio_write/aio_suspend) on a
    /// file's descriptor: the path a C program takes.
    Posix,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Direct => "direct",
            Mode::Sync => "sync",
            Mode::Callback => "callback",
            Mode::Ring => "ring",
            Mode::Posix => "posix",
        })
    }
}

/// How `--mode posix` finds completed aiocbs (`--reap`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reap {
    /// `aio_suspend` over the in-flight aiocbs, then `aio_error` and
    /// `aio_return` on each one done: what a portable C program does.
    Suspend,
    /// `aio_waitcomplete` (FreeBSD's, our extension): the next completion,
    /// then the rest with a zero timeout.
    Waitcomplete,
    /// `poll` on the completion descriptor, then `aio_waitcomplete` with a
    /// zero timeout until none is left: an event loop.
    Fd,
}

impl fmt::Display for Reap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reap::Suspend => "suspend",
            Reap::Waitcomplete => "waitcomplete",
            Reap::Fd => "fd",
        })
    }
}

/// When a run stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// After this long.
    Runtime(Duration),
    /// After this many ops in all.
    Ops(u64),
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct Args {
    /// `--device`: where the I/O goes.
    pub device: DeviceSpec,
    /// `--rw`: the access pattern.
    pub pattern: Pattern,
    /// `--bs`: bytes per op.
    pub bs: usize,
    /// `--iodepth`: ops in flight per job.
    pub iodepth: usize,
    /// `--jobs`: submitter threads.
    pub jobs: usize,
    /// `--runtime` or `--ops`.
    pub stop: Stop,
    /// `--seed`: offsets and mix.
    pub seed: u64,
    /// `--mode`: how ops are issued and delivered.
    pub mode: Mode,
    /// `--reap`: how `--mode posix` finds completions.
    pub reap: Reap,
    /// `--pools`: pools per class (0: one per CPU).
    pub pools: usize,
    /// Stream reads left waiting (on empty pipes) through the library
    /// during the run (`--mode posix`): they must cost the file load
    /// nothing.
    pub blocked_streams: usize,
    /// `--inline`: try ops inline on the submitter first.
    pub inline: bool,
    /// `--json`: one JSON object on stdout instead of the summary.
    pub json: bool,
    /// `--plot`: where to write the latency SVG.
    pub plot: Option<String>,
    /// Not `--no-progress`: show a progress bar on a terminal.
    pub progress: bool,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            device: DeviceSpec::Ram { size: 256 << 20 },
            pattern: Pattern {
                random: true,
                read_pct: 100,
            },
            bs: 4096,
            iodepth: 16,
            jobs: 2,
            stop: Stop::Runtime(Duration::from_secs(3)),
            seed: 1,
            mode: Mode::Callback,
            reap: Reap::Suspend,
            pools: 0,
            blocked_streams: 0,
            inline: true,
            json: false,
            plot: None,
            progress: true,
        }
    }
}

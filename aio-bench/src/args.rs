//! Command-line options. Hand-parsed so that every bad option or value is
//! exactly one line on stderr and exit status 2.

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
    pub device: DeviceSpec,
    pub pattern: Pattern,
    pub bs: usize,
    pub iodepth: usize,
    pub jobs: usize,
    pub stop: Stop,
    pub seed: u64,
    pub mode: Mode,
    pub pools: usize,
    /// Stream reads left waiting (on empty pipes) through the library
    /// during the run (`--mode posix`): they must cost the file load
    /// nothing.
    pub blocked_streams: usize,
    pub inline: bool,
    pub json: bool,
    pub plot: Option<String>,
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
            pools: 0,
            blocked_streams: 0,
            inline: true,
            json: false,
            plot: None,
            progress: true,
        }
    }
}

pub const USAGE: &str = "\
usage: aio-bench [options]
  --device ram[:SIZE] | file:PATH[,direct][,size=SIZE] | nbd:unix:PATH[,export=NAME]
           | nbd:tcp:HOST:PORT[,export=NAME]                      (default ram:256m)
  --rw read|write|randread|randwrite|randrw[:READ_PERCENT]        (default randread)
  --bs SIZE            block size (default 4k)
  --iodepth N          ops in flight per job (default 16; direct and sync run at 1)
  --jobs N             submitter threads (default 2)
  --runtime DURATION   e.g. 3s, 500ms, 1m (default 3s)   | --ops N  total ops
  --seed N             offsets and mix (default 1)
  --mode direct|sync|callback|ring|posix                  (default callback;
                       posix needs --device file:PATH)
  --pools N            pools per class (default: one per CPU)
  --blocked-streams N  (posix) N aio_reads left waiting on empty pipes
                       during the run (default 0)
  --inline on|off      try ops inline on the submitter first (default on)
  --json               one JSON object on stdout instead of the summary
  --plot FILE.svg      latency histogram and CDF
  --no-progress        no progress bar
  -h, --help";

/// Parses a size: digits with an optional k/m/g/t suffix (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        None => (s, 1u64),
        Some((i, _)) => {
            let mult = match s[i..].to_ascii_lowercase().as_str() {
                "k" | "kb" | "kib" => 1 << 10,
                "m" | "mb" | "mib" => 1 << 20,
                "g" | "gb" | "gib" => 1 << 30,
                "t" | "tb" | "tib" => 1 << 40,
                "b" => 1,
                _ => return Err(format!("bad size '{s}' (digits with k, m, g or t)")),
            };
            (&s[..i], mult)
        }
    };
    let n: u64 = num.parse().map_err(|_| format!("bad size '{s}'"))?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("size '{s}' is too large"))
}

/// Parses a duration: digits with ms, s, m or h (default s).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let i = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: u64 = s[..i].parse().map_err(|_| format!("bad duration '{s}'"))?;
    let d = match &s[i..] {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" | "min" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        _ => return Err(format!("bad duration '{s}' (use ms, s, m or h)")),
    };
    if d.is_zero() {
        return Err(format!("duration '{s}' must be positive"));
    }
    Ok(d)
}

fn parse_count(opt: &str, s: &str, max: u64) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(n) if n >= 1 && n <= max => Ok(n),
        _ => Err(format!(
            "{opt} wants a whole number from 1 to {max}, not '{s}'"
        )),
    }
}

fn parse_device(s: &str) -> Result<DeviceSpec, String> {
    let bad = || format!("bad --device '{s}' (see --help)");
    if s == "ram" {
        return Ok(DeviceSpec::Ram { size: 256 << 20 });
    }
    if let Some(size) = s.strip_prefix("ram:") {
        let size = parse_size(size)?;
        if size == 0 {
            return Err("the RAM disk needs a size above 0".into());
        }
        return Ok(DeviceSpec::Ram { size });
    }
    if let Some(rest) = s.strip_prefix("file:") {
        let mut parts = rest.split(',');
        let path = parts
            .next()
            .filter(|p| !p.is_empty())
            .ok_or_else(bad)?
            .to_string();
        let (mut direct, mut size) = (false, None);
        for p in parts {
            if p == "direct" {
                direct = true;
            } else if let Some(v) = p.strip_prefix("size=") {
                size = Some(parse_size(v)?);
            } else {
                return Err(format!(
                    "unknown file option '{p}' in --device (direct, size=SIZE)"
                ));
            }
        }
        return Ok(DeviceSpec::File { path, direct, size });
    }
    if let Some(rest) = s.strip_prefix("nbd:") {
        let mut parts = rest.split(',');
        let addr = parts.next().ok_or_else(bad)?;
        let mut export = String::new();
        for p in parts {
            match p.strip_prefix("export=") {
                Some(e) => export = e.to_string(),
                None => {
                    return Err(format!(
                        "unknown nbd option '{p}' in --device (export=NAME)"
                    ));
                }
            }
        }
        if let Some(path) = addr.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(bad());
            }
            return Ok(DeviceSpec::NbdUnix {
                path: path.into(),
                export,
            });
        }
        if let Some(hp) = addr.strip_prefix("tcp:") {
            let (host, port) = hp.rsplit_once(':').ok_or_else(bad)?;
            let port: u16 = port
                .parse()
                .ok()
                .filter(|&p| p > 0)
                .ok_or_else(|| format!("bad port in --device '{s}'"))?;
            if host.is_empty() {
                return Err(bad());
            }
            return Ok(DeviceSpec::NbdTcp {
                host: host.into(),
                port,
                export,
            });
        }
    }
    Err(bad())
}

fn parse_rw(s: &str) -> Result<Pattern, String> {
    let (name, pct) = match s.split_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (s, None),
    };
    let mut p = match name {
        "read" => Pattern {
            random: false,
            read_pct: 100,
        },
        "write" => Pattern {
            random: false,
            read_pct: 0,
        },
        "randread" => Pattern {
            random: true,
            read_pct: 100,
        },
        "randwrite" => Pattern {
            random: true,
            read_pct: 0,
        },
        "randrw" => Pattern {
            random: true,
            read_pct: 50,
        },
        _ => {
            return Err(format!(
                "bad --rw '{s}' (read, write, randread, randwrite, randrw[:PCT])"
            ));
        }
    };
    if let Some(pct) = pct {
        if name != "randrw" {
            return Err(format!(
                "a read percentage only goes with randrw, not '{s}'"
            ));
        }
        p.read_pct = match pct.parse::<u32>() {
            Ok(n) if n <= 100 => n,
            _ => return Err(format!("bad read percentage '{pct}' (0 to 100)")),
        };
    }
    Ok(p)
}

/// What the command line asks for.
pub enum Parsed {
    /// Run with these.
    Run(Box<Args>),
    /// Print usage and exit 0.
    Help,
}

/// Parses the arguments (without the program name).
pub fn parse(argv: &[String]) -> Result<Parsed, String> {
    let mut a = Args::default();
    let mut it = argv.iter();
    let (mut saw_runtime, mut saw_ops) = (false, false);
    while let Some(opt) = it.next() {
        let (name, inline_val) = match opt.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (opt.as_str(), None),
        };
        let takes_value = !matches!(name, "--json" | "--no-progress" | "-h" | "--help");
        let val = if takes_value {
            match inline_val {
                Some(v) => v,
                None => it
                    .next()
                    .cloned()
                    .ok_or_else(|| format!("{name} needs a value"))?,
            }
        } else {
            if inline_val.is_some() {
                return Err(format!("{name} takes no value"));
            }
            String::new()
        };
        match name {
            "-h" | "--help" => return Ok(Parsed::Help),
            "--device" => a.device = parse_device(&val)?,
            "--rw" => a.pattern = parse_rw(&val)?,
            "--bs" => {
                let bs = parse_size(&val)?;
                if bs == 0 || bs > (64 << 20) {
                    return Err(format!("--bs must be from 1 byte to 64m, not '{val}'"));
                }
                a.bs = bs as usize;
            }
            "--iodepth" => a.iodepth = parse_count(name, &val, 4096)? as usize,
            "--jobs" => a.jobs = parse_count(name, &val, 256)? as usize,
            "--runtime" => {
                a.stop = Stop::Runtime(parse_duration(&val)?);
                saw_runtime = true;
            }
            "--ops" => {
                a.stop = Stop::Ops(parse_count(name, &val, u64::MAX)?);
                saw_ops = true;
            }
            "--seed" => a.seed = val.parse().map_err(|_| format!("bad --seed '{val}'"))?,
            "--mode" => {
                a.mode = match val.as_str() {
                    "direct" => Mode::Direct,
                    "sync" => Mode::Sync,
                    "callback" => Mode::Callback,
                    "ring" => Mode::Ring,
                    "posix" => Mode::Posix,
                    _ => {
                        return Err(format!(
                            "bad --mode '{val}' (direct, sync, callback, ring, posix)"
                        ));
                    }
                }
            }
            "--pools" => a.pools = parse_count(name, &val, 64)? as usize,
            "--blocked-streams" => a.blocked_streams = parse_count(name, &val, 100_000)? as usize,
            "--inline" => {
                a.inline = match val.as_str() {
                    "on" => true,
                    "off" => false,
                    _ => return Err(format!("bad --inline '{val}' (on or off)")),
                }
            }
            "--json" => a.json = true,
            "--no-progress" => a.progress = false,
            "--plot" => {
                if !val.ends_with(".svg") {
                    return Err(format!("--plot writes SVG: give a FILE.svg, not '{val}'"));
                }
                a.plot = Some(val);
            }
            _ => return Err(format!("unknown option '{opt}' (see --help)")),
        }
    }
    if saw_runtime && saw_ops {
        return Err("give --runtime or --ops, not both".into());
    }
    if a.blocked_streams > 0 && a.mode != Mode::Posix {
        return Err("--blocked-streams needs --mode posix".into());
    }
    if a.mode == Mode::Posix && !matches!(a.device, DeviceSpec::File { .. }) {
        return Err("--mode posix works on a file's descriptor: use --device file:PATH".into());
    }
    Ok(Parsed::Run(Box::new(a)))
}

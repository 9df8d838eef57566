//! Command-line options, parsed by clap's derive API ([`Cli`]) and checked
//! into an [`Args`]. Every bad option or value is exactly one line on
//! stderr and exit status 2: [`parse`] turns each clap error into one line
//! ([`one_line`]) instead of clap's multi-line usage report, and `--help`
//! prints [`USAGE`].

use std::error::Error as _;
use std::fmt;
use std::time::Duration;

use clap::Parser;
use clap::error::{ContextKind, ContextValue, ErrorKind};

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
            pools: 0,
            blocked_streams: 0,
            inline: true,
            json: false,
            plot: None,
            progress: true,
        }
    }
}

/// What `--help` prints.
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

/// Parses a whole number from 1 to `max` for option `opt`.
fn parse_count(opt: &str, s: &str, max: u64) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(n) if n >= 1 && n <= max => Ok(n),
        _ => Err(format!(
            "{opt} wants a whole number from 1 to {max}, not '{s}'"
        )),
    }
}

/// Parses `--device`.
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

/// Parses `--rw`.
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

/// Parses `--bs`: a size from 1 byte to 64m.
fn parse_bs(s: &str) -> Result<usize, String> {
    let bs = parse_size(s)?;
    if bs == 0 || bs > (64 << 20) {
        return Err(format!("--bs must be from 1 byte to 64m, not '{s}'"));
    }
    Ok(bs as usize)
}

/// Parses `--runtime`.
fn parse_runtime(s: &str) -> Result<Stop, String> {
    parse_duration(s).map(Stop::Runtime)
}

/// Parses `--seed`: any u64.
fn parse_seed(s: &str) -> Result<u64, String> {
    s.parse().map_err(|_| format!("bad --seed '{s}'"))
}

/// Parses `--mode`.
fn parse_mode(s: &str) -> Result<Mode, String> {
    Ok(match s {
        "direct" => Mode::Direct,
        "sync" => Mode::Sync,
        "callback" => Mode::Callback,
        "ring" => Mode::Ring,
        "posix" => Mode::Posix,
        _ => {
            return Err(format!(
                "bad --mode '{s}' (direct, sync, callback, ring, posix)"
            ));
        }
    })
}

/// Parses `--inline`.
fn parse_inline(s: &str) -> Result<bool, String> {
    match s {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("bad --inline '{s}' (on or off)")),
    }
}

/// Parses `--plot`: a file name ending in `.svg`.
fn parse_plot(s: &str) -> Result<String, String> {
    if !s.ends_with(".svg") {
        return Err(format!("--plot writes SVG: give a FILE.svg, not '{s}'"));
    }
    Ok(s.to_string())
}

/// The command line as clap sees it: every option is optional and an
/// absent one keeps [`Args::default`]'s value; [`Cli::into_args`] applies
/// the checks that span options.
///
/// Values may start with `-` (`--jobs -1` is a bad count, not a missing
/// value) and a repeated option's last value wins, as in the hand parser
/// this replaced. The help text is [`USAGE`], kept by hand in fio's style.
#[derive(Debug, Parser)]
#[command(
    name = "aio-bench",
    override_help = USAGE,
    args_override_self = true,
    disable_version_flag = true
)]
pub struct Cli {
    /// `--device`, see [`DeviceSpec`].
    #[arg(long, allow_hyphen_values = true, value_parser = parse_device)]
    device: Option<DeviceSpec>,
    /// `--rw`, see [`Pattern`].
    #[arg(long, allow_hyphen_values = true, value_parser = parse_rw)]
    rw: Option<Pattern>,
    /// `--bs`.
    #[arg(long, allow_hyphen_values = true, value_parser = parse_bs)]
    bs: Option<usize>,
    /// `--iodepth`.
    #[arg(long, allow_hyphen_values = true,
          value_parser = |s: &str| parse_count("--iodepth", s, 4096))]
    iodepth: Option<u64>,
    /// `--jobs`.
    #[arg(long, allow_hyphen_values = true,
          value_parser = |s: &str| parse_count("--jobs", s, 256))]
    jobs: Option<u64>,
    /// `--runtime`.
    #[arg(long, allow_hyphen_values = true, value_parser = parse_runtime)]
    runtime: Option<Stop>,
    /// `--ops`.
    #[arg(long, allow_hyphen_values = true,
          value_parser = |s: &str| parse_count("--ops", s, u64::MAX))]
    ops: Option<u64>,
    /// `--seed`.
    #[arg(long, allow_hyphen_values = true, value_parser = parse_seed)]
    seed: Option<u64>,
    /// `--mode`, see [`Mode`].
    #[arg(long, allow_hyphen_values = true, value_parser = parse_mode)]
    mode: Option<Mode>,
    /// `--pools`.
    #[arg(long, allow_hyphen_values = true,
          value_parser = |s: &str| parse_count("--pools", s, 64))]
    pools: Option<u64>,
    /// `--blocked-streams`.
    #[arg(long, allow_hyphen_values = true,
          value_parser = |s: &str| parse_count("--blocked-streams", s, 100_000))]
    blocked_streams: Option<u64>,
    /// `--inline on|off`.
    #[arg(long, allow_hyphen_values = true, value_parser = parse_inline)]
    inline: Option<bool>,
    /// `--json`.
    #[arg(long)]
    json: bool,
    /// `--plot FILE.svg`.
    #[arg(long, allow_hyphen_values = true, value_parser = parse_plot)]
    plot: Option<String>,
    /// `--no-progress`.
    #[arg(long)]
    no_progress: bool,
}

impl Cli {
    /// Fills [`Args::default`] with the options given and checks the
    /// rules between options.
    pub fn into_args(self) -> Result<Args, String> {
        let d = Args::default();
        let stop = match (self.runtime, self.ops) {
            (Some(_), Some(_)) => return Err("give --runtime or --ops, not both".into()),
            (Some(r), None) => r,
            (None, Some(n)) => Stop::Ops(n),
            (None, None) => d.stop,
        };
        let a = Args {
            device: self.device.unwrap_or(d.device),
            pattern: self.rw.unwrap_or(d.pattern),
            bs: self.bs.unwrap_or(d.bs),
            iodepth: self.iodepth.map_or(d.iodepth, |n| n as usize),
            jobs: self.jobs.map_or(d.jobs, |n| n as usize),
            stop,
            seed: self.seed.unwrap_or(d.seed),
            mode: self.mode.unwrap_or(d.mode),
            pools: self.pools.map_or(d.pools, |n| n as usize),
            blocked_streams: self
                .blocked_streams
                .map_or(d.blocked_streams, |n| n as usize),
            inline: self.inline.unwrap_or(d.inline),
            json: self.json,
            plot: self.plot,
            progress: !self.no_progress,
        };
        if a.blocked_streams > 0 && a.mode != Mode::Posix {
            return Err("--blocked-streams needs --mode posix".into());
        }
        if a.mode == Mode::Posix && !matches!(a.device, DeviceSpec::File { .. }) {
            return Err("--mode posix works on a file's descriptor: use --device file:PATH".into());
        }
        Ok(a)
    }
}

/// What the command line asks for.
pub enum Parsed {
    /// Run with these.
    Run(Box<Args>),
    /// Print usage and exit 0.
    Help,
}

/// Parses the arguments (without the program name). An error is one line
/// without the `aio-bench: ` prefix.
pub fn parse(argv: &[String]) -> Result<Parsed, String> {
    // clap stops reading options at `--`; nothing here takes operands, so
    // it is an unknown option like any other word.
    if let Some(dd) = argv.iter().find(|a| *a == "--") {
        return Err(format!("unknown option '{dd}' (see --help)"));
    }
    let argv = std::iter::once("aio-bench").chain(argv.iter().map(String::as_str));
    match Cli::try_parse_from(argv) {
        Ok(cli) => cli.into_args().map(|a| Parsed::Run(Box::new(a))),
        Err(e) if e.kind() == ErrorKind::DisplayHelp => Ok(Parsed::Help),
        Err(e) => Err(one_line(&e)),
    }
}

/// One line for a clap error: our own parsers' messages as they are, and
/// clap's own errors (unknown option, missing or unexpected value) in the
/// words the hand parser used.
fn one_line(e: &clap::Error) -> String {
    // `--device <DEVICE>` -> `--device`.
    let arg = || match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => s.split(['=', ' ']).next().unwrap_or(s).to_string(),
        _ => String::from("an option"),
    };
    match e.kind() {
        ErrorKind::ValueValidation => match e.source() {
            Some(inner) => inner.to_string(),
            None => first_line(e),
        },
        ErrorKind::UnknownArgument => format!("unknown option '{}' (see --help)", arg()),
        ErrorKind::InvalidValue | ErrorKind::NoEquals => format!("{} needs a value", arg()),
        ErrorKind::TooManyValues => {
            format!("{} takes no value", arg())
        }
        _ => first_line(e),
    }
}

/// The first line of clap's own report, without its `error: ` prefix.
fn first_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let line = text.lines().next().unwrap_or("bad command line");
    line.strip_prefix("error: ").unwrap_or(line).to_string()
}

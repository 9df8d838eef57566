//! The command line: clap's derive API ([`Cli`]) over the value parsers,
//! the rules between options ([`Cli::into_args`]), and [`parse`], which
//! turns each clap error into one line ([`one_line`]) instead of clap's
//! multi-line usage report; `--help` prints [`USAGE`].

use std::error::Error as _;

use clap::Parser;
use clap::error::{ContextKind, ContextValue, ErrorKind};

use super::spec::{Args, DeviceSpec, Mode, Pattern, Reap, Stop};
use super::values::{
    parse_bs, parse_count, parse_device, parse_inline, parse_mode, parse_plot, parse_reap,
    parse_runtime, parse_rw, parse_seed,
};

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
  --reap suspend|waitcomplete|fd
                       (posix) how completions are found: aio_suspend over
                       the in-flight aiocbs, then aio_error/aio_return on
                       each one done (default suspend); aio_waitcomplete;
                       poll on the completion descriptor, then
                       aio_waitcomplete until none is left (these two
                       need --jobs 1)
  --pools N            pools per class (default: one per CPU)
  --blocked-streams N  (posix) N aio_reads left waiting on empty pipes
                       during the run (default 0)
  --inline on|off      try ops inline on the submitter first (default on)
  --json               one JSON object on stdout instead of the summary
  --plot FILE.svg      latency histogram and CDF
  --no-progress        no progress bar
  -h, --help";

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
    /// `--reap`, see [`Reap`].
    #[arg(long, allow_hyphen_values = true, value_parser = parse_reap)]
    reap: Option<Reap>,
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
            reap: self.reap.unwrap_or(d.reap),
            pools: self.pools.map_or(d.pools, |n| n as usize),
            blocked_streams: self
                .blocked_streams
                .map_or(d.blocked_streams, |n| n as usize),
            inline: self.inline.unwrap_or(d.inline),
            json: self.json,
            plot: self.plot,
            progress: !self.no_progress,
        };
        if self.reap.is_some() && a.mode != Mode::Posix {
            return Err("--reap needs --mode posix".into());
        }
        if a.reap != Reap::Suspend && a.blocked_streams > 0 {
            return Err(format!(
                "--reap {} cannot be combined with --blocked-streams (their ops would be reaped too)",
                a.reap
            ));
        }
        if a.reap != Reap::Suspend && a.jobs != 1 {
            return Err(format!(
                "--reap {} needs --jobs 1 (aio_waitcomplete reaps every op of the process)",
                a.reap
            ));
        }
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

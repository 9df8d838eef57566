//! Command-line options: what a run is ([`spec`]), the syntax of each
//! value ([`values`]) and the command line itself ([`cli`], clap's derive
//! API). Every bad option or value is exactly one line on stderr and exit
//! status 2; `--help` prints [`USAGE`].
//!
//! Imports go one way: `cli` uses `values` and `spec`, `values` uses
//! `spec`; this file only re-exports.

mod cli;
mod spec;
mod values;

pub use self::cli::{Parsed, USAGE, parse};
pub use self::spec::{Args, DeviceSpec, Mode, Reap, Stop};

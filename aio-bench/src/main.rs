//! # aio-bench: the load generator
//!
//! The project's main job: fio-like workloads through every delivery mode
//! of the stack (the device called directly as the baseline, synchronous
//! ops, callbacks, completion rings), with latency percentiles, CPU time
//! per op and the pools' counters. With no flags it runs a short random
//! read load on the embedded RAM disk. `--help` lists the options; a bad
//! option or value is a one-line error and exit status 2.
//!
//! **Modes** (`--mode`): `direct` (the device called directly: the
//! baseline), `sync` (ops the caller services), `callback` and `ring`
//! (through the pools, completion by callback or on a completion ring),
//! and `posix`: the C ABI's functions (`aio_posix::ffi`) on a file's
//! descriptor with preallocated aiocbs and aligned buffers, nothing
//! allocated per request; `--reap suspend` (the only choice so far)
//! finds its completions with `aio_suspend` then `aio_error`/`aio_return`.
//!
//! **Layering.** Sits on top of aio-core, blockdev, aio-pool and aio-posix; nothing
//! depends on it.
//!
//! **Layout.** [`args`] reads the command line (clap) into an
//! [`args::Args`]; [`run`] runs it, one file per mode, and returns a
//! [`run::Outcome`]; [`report`] prints that as text, JSON or SVG. Imports
//! go one way: this file uses all three, `report` uses `args` and `run`,
//! `run` uses `args`, `args` uses none of them.

mod args;
mod report;
mod run;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use args::{Parsed, Stop};

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let a = match args::parse(&argv) {
        Ok(Parsed::Run(a)) => a,
        Ok(Parsed::Help) => {
            println!("{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("aio-bench: {e}");
            return ExitCode::from(2);
        }
    };

    // A progress bar for runs longer than a second or two, on a terminal.
    let show = a.progress && !a.json && std::io::stderr().is_terminal();
    let bar = match a.stop {
        Stop::Runtime(d) if show && d > Duration::from_millis(1500) => {
            let pb = indicatif::ProgressBar::new(d.as_millis() as u64);
            pb.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {elapsed}/{duration} {msg}")
                    .expect("valid template"),
            );
            Some((pb, true))
        }
        Stop::Ops(n) if show => {
            let pb = indicatif::ProgressBar::new(n);
            pb.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} ops {msg}")
                    .expect("valid template"),
            );
            pb.set_draw_target(indicatif::ProgressDrawTarget::hidden());
            Some((pb, false))
        }
        _ => None,
    };
    let progress = |done: u64, elapsed: Duration| {
        if let Some((pb, by_time)) = &bar {
            if *by_time {
                pb.set_position(elapsed.as_millis() as u64);
            } else {
                if elapsed > Duration::from_millis(1500) && pb.is_hidden() {
                    pb.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                }
                pb.set_position(done);
            }
            let iops = done as f64 / elapsed.as_secs_f64().max(1e-9);
            pb.set_message(format!("{:.0} IOPS", iops));
        }
    };
    let out = run::run(&a, progress);
    if let Some((pb, _)) = &bar {
        pb.finish_and_clear();
    }
    let o = match out {
        Ok(o) => o,
        Err(e) => {
            eprintln!("aio-bench: {e}");
            return ExitCode::from(1);
        }
    };
    if let Some(path) = &a.plot
        && let Err(e) = std::fs::write(path, report::svg(&a, &o))
    {
        eprintln!("aio-bench: cannot write '{path}': {e}");
        return ExitCode::from(1);
    }
    if a.json {
        println!("{}", report::json(&a, &o));
    } else {
        print!("{}", report::text(&a, &o));
    }
    if o.errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

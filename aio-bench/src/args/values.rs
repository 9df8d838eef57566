//! The syntax of each option's value (sizes, durations, device specs,
//! patterns, modes), each bad value one line naming what is wanted. clap
//! calls these as value parsers ([`super::cli::Cli`]).

use std::time::Duration;

use super::spec::{DeviceSpec, Mode, Pattern, Reap, Stop};

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
pub(super) fn parse_count(opt: &str, s: &str, max: u64) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(n) if n >= 1 && n <= max => Ok(n),
        _ => Err(format!(
            "{opt} wants a whole number from 1 to {max}, not '{s}'"
        )),
    }
}

/// Parses `--device`.
pub(super) fn parse_device(s: &str) -> Result<DeviceSpec, String> {
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
pub(super) fn parse_rw(s: &str) -> Result<Pattern, String> {
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
pub(super) fn parse_bs(s: &str) -> Result<usize, String> {
    let bs = parse_size(s)?;
    if bs == 0 || bs > (64 << 20) {
        return Err(format!("--bs must be from 1 byte to 64m, not '{s}'"));
    }
    Ok(bs as usize)
}

/// Parses `--runtime`.
pub(super) fn parse_runtime(s: &str) -> Result<Stop, String> {
    parse_duration(s).map(Stop::Runtime)
}

/// Parses `--seed`: any u64.
pub(super) fn parse_seed(s: &str) -> Result<u64, String> {
    s.parse().map_err(|_| format!("bad --seed '{s}'"))
}

/// Parses `--mode`.
pub(super) fn parse_mode(s: &str) -> Result<Mode, String> {
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

/// Parses `--reap`.
pub(super) fn parse_reap(s: &str) -> Result<Reap, String> {
    match s {
        "suspend" => Ok(Reap::Suspend),
        "waitcomplete" => Ok(Reap::Waitcomplete),
        "fd" => Ok(Reap::Fd),
        _ => Err(format!("bad --reap '{s}' (suspend|waitcomplete|fd)")),
    }
}

/// Parses `--inline`.
pub(super) fn parse_inline(s: &str) -> Result<bool, String> {
    match s {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("bad --inline '{s}' (on or off)")),
    }
}

/// Parses `--plot`: a file name ending in `.svg`.
pub(super) fn parse_plot(s: &str) -> Result<String, String> {
    if !s.ends_with(".svg") {
        return Err(format!("--plot writes SVG: give a FILE.svg, not '{s}'"));
    }
    Ok(s.to_string())
}

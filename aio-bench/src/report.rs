//! The summary: text for people, JSON for machines, SVG for a picture.

use std::fmt::Write as _;
use std::time::Duration;

use crate::args::Args;
use crate::run::Outcome;

const PCTS: [(f64, &str); 5] = [
    (50.0, "p50"),
    (90.0, "p90"),
    (99.0, "p99"),
    (99.9, "p99.9"),
    (100.0, "max"),
];

fn fmt_ns(ns: u64) -> String {
    match ns {
        0..=9_999 => format!("{ns}ns"),
        10_000..=9_999_999 => format!("{:.1}us", ns as f64 / 1e3),
        _ => format!("{:.2}ms", ns as f64 / 1e6),
    }
}

fn per_sec(n: u64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s > 0.0 { n as f64 / s } else { 0.0 }
}

/// The human-readable summary.
pub fn text(a: &Args, o: &Outcome) -> String {
    let mut s = String::new();
    let iops = per_sec(o.ops, o.elapsed);
    let mbs = per_sec(o.bytes, o.elapsed) / 1e6;
    let _ = writeln!(
        s,
        "aio-bench: {} ({} bytes), rw={}{} bs={} iodepth={} jobs={} mode={} inline={}",
        o.device,
        o.capacity,
        if a.pattern.random { "rand" } else { "seq" },
        match a.pattern.read_pct {
            100 => "read".to_string(),
            0 => "write".to_string(),
            p => format!("rw:{p}"),
        },
        a.bs,
        if matches!(a.mode, crate::args::Mode::Direct | crate::args::Mode::Sync) {
            1
        } else {
            a.iodepth
        },
        a.jobs,
        a.mode,
        if a.inline { "on" } else { "off" },
    );
    let _ = writeln!(
        s,
        "  ops {}  errors {}  in {:.3}s  ->  {:.0} IOPS, {:.1} MB/s",
        o.ops,
        o.errors,
        o.elapsed.as_secs_f64(),
        iops,
        mbs
    );
    if let Some(e) = o.first_error {
        let _ = writeln!(s, "  first error: {e}");
    }
    let mut lat = String::from("  latency");
    for (p, name) in PCTS {
        let v = if p >= 100.0 {
            o.hist.max()
        } else {
            o.hist.value_at_percentile(p)
        };
        let _ = write!(lat, "  {name} {}", fmt_ns(v));
    }
    let _ = writeln!(s, "{lat}");
    let cpu_per_op = if o.ops > 0 {
        o.cpu.as_nanos() as f64 / o.ops as f64
    } else {
        0.0
    };
    let _ = writeln!(
        s,
        "  cpu {:.3}s ({:.0}ns per op)",
        o.cpu.as_secs_f64(),
        cpu_per_op
    );
    s.push_str(&aio_pool::stats_table(&o.pools));
    s
}

/// The summary as one JSON object.
pub fn json(a: &Args, o: &Outcome) -> String {
    let pct = |p: f64| {
        if p >= 100.0 {
            o.hist.max()
        } else {
            o.hist.value_at_percentile(p)
        }
    };
    let pools: Vec<_> = o
        .pools
        .iter()
        .map(|p| {
            serde_json::json!({
                "class": format!("{:?}", p.class).to_lowercase(), "index": p.index, "cpu": p.cpu,
                "pinned": p.pinned, "submitted": p.submitted, "completed": p.completed,
                "inline": p.inline, "stolen_in": p.stolen_in, "stolen_out": p.stolen_out,
                "in_flight_hwm": p.in_flight_hwm, "queue_hwm": p.queue_hwm, "sleeps": p.sleeps,
                "wakeups": p.wakeups, "spurious_wakeups": p.spurious_wakeups, "panics": p.panics,
                "cancelled": p.cancelled, "rejected": p.rejected,
            })
        })
        .collect();
    let v = serde_json::json!({
        "device": o.device, "capacity": o.capacity,
        "random": a.pattern.random, "read_pct": a.pattern.read_pct, "bs": a.bs,
        "iodepth": a.iodepth, "jobs": a.jobs, "mode": a.mode.to_string(), "reap": a.reap.to_string(), "inline": a.inline,
        "seed": a.seed,
        "ops": o.ops, "errors": o.errors,
        "first_error": o.first_error.map(|e| e.to_string()),
        "bytes": o.bytes, "elapsed_s": o.elapsed.as_secs_f64(),
        "iops": per_sec(o.ops, o.elapsed), "mb_per_s": per_sec(o.bytes, o.elapsed) / 1e6,
        "cpu_s": o.cpu.as_secs_f64(),
        "cpu_ns_per_op": if o.ops > 0 { o.cpu.as_nanos() as f64 / o.ops as f64 } else { 0.0 },
        "latency_ns": {
            "p50": pct(50.0), "p90": pct(90.0), "p99": pct(99.0), "p99.9": pct(99.9),
            "max": o.hist.max(), "mean": o.hist.mean(),
        },
        "pools": pools,
    });
    v.to_string()
}

/// An SVG with the latency histogram (log-spaced bins, bars) and its CDF
/// (a line), drawn by hand: no font or plotting library needed.
pub fn svg(a: &Args, o: &Outcome) -> String {
    const W: f64 = 800.0;
    const H: f64 = 420.0;
    const L: f64 = 70.0;
    const R: f64 = 60.0;
    const T: f64 = 40.0;
    const B: f64 = 60.0;
    let (pw, ph) = (W - L - R, H - T - B);
    let lo = (o.hist.min().max(1) as f64).log10().floor();
    let hi = ((o.hist.max().max(2)) as f64).log10().ceil().max(lo + 1.0);
    const BINS: usize = 60;
    let mut counts = [0u64; BINS];
    for v in o.hist.iter_recorded() {
        let x = (v.value_iterated_to().max(1) as f64).log10();
        let b = (((x - lo) / (hi - lo)) * BINS as f64)
            .floor()
            .clamp(0.0, (BINS - 1) as f64) as usize;
        counts[b] += v.count_at_value();
    }
    let maxc = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let total = counts.iter().sum::<u64>().max(1) as f64;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">aio-bench latency: {} mode={} bs={} iodepth={} jobs={} ({} ops)</text>"#,
        W / 2.0,
        o.device,
        a.mode,
        a.bs,
        a.iodepth,
        a.jobs,
        o.ops
    );
    let bw = pw / BINS as f64;
    for (i, &c) in counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let h = ph * c as f64 / maxc;
        let _ = writeln!(
            s,
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#7aa6d6"/>"##,
            L + i as f64 * bw,
            T + ph - h,
            (bw - 1.0).max(0.5),
            h
        );
    }
    let mut acc = 0u64;
    let mut pts = String::new();
    for (i, &c) in counts.iter().enumerate() {
        acc += c;
        let _ = write!(
            pts,
            "{:.1},{:.1} ",
            L + (i as f64 + 1.0) * bw,
            T + ph - ph * acc as f64 / total
        );
    }
    let _ = writeln!(
        s,
        r##"<polyline points="{pts}" fill="none" stroke="#c0392b" stroke-width="2"/>"##
    );
    // Axes and labels.
    let _ = writeln!(
        s,
        r#"<path d="M{L},{T} V{} H{}" fill="none" stroke="black"/>"#,
        T + ph,
        L + pw
    );
    let decades = (hi - lo) as i32;
    for d in 0..=decades {
        let x = L + pw * d as f64 / decades as f64;
        let ns = 10f64.powf(lo + d as f64) as u64;
        let _ = writeln!(
            s,
            r#"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{}" stroke="black"/><text x="{x:.1}" y="{}" text-anchor="middle">{}</text>"#,
            T + ph,
            T + ph + 5.0,
            T + ph + 20.0,
            fmt_ns(ns)
        );
    }
    for q in [0.0, 0.5, 1.0] {
        let y = T + ph - ph * q;
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{:.1}" fill="#c0392b">{:.0}%</text>"##,
            L + pw + 6.0,
            y + 4.0,
            q * 100.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">completion latency (log scale)</text>"#,
        L + pw / 2.0,
        H - 15.0
    );
    let _ = writeln!(
        s,
        r##"<text x="16" y="{}" transform="rotate(-90 16 {})" text-anchor="middle" fill="#3b6ea5">ops per bin (bars); CDF (line, right)</text>"##,
        T + ph / 2.0,
        T + ph / 2.0
    );
    s.push_str("</svg>\n");
    s
}

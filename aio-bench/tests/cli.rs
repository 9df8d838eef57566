//! aio-bench's command line: every option, good and bad values.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bench(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aio-bench"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("aio-bench starts");
    // Every run here is short; a hang fails the test instead of the suite.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("aio-bench {args:?} did not finish in 60s");
        }
        aio_core::sync::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn ok(args: &[&str]) -> String {
    let o = bench(args);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "aio-bench {args:?} failed: {}\n{out}{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

fn json(args: &[&str]) -> serde_json::Value {
    let mut a = args.to_vec();
    a.push("--json");
    serde_json::from_str(ok(&a).trim()).expect("one JSON object")
}

fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&d).unwrap();
    d.join(format!("{}-{name}", std::process::id()))
}

#[test]
fn no_flags_runs_a_short_ram_disk_load() {
    let start = Instant::now();
    let out = ok(&[]);
    assert!(out.contains("aio-bench: ram"), "{out}");
    assert!(
        out.contains("IOPS") && out.contains("p99.9") && out.contains("ns per op"),
        "{out}"
    );
    assert!(
        out.contains("read   0"),
        "per-pool counters missing:\n{out}"
    );
    assert!(start.elapsed() < Duration::from_secs(30));
}

#[test]
fn every_mode_completes_the_requested_ops() {
    for mode in ["direct", "sync", "callback", "ring"] {
        let v = json(&[
            "--mode",
            mode,
            "--ops",
            "3000",
            "--jobs",
            "2",
            "--iodepth",
            "8",
        ]);
        assert_eq!(v["ops"], 3000, "{mode}: {v}");
        assert_eq!(v["errors"], 0, "{mode}: {v}");
        assert_eq!(v["mode"], mode);
        assert_eq!(v["bytes"], 3000 * 4096, "{mode}");
        let pools = v["pools"].as_array().unwrap();
        assert_eq!(
            pools.is_empty(),
            mode == "direct",
            "{mode}: pools {pools:?}"
        );
    }
}

#[test]
fn rw_patterns_bs_seed_and_inline() {
    let v = json(&[
        "--rw",
        "randrw:30",
        "--ops",
        "4000",
        "--bs",
        "512",
        "--seed",
        "9",
        "--inline",
        "off",
    ]);
    assert_eq!(v["read_pct"], 30);
    assert_eq!(v["bs"], 512);
    assert_eq!(v["inline"], false);
    assert_eq!(v["ops"], 4000);
    // With inline off, nothing completes inline.
    let inline: u64 = v["pools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["inline"].as_u64().unwrap())
        .sum();
    assert_eq!(inline, 0, "{v}");
    for rw in ["read", "write", "randread", "randwrite", "randrw"] {
        let v = json(&["--rw", rw, "--ops", "500"]);
        assert_eq!(v["ops"], 500, "{rw}");
        assert_eq!(v["random"], rw.starts_with("rand"), "{rw}");
    }
    let v = json(&["--pools", "1", "--ops", "500", "--device", "ram:1m"]);
    assert_eq!(v["capacity"], 1 << 20);
    let read_pools = v["pools"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["class"] == "read")
        .count();
    assert_eq!(read_pools, 1);
}

#[test]
fn runtime_bounds_the_run() {
    let start = Instant::now();
    let v = json(&["--runtime", "300ms"]);
    assert!(v["ops"].as_u64().unwrap() > 0);
    assert!(v["elapsed_s"].as_f64().unwrap() >= 0.3);
    assert!(start.elapsed() < Duration::from_secs(20));
}

#[test]
fn file_device_buffered_and_direct() {
    let f = tmp("bench-file");
    let spec = format!("file:{},size=8m", f.display());
    let v = json(&[
        "--device",
        &spec,
        "--rw",
        "randwrite",
        "--ops",
        "2000",
        "--iodepth",
        "16",
    ]);
    assert_eq!(v["errors"], 0, "{v}");
    assert_eq!(std::fs::metadata(&f).unwrap().len(), 8 << 20);
    let direct = format!("file:{},direct", f.display());
    let o = bench(&["--device", &direct, "--ops", "2000", "--json"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    if o.status.success() {
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["errors"], 0, "{v}");
    } else {
        // Only a file system without O_DIRECT (tmpfs) may refuse it, and
        // then with a clear one-line reason.
        assert!(
            stderr.contains("EINVAL") || stderr.contains("Invalid argument"),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    let _ = std::fs::remove_file(&f);
}

#[test]
fn posix_mode_goes_through_the_aio_layer() {
    let f = tmp("bench-posix");
    std::fs::write(&f, vec![7u8; 4 << 20]).unwrap();
    let spec = format!("file:{}", f.display());
    for rw in ["randread", "randwrite", "randrw"] {
        let v = json(&[
            "--device",
            &spec,
            "--mode",
            "posix",
            "--rw",
            rw,
            "--ops",
            "3000",
            "--iodepth",
            "16",
        ]);
        assert_eq!(v["ops"], 3000, "{rw}: {v}");
        assert_eq!(v["errors"], 0, "{rw}: {v}");
        assert_eq!(v["mode"], "posix");
        assert_eq!(v["bytes"], 3000 * 4096, "{rw}");
    }
    let _ = std::fs::remove_file(&f);
}

/// Each `--reap` mode, buffered and with O_DIRECT (the aiocbs' buffers
/// are aligned), completes exactly the ops asked for, one job and two
/// (`waitcomplete` and `fd` reap every op of the process: one job).
#[test]
fn posix_mode_each_reap_mode_completes_the_requested_ops() {
    let f = tmp("bench-posix-reap");
    std::fs::write(&f, vec![7u8; 4 << 20]).unwrap();
    for reap in ["suspend", "waitcomplete", "fd"] {
        for spec in [
            format!("file:{}", f.display()),
            format!("file:{},direct", f.display()),
        ] {
            for (jobs, depth) in [("1", "32"), ("2", "8"), ("1", "1")] {
                if reap != "suspend" && jobs != "1" {
                    continue;
                }
                let v = json(&[
                    "--device",
                    &spec,
                    "--mode",
                    "posix",
                    "--reap",
                    reap,
                    "--rw",
                    "randrw:70",
                    "--ops",
                    "2500",
                    "--jobs",
                    jobs,
                    "--iodepth",
                    depth,
                ]);
                let what = format!("{reap} {spec} jobs {jobs} depth {depth}: {v}");
                assert_eq!(v["ops"], 2500, "{what}");
                assert_eq!(v["errors"], 0, "{what}");
                assert_eq!(v["bytes"], 2500 * 4096, "{what}");
                assert_eq!(v["reap"], reap, "{what}");
            }
        }
    }
    let _ = std::fs::remove_file(&f);
}

#[test]
fn plot_writes_an_svg() {
    let f = tmp("lat.svg");
    let p = f.to_str().unwrap();
    ok(&["--ops", "2000", "--plot", p]);
    let svg = std::fs::read_to_string(&f).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("<polyline") && svg.trim_end().ends_with("</svg>")
    );
    let _ = std::fs::remove_file(&f);
}

#[test]
fn help_exits_zero() {
    let o = bench(&["--help"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("--device"));
}

#[test]
fn bad_options_are_one_line_and_exit_2() {
    let cases: &[&[&str]] = &[
        &["--bogus"],
        &["--device"],
        &["--device", "floppy"],
        &["--device", "ram:0"],
        &["--device", "ram:12q"],
        &["--device", "file:"],
        &["--device", "file:/x,turbo"],
        &["--device", "nbd:tcp:localhost:0"],
        &["--device", "nbd:udp:x"],
        &["--rw", "sideways"],
        &["--rw", "randrw:101"],
        &["--rw", "read:50"],
        &["--bs", "0"],
        &["--bs", "1g"],
        &["--iodepth", "0"],
        &["--iodepth", "x"],
        &["--jobs", "-1"],
        &["--runtime", "0s"],
        &["--runtime", "3 parsecs"],
        &["--ops", "0"],
        &["--runtime", "1s", "--ops", "5"],
        &["--seed", "abc"],
        &["--mode", "turbo"],
        &["--mode", "posix"],
        &["--mode", "posix", "--device", "ram:1m"],
        &["--mode", "posix", "--device", "file:/x", "--reap", "poll"],
        &["--mode", "posix", "--device", "file:/x", "--reap", ""],
        &["--reap", "suspend"],
        &["--mode", "ring", "--reap", "suspend"],
        &["--mode", "posix", "--device", "file:/x", "--reap"],
        &["--mode", "posix", "--device", "file:/x", "--reap", "fd"],
        &[
            "--mode",
            "posix",
            "--device",
            "file:/x",
            "--reap",
            "waitcomplete",
            "--jobs",
            "2",
        ],
        &[
            "--mode",
            "posix",
            "--device",
            "file:/x",
            "--reap",
            "waitcomplete",
            "--jobs",
            "1",
            "--blocked-streams",
            "1",
        ],
        &["--pools", "0"],
        &["--inline", "maybe"],
        &["--plot", "out.png"],
        &["--json=yes"],
        // Cases clap, not our value parsers, reports: each still one line.
        &["foo"],
        &["--"],
        &["-x"],
        &["--iodepth"],
        &["--help=x"],
        &["--no-progress=1"],
        &["--jobs=-1"],
        &["--ops", "18446744073709551616"],
    ];
    for args in cases {
        let o = bench(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?} should be one line: {err}");
        assert!(err.starts_with("aio-bench: "), "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn clap_errors_read_like_the_hand_parser() {
    for (args, msg) in [
        (
            &["--bogus", "1"][..],
            "aio-bench: unknown option '--bogus' (see --help)",
        ),
        (&["--device"][..], "aio-bench: --device needs a value"),
        (&["--json=yes"][..], "aio-bench: --json takes no value"),
        (
            &["--jobs", "-1"][..],
            "aio-bench: --jobs wants a whole number from 1 to 256, not '-1'",
        ),
    ] {
        let o = bench(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&o.stderr).trim_end(),
            msg,
            "{args:?}"
        );
    }
}

#[test]
fn a_repeated_option_takes_its_last_value() {
    let v = json(&["--ops", "100", "--ops", "300", "--bs", "1k", "--bs=2k"]);
    assert_eq!(v["ops"], 300, "{v}");
    assert_eq!(v["bs"], 2048, "{v}");
}

#[test]
fn unusable_devices_fail_with_a_clear_error() {
    for (args, what) in [
        (vec!["--device", "file:/nonexistent/dir/f"], "cannot open"),
        (
            vec!["--device", "nbd:unix:/nonexistent.sock"],
            "cannot connect",
        ),
        (
            vec!["--device", "ram:1k", "--bs", "4k"],
            "smaller than one block",
        ),
    ] {
        let o = bench(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(what), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
}

/// A real qemu-nbd serving a raw image on a Unix socket.
#[test]
fn nbd_device_against_qemu_nbd() {
    if Command::new("qemu-nbd").arg("--version").output().is_err() {
        panic!("qemu-nbd is not installed: .ci/run installs qemu-utils");
    }
    let img = tmp("nbd.img");
    let sock = tmp("nbd.sock");
    std::fs::write(&img, vec![0u8; 4 << 20]).unwrap();
    let mut server = Command::new("qemu-nbd")
        .args([
            "--persistent",
            "--shared=8",
            "--format=raw",
            "--export-name=bench",
        ])
        .arg(format!("--socket={}", sock.display()))
        .arg(&img)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sock.exists() {
        assert!(
            Instant::now() < deadline,
            "qemu-nbd never created its socket"
        );
        aio_core::sync::thread::sleep(Duration::from_millis(20));
    }
    let spec = format!("nbd:unix:{},export=bench", sock.display());
    let r = std::panic::catch_unwind(|| {
        json(&[
            "--device",
            &spec,
            "--rw",
            "randrw",
            "--ops",
            "2000",
            "--iodepth",
            "16",
            "--jobs",
            "1",
        ])
    });
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_file(&img);
    let _ = std::fs::remove_file(&sock);
    let v = r.expect("the nbd run succeeded");
    assert_eq!(v["ops"], 2000, "{v}");
    assert_eq!(v["errors"], 0, "{v}");
}

//! The differential oracle: every conformance program in `tests/c/conform/`
//! runs twice, on glibc's POSIX AIO and on `libaio_posix.so` (preloaded
//! into the same glibc-only binary), and what each clause printed is
//! compared. The two must agree on every clause except the rows of the
//! differences table in `aio-posix/README.md` (between the
//! `differences:begin` and `differences:end` markers): a difference not in
//! the table fails, and so does a table row that no longer differs.
//!
//! Each program covers one POSIX page; each output line is one clause
//! (`function/clause: outcome`), so `cargo test --test differential --
//! --nocapture` prints the per-clause table, glibc beside ours.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

const T: Duration = Duration::from_secs(120);

fn conform_dir() -> PathBuf {
    c_dir().join("conform")
}

/// Compiles `conform/<name>.c` against glibc only (`-lrt`).
fn compile_conform(name: &str) -> PathBuf {
    let out = scratch("conform-bin").join(name);
    let mut cmd = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()));
    cmd.args([
        "-std=gnu11",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-O1",
        "-g",
        "-pthread",
    ])
    .arg("-I")
    .arg(conform_dir())
    .arg("-o")
    .arg(&out)
    .arg(conform_dir().join(format!("{name}.c")))
    .arg("-lrt");
    let o = cmd.output().expect("running cc");
    assert!(
        o.status.success(),
        "cc conform/{name}.c failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// Runs `exe`, on glibc (`preload` false) or on our library; returns the
/// clause lines as a map.
fn run(exe: &Path, preload: bool) -> BTreeMap<String, String> {
    let name = exe.file_name().unwrap().to_string_lossy().into_owned();
    let dir = scratch("conform-run");
    let mut cmd = Command::new(exe);
    cmd.current_dir(&dir);
    let trace = trace_file(&format!("conform-{name}"));
    if preload {
        cmd.env("LD_PRELOAD", lib_path())
            .env("AIO_POSIX_TRACE", &trace);
    }
    let o = run_with_timeout(cmd, T);
    let which = if preload { "ours" } else { "glibc" };
    assert_ok(&format!("conform/{name} on {which}"), &o);
    if preload {
        let text = std::fs::read_to_string(&trace).unwrap_or_default();
        assert!(
            text.contains(" first "),
            "conform/{name}: libaio_posix.so did not serve the program (trace: {text:?})"
        );
    }
    let mut m = BTreeMap::new();
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        if let Some((k, v)) = line.split_once(": ") {
            let prev = m.insert(k.to_string(), v.to_string());
            assert!(prev.is_none(), "conform/{name}: clause {k} printed twice");
        }
    }
    assert!(!m.is_empty(), "conform/{name} printed no clause");
    m
}

/// The clauses listed in the README's differences table.
fn table() -> BTreeSet<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let begin = readme
        .find("<!-- differences:begin -->")
        .expect("README.md: differences:begin marker");
    let end = readme
        .find("<!-- differences:end -->")
        .expect("README.md: differences:end marker");
    readme[begin..end]
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`').map(|(k, _)| k.to_string()))
        .collect()
}

/// Runs one program both ways and checks its clauses against the table.
fn differential(name: &str, prefixes: &[&str]) {
    let exe = compile_conform(name);
    let glibc = run(&exe, false);
    let ours = run(&exe, true);
    let listed: BTreeSet<String> = table()
        .into_iter()
        .filter(|k| prefixes.iter().any(|p| k.starts_with(p)))
        .collect();
    let mut problems = Vec::new();
    println!("clause | glibc | ours");
    for k in glibc.keys().chain(ours.keys()).collect::<BTreeSet<_>>() {
        let (g, o) = (glibc.get(k), ours.get(k));
        let same = g == o;
        let mark = if same { "" } else { "   <- differs" };
        println!(
            "{k} | {} | {}{mark}",
            g.map_or("(missing)", String::as_str),
            o.map_or("(missing)", String::as_str)
        );
        match (same, listed.contains(k)) {
            (false, false) => problems.push(format!(
                "{k}: glibc {g:?}, ours {o:?}: not in README.md's differences table"
            )),
            (true, true) => problems.push(format!(
                "{k}: listed in README.md's differences table but both say {g:?}"
            )),
            _ => {}
        }
    }
    for k in &listed {
        if !glibc.contains_key(k) && !ours.contains_key(k) {
            problems.push(format!("{k}: listed in the table but no program prints it"));
        }
    }
    assert!(
        problems.is_empty(),
        "conform/{name}:\n{}",
        problems.join("\n")
    );
}

#[test]
fn aio_read_clauses() {
    differential("aio_read", &["aio_read/"]);
}

#[test]
fn aio_write_clauses() {
    differential("aio_write", &["aio_write/"]);
}

#[test]
fn aio_fsync_clauses() {
    differential("aio_fsync", &["aio_fsync/"]);
}

#[test]
fn aio_error_and_aio_return_clauses() {
    differential("aio_error_return", &["aio_error/", "aio_return/"]);
}

#[test]
fn aio_suspend_clauses() {
    differential("aio_suspend", &["aio_suspend/"]);
}

#[test]
fn aio_cancel_clauses() {
    differential("aio_cancel", &["aio_cancel/"]);
}

#[test]
fn lio_listio_clauses() {
    differential("lio_listio", &["lio_listio/"]);
}

#[test]
fn threads_and_signals_around_submission() {
    differential("threads", &["cancel/", "signal/"]);
}

#[test]
fn streams_that_block_beside_files() {
    differential("streams", &["stream/"]);
}

#[test]
fn numbers_the_library_reused_for_itself() {
    differential("library_fds", &["fds/"]);
}

#[test]
fn notification_clauses() {
    differential("notify", &["notify/"]);
}

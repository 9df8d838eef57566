//! The C programs built with `-fsanitize=address,undefined` and linked
//! with `-laio_posix` (not preloaded: the sanitizer runtime must come
//! first), run as in `c_abi.rs`. ASan and UBSan check the programs' side of
//! the boundary: every pointer the library writes through (status fields,
//! buffers, lists) stays inside what the program gave it. Leak checking is
//! off: the library's process-wide instance lives until exit by design.
//! (`nonnull-attribute` is off too: badinput.c and listio.c pass NULL to
//! arguments glibc's header declares nonnull, on purpose.)

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::*;

const T: Duration = Duration::from_secs(180);

fn compile_sanitized(name: &str) -> PathBuf {
    Cc::new(c_dir().join(format!("{name}.c")), name)
        .sanitize()
        .include(c_dir())
        .link(true)
        .build()
}

fn run_sanitized(name: &str, args: &[&str], env: &[(&str, &str)], want: &str) {
    let exe = compile_sanitized(name);
    let mut cmd = Command::new(&exe);
    cmd.args(args)
        .env("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1")
        .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = run_with_timeout(cmd, T);
    assert_ok(&format!("{name} {args:?} under ASan+UBSan"), &o);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(want), "{name}: {out}");
}

#[test]
fn c_programs_under_address_and_undefined_sanitizers() {
    run_sanitized(
        "badinput",
        &[],
        &[("AIO_POSIX_MAX_OPS", "4")],
        "badinput ok",
    );
    run_sanitized(
        "full_slab",
        &[],
        &[("AIO_POSIX_MAX_OPS", "4")],
        "full_slab ok",
    );
    for p in [
        "cancel",
        "completion_fd",
        "fork",
        "fsync",
        "init",
        "listio",
        "streams",
        "suspend",
        "vectored",
        "waitcomplete",
    ] {
        run_sanitized(p, &[], &[], &format!("{p} ok"));
    }
    run_sanitized(
        "sigev_thread",
        &[],
        &[("AIO_POSIX_NOTIFY_THREADS", "2")],
        "sigev_thread ok",
    );
    for (kind, how) in [
        ("file", "poll"),
        ("pipe", "signal"),
        ("socket", "thread"),
        ("pty", "suspend"),
    ] {
        run_sanitized("matrix", &[kind, how], &[], "ok");
    }
    for case in ["deep", "exit", "cancel", "attr", "block"] {
        run_sanitized("notify_thread", &[case], &[], &format!("{case} ok"));
    }
    for case in ["signal", "cancel", "fork"] {
        run_sanitized("boundary", &[case], &[], &format!("{case} ok"));
    }
}

//! C programs compiled with the system compiler and run against
//! `libaio_posix.so`, either preloaded into a glibc-only binary
//! (`LD_PRELOAD`, proven by the library's trace) or linked with
//! `-laio_posix` (proven by the `aio_posix_calls` extension).

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

const T: Duration = Duration::from_secs(60);

/// Runs a glibc-only binary with the library preloaded; returns stdout and
/// checks that the library served `entry`.
fn run_preloaded(
    exe: &std::path::Path,
    args: &[&str],
    entry: &str,
    env: &[(&str, &str)],
) -> String {
    let trace = trace_file(exe.file_name().unwrap().to_str().unwrap());
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .env("LD_PRELOAD", lib_path())
        .env("AIO_POSIX_TRACE", &trace);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = run_with_timeout(cmd, T);
    assert_ok(&format!("{} {args:?}", exe.display()), &o);
    let (_, firsts) = trace_counts(&trace, entry);
    assert!(
        firsts >= 1,
        "{entry} was not served by libaio_posix.so (trace {}: {:?})",
        trace.display(),
        std::fs::read_to_string(&trace).ok()
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn run_linked(name: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let exe = compile(name, true);
    let mut cmd = Command::new(&exe);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = run_with_timeout(cmd, T);
    assert_ok(&format!("{name} {args:?}"), &o);
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The seed example, as it stands (only its `#include` names added),
/// built against glibc and run with the library preloaded.
#[test]
fn seed_example_runs_preloaded() {
    let exe = compile("seed_000", false);
    let dir = scratch("seed");
    std::fs::write(dir.join("testfile.txt"), b"hello from the seed example\n").unwrap();
    let trace = trace_file("seed");
    let mut cmd = Command::new(&exe);
    cmd.current_dir(&dir)
        .env("LD_PRELOAD", lib_path())
        .env("AIO_POSIX_TRACE", &trace);
    let o = run_with_timeout(cmd, T);
    assert_ok("seed example", &o);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("Bytes read: 28"), "{out}");
    assert!(out.contains("Data: hello from the seed example"), "{out}");
    // Served by us: the trace counted the calls at exit.
    assert_eq!(trace_counts(&trace, "aio_read").0, 1);
    assert_eq!(trace_counts(&trace, "aio_return").0, 1);
    assert!(trace_counts(&trace, "aio_error").0 >= 1);
}

/// The checked-in seed program is the seed's text (the fixture
/// `tests/fixtures/seed_000.txt`, see its README) with only `#include`
/// lines added.
#[test]
fn seed_copy_matches_the_seed() {
    let seed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed_000.txt");
    let text = std::fs::read_to_string(&seed).expect("the seed fixture");
    let start = text
        .find("int main() {\n  struct aiocb cb;")
        .expect("seed program");
    let end = text[start..]
        .find("Workqueues Example")
        .expect("end of program")
        + start;
    let want: Vec<&str> = text[start..end].trim().lines().collect();
    let mine = std::fs::read_to_string(c_dir().join("seed_000.c")).unwrap();
    let got: Vec<&str> = mine
        .lines()
        .filter(|l| !l.starts_with("#include"))
        .skip_while(|l| l.is_empty())
        .collect();
    assert_eq!(got, want);
}

/// fd kind x notification, each cell a separate preloaded process.
#[test]
fn matrix_fd_kinds_by_notification() {
    let exe = compile("matrix", false);
    for kind in ["file", "pipe", "fifo", "socket", "pty"] {
        for how in ["poll", "suspend", "signal", "thread"] {
            let out = run_preloaded(&exe, &[kind, how], "aio_read", &[]);
            assert!(out.contains(&format!("matrix {kind} {how} ok")), "{out}");
        }
    }
}

#[test]
fn cancel() {
    let out = run_linked("cancel", &[], &[]);
    assert!(out.contains("cancel ok"), "{out}");
}

#[test]
fn streams_fifo_without_head_of_line_blocking() {
    let out = run_linked("streams", &[], &[("AIO_POSIX_THREADS", "1")]);
    assert!(out.contains("streams ok"), "{out}");
}

/// aio_readv/aio_writev and LIO_READV/LIO_WRITEV against preadv(2)/
/// pwritev(2) on the same input (the kernel as the oracle; FreeBSD's rules
/// where they differ, README "Vectored ops").
#[test]
fn vectored_ops_agree_with_preadv_pwritev() {
    let out = run_linked("vectored", &[], &[]);
    assert!(out.contains("vectored ok"), "{out}");
}

/// aio_waitcomplete (FreeBSD's semantics, README "aio_waitcomplete"):
/// its errors, every op's result handed out exactly once (also with two
/// reapers, and against aio_return in another thread), byte counts as
/// pread(2).
#[test]
fn waitcomplete_reaps_each_op_once() {
    let out = run_linked("waitcomplete", &[], &[]);
    assert!(out.contains("waitcomplete ok"), "{out}");
}

/// A reaping process with a full slab (4 slots): a submission fails with
/// EAGAIN at once while every slot holds an untaken result, and works
/// again once aio_return or aio_waitcomplete takes one.
#[test]
fn waitcomplete_full_slab_fails_with_eagain() {
    let out = run_linked("full_slab", &[], &[("AIO_POSIX_MAX_OPS", "4")]);
    assert!(out.contains("full_slab ok"), "{out}");
}

/// `tests/c/reap_stress.c` 20 times: submitters, aio_waitcomplete reapers
/// and aio_return threads on the same aiocbs; every op taken exactly once.
/// Ignored (a long run): `cargo test -p aio-posix --test c_abi --
/// --ignored reap_stress`. Known open: about one run in 200 (mode 1) was
/// seen stuck with two aio_fsync ops that never completed (the pools'
/// fsync barrier; not yet understood).
#[test]
#[ignore]
fn reap_stress_each_op_once() {
    for mode in ["0", "1", "2"] {
        for _ in 0..7 {
            let out = run_linked("reap_stress", &[mode], &[]);
            assert!(out.contains("failures 0 wrong 0"), "{out}");
        }
    }
}

/// The completion descriptor: readable exactly while a completion waits
/// (quiet after a drain, quiet beside a waiting op), an epoll loop over it
/// and a pipe reaps every op once, a fork child gets its own.
#[test]
fn completion_fd_wakes_an_epoll_loop() {
    let out = run_linked("completion_fd", &[], &[]);
    assert!(out.contains("completion_fd ok"), "{out}");
}

/// The example `examples/serve_files.c` (one thread, one epoll loop over
/// its listening socket and the completion descriptor, files moved to
/// sockets by aio_read/aio_write chains reaped with aio_waitcomplete)
/// serves five clients at once, byte for byte, and refuses a bad name.
#[test]
fn serve_files_example_serves_concurrent_clients() {
    use std::io::{BufRead, BufReader, Read, Write};
    let dir = scratch("serve_files");
    let sizes: [(&str, usize); 4] = [
        ("empty", 0),
        ("one", 1),
        ("mid", 200_003),
        ("big", 3 * 1024 * 1024 + 17),
    ];
    let mut want = std::collections::HashMap::new();
    for (name, n) in sizes {
        let body: Vec<u8> = (0..n).map(|i| (i * 31 + n) as u8).collect();
        std::fs::write(dir.join(name), &body).unwrap();
        want.insert(name, body);
    }
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/serve_files.c");
    let exe = Cc::new(src, "serve_files").link(true).build();
    let mut child = std::process::Command::new(&exe)
        .args([dir.to_str().unwrap(), "5"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("serve_files starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .trim()
        .strip_prefix("port ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port line: {line:?}"));
    let clients: Vec<_> = ["big", "mid", "empty", "one", "../etc/passwd"]
        .into_iter()
        .map(|name| {
            aio_core::sync::thread::spawn(move || {
                let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                s.set_read_timeout(Some(T)).unwrap();
                s.write_all(format!("{name}\n").as_bytes()).unwrap();
                let mut got = Vec::new();
                s.read_to_end(&mut got).unwrap();
                (name, got)
            })
        })
        .collect();
    for c in clients {
        let (name, got) = c.join().unwrap();
        match want.get(name) {
            Some(body) => assert!(
                got == *body,
                "{name}: {} bytes, want {}",
                got.len(),
                body.len()
            ),
            None => assert_eq!(got, b"ERR\n", "{name}"),
        }
    }
    let t0 = std::time::Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            assert!(st.success(), "serve_files: {st}");
            break;
        }
        if t0.elapsed() > T {
            let _ = child.kill();
            panic!("serve_files did not exit after its five connections");
        }
        aio_core::sync::thread::sleep(Duration::from_millis(20));
    }
}

/// `AIO_POSIX_STATS`: a preloaded program's exit prints the pools'
/// counters, to a file and to stderr, and their completions add up to the
/// ops the program did.
#[test]
fn stats_at_exit_count_the_programs_ops() {
    let exe = compile("stats", false);
    let file = test_support::trace_file("stats-table");
    let out = run_preloaded(
        &exe,
        &[],
        "aio_read",
        &[("AIO_POSIX_STATS", file.to_str().unwrap())],
    );
    let ops: u64 = out
        .trim()
        .strip_prefix("stats ops ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected output {out:?}"));
    let table = std::fs::read_to_string(&file).expect("the stats file was written");
    // The header names the op total and how many of them were reads the
    // submitting thread finished before routing; every pool line's
    // `submitted` column adds up to the rest (each other op is accepted
    // by one pool, once), and its completed + inline columns to no more
    // (a worker counts a device thread's completion when it next looks at
    // its engine).
    assert!(
        table.contains(&format!(": {ops} ops submitted, ")),
        "{table}"
    );
    let early: u64 = table
        .split(" counted complete, ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of early reads in {table:?}"));
    assert!(early <= ops, "{table}");
    let ops = ops - early;
    let (mut submitted, mut done) = (0u64, 0u64);
    let mut lines = 0;
    for l in table.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if matches!(f.first(), Some(&("read" | "write" | "sync"))) {
            // class index cpu[*] submitted completed inline ...: the
            // numeric columns, with cpu among them unless it is starred.
            let cols: Vec<u64> = f.iter().filter_map(|c| c.parse().ok()).collect();
            assert!(cols.len() >= 9, "{l}");
            let k = if f[2].ends_with('*') { 1 } else { 2 };
            submitted += cols[k];
            done += cols[k + 1] + cols[k + 2];
            lines += 1;
        }
    }
    assert!(
        lines >= 3,
        "reads, writes and an fsync use three classes:\n{table}"
    );
    assert_eq!(submitted, ops, "{table}");
    assert!(done <= ops && done > 0, "{table}");
    // To stderr with =1.
    let mut cmd = std::process::Command::new(&exe);
    cmd.env("LD_PRELOAD", lib_path())
        .env("AIO_POSIX_STATS", "1");
    let o = test_support::run_with_timeout(cmd, T);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("{} ops submitted", ops + early)),
        "{err}"
    );
    assert!(err.contains("inflight-hwm"), "{err}");
}

/// The descriptor cache: numbers closed and reused for another file, a
/// pipe, a directory; O_APPEND and O_DIRECT set by fcntl later; each
/// compared with what pread/read/write give.
#[test]
fn reused_descriptor_numbers_behave_as_the_kernel_says() {
    let out = run_preloaded(&compile("fdreuse", false), &[], "aio_read", &[]);
    assert!(out.contains("fdreuse ok"), "{out}");
}

#[test]
fn sigev_thread_runs_on_a_bounded_set_of_threads() {
    let out = run_linked("sigev_thread", &[], &[("AIO_POSIX_NOTIFY_THREADS", "2")]);
    assert!(out.contains("sigev_thread ok"), "{out}");
}

#[test]
fn aio_init_sets_the_limits() {
    let out = run_linked("init", &[], &[]);
    assert!(out.contains("init ok"), "{out}");
}

#[test]
fn fsync_ordering() {
    let out = run_linked("fsync", &[], &[]);
    assert!(out.contains("fsync ok"), "{out}");
}

#[test]
fn listio_both_modes() {
    let out = run_linked("listio", &[], &[]);
    assert!(out.contains("listio ok"), "{out}");
}

#[test]
fn bad_input() {
    let out = run_linked("badinput", &[], &[("AIO_POSIX_MAX_OPS", "4")]);
    assert!(out.contains("badinput ok"), "{out}");
}

#[test]
fn fork_child_gets_a_working_library() {
    let out = run_linked("fork", &[], &[]);
    assert!(out.contains("fork ok"), "{out}");
}

#[test]
fn suspend_is_a_cancellation_point_and_reports_eintr() {
    let out = run_linked("suspend", &[], &[]);
    assert!(out.contains("suspend ok"), "{out}");
}

/// Runs a glibc-only binary on glibc itself: the same program must pass
/// there too (it is written as a portable program).
fn run_on_glibc(exe: &std::path::Path, args: &[&str]) -> String {
    let mut cmd = Command::new(exe);
    cmd.args(args);
    let o = run_with_timeout(cmd, T);
    assert_ok(&format!("{} {args:?} on glibc", exe.display()), &o);
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// SIGEV_THREAD functions are thread start routines (POSIX): glibc's
/// default stack, pthread_exit, self-cancellation, attributes, functions
/// that block on each other. Each case on glibc, then on ours.
#[test]
fn sigev_thread_functions_run_as_start_routines() {
    let exe = compile("notify_thread", false);
    for case in ["deep", "exit", "cancel", "attr", "block"] {
        let g = run_on_glibc(&exe, &[case]);
        assert!(g.contains(&format!("{case} ok")), "glibc: {g}");
        let o = run_preloaded(&exe, &[case], "aio_read", &[]);
        assert!(o.contains(&format!("{case} ok")), "ours: {o}");
    }
}

/// A million SIGEV_THREAD completions from a program that does not limit
/// itself: every function runs exactly once, and what waits to start is
/// bounded by the op budget (EAGAIN at submission past it). (Not run on
/// glibc, which starts a thread per completion: minutes.)
#[test]
fn sigev_thread_backlog_is_bounded() {
    let exe = compile("notify_thread", false);
    let out = run_preloaded(&exe, &["backlog"], "aio_read", &[]);
    assert!(out.contains("backlog ok"), "{out}");
    let peak: i64 = out
        .lines()
        .find_map(|l| l.split(" peak ").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("peak figure");
    // The bound the library promises: the op budget (8192) plus the
    // functions running at once (AIO_POSIX_NOTIFY_THREADS, 64).
    assert!(peak <= 8192 + 64, "{peak} functions waited at once: {out}");
    println!("{out}");
}

/// aio_error, aio_return and aio_suspend from signal handlers, first
/// calls included. (Not run on glibc: its aio_suspend takes the mutex
/// aio_read holds, so a handler that interrupts aio_read deadlocks now
/// and then. README, "Differences".)
#[test]
fn signal_handlers_may_call_error_return_and_suspend() {
    let exe = compile("boundary", false);
    let o = run_preloaded(&exe, &["signal"], "aio_read", &[]);
    assert!(o.contains("signal ok"), "{o}");
}

/// pthread_cancel of threads in aio_suspend, whatever the timeout.
#[test]
fn pthread_cancel_ends_aio_suspend() {
    let exe = compile("boundary", false);
    assert!(run_on_glibc(&exe, &["cancel"]).contains("cancel ok"));
    let o = run_preloaded(&exe, &["cancel"], "aio_read", &[]);
    assert!(o.contains("cancel ok"), "{o}");
}

/// fork: the child keeps none of the library's descriptors and may
/// resubmit an aiocb in flight in the parent. (glibc's child cannot: its
/// queue still holds the parent's op. README, "Differences".)
#[test]
fn fork_child_keeps_no_library_descriptors() {
    let exe = compile("boundary", false);
    let o = run_preloaded(&exe, &["fork"], "aio_read", &[]);
    assert!(o.contains("fork ok"), "{o}");
}

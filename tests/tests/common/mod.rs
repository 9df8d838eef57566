//! Helpers of the C-ABI tests of this crate: the shared ones come from
//! `test-support` (one API for every crate); this module only names this
//! crate's C sources and aio-posix's.

#![allow(dead_code, unused_imports)]

use std::path::{Path, PathBuf};

pub use test_support::{
    Cc, assert_ok, figure, require_tool, run_with_timeout, scratch, trace_counts, trace_file,
};

/// The C ABI library for this test run ([`test_support::libaio_posix`]).
pub fn lib_path() -> PathBuf {
    test_support::libaio_posix()
}

/// This crate's C sources (`tests/c`).
pub fn c_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("c")
}

/// aio-posix's own C tests (read, never edited, here).
pub fn posix_c_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../aio-posix/tests/c")
}

/// Compiles `<dir>/<name>.c`. `link`: link with `-laio_posix` (and an
/// rpath), else against glibc only (the program is then run under
/// `LD_PRELOAD`).
pub fn compile_in(dir: &Path, name: &str, link: bool) -> PathBuf {
    let tag = if dir == c_dir() { "t" } else { "p" };
    let out = if link {
        format!("{tag}-{name}-linked")
    } else {
        format!("{tag}-{name}")
    };
    Cc::new(dir.join(format!("{name}.c")), out)
        .link(link)
        .build()
}

/// Compiles this crate's `tests/c/<name>.c`.
pub fn compile(name: &str, link: bool) -> PathBuf {
    compile_in(&c_dir(), name, link)
}

//! Helpers of the integration tests of this crate: the shared ones come
//! from `test-support` (one API for every crate); this module only names
//! this crate's C sources.

#![allow(dead_code, unused_imports)]

use std::path::{Path, PathBuf};

pub use test_support::{
    Cc, assert_ok, require_tool, run_with_timeout, scratch, trace_counts, trace_file,
};

/// The C ABI library for this test run ([`test_support::libaio_posix`]).
pub fn lib_path() -> PathBuf {
    test_support::libaio_posix()
}

/// The C sources.
pub fn c_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c")
}

/// Compiles `tests/c/<name>.c`. `link`: link with `-laio_posix` (and an
/// rpath), else against glibc only (the program is then run under
/// `LD_PRELOAD`).
pub fn compile(name: &str, link: bool) -> PathBuf {
    let out = if link {
        format!("{name}-linked")
    } else {
        name.to_string()
    };
    Cc::new(c_dir().join(format!("{name}.c")), out)
        .link(link)
        .build()
}

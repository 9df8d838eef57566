//! # test-support: the helpers every crate's integration tests share
//!
//! A dev-dependency only (`publish = false`). One API for each thing the
//! tests of `blockdev`, `aio-posix` and `aio-tests` used to copy:
//!
//! - [`libaio_posix`]: where the C ABI library is (one constant,
//!   [`CDYLIB_PACKAGE`], names the package that builds it);
//! - [`Cc`]: compiling a C test program (flags, sanitizers, linking);
//! - [`run_with_timeout`], [`assert_ok`], [`wait_until`],
//!   [`within_deadline`]: every wait has a timeout that fails the test;
//! - [`trace_file`], [`trace_counts`], [`figure`]: reading what a program
//!   and the library's call trace report;
//! - [`scratch`], [`TempFile`]: scratch space under the target directory;
//! - [`QemuNbd`]: a real `qemu-nbd` server;
//! - [`Ledger`]: how many times, and in which order, each op completed;
//! - [`require_tool`]: the one policy for a missing tool — the test
//!   fails with the install command (`.ci/run` installs every tool).
//!
//! **Layering.** Depends on `aio-core` only (for the `sync` shim's thread
//! spawn, which clippy.toml requires); nothing but tests depends on it.

mod cc;
mod ledger;
mod nbd;
mod paths;
mod process;
mod tool;
mod trace;

pub use cc::{C_INCLUDE, Cc};
pub use ledger::Ledger;
pub use nbd::QemuNbd;
pub use paths::{
    CDYLIB_FILE, CDYLIB_PACKAGE, TempFile, libaio_posix, scratch, scratch_dir, workspace_root,
};
#[cfg(not(loom))]
pub use process::within_deadline;
pub use process::{assert_ok, run_with_timeout, wait_until};
pub use tool::require_tool;
pub use trace::{figure, trace_counts, trace_file};

//! Where things are: the workspace, the target directory, scratch space,
//! and the C ABI library.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The package whose `cdylib` is the C ABI library. If the exports move to
/// another package, this is the one line to change.
pub const CDYLIB_PACKAGE: &str = "aio-posix-cabi";

/// The file name of the C ABI library.
pub const CDYLIB_FILE: &str = "libaio_posix.so";

/// The workspace root (the directory holding the workspace `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("test-support sits in the workspace root")
        .to_path_buf()
}

/// The running test binary's `target/<profile>/deps` directory.
fn deps_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent().expect("deps dir").to_path_buf()
}

/// The target directory the running test binary was built into (as cargo
/// lays it out: `<target>/<profile>/deps/<test binary>`).
fn target_dir() -> PathBuf {
    let deps = deps_dir();
    deps.parent()
        .and_then(Path::parent)
        .expect("<target>/<profile>/deps")
        .to_path_buf()
}

/// The path of the C ABI library for this test run. Cargo builds it into
/// the test binary's `deps` directory when [`CDYLIB_PACKAGE`] is a
/// (dev-)dependency; else it is built here (`cargo build -p
/// CDYLIB_PACKAGE`, same profile) and `target/<profile>/libaio_posix.so`
/// is returned. Fails the test if neither gives a library.
pub fn libaio_posix() -> PathBuf {
    let deps = deps_dir();
    let p = deps.join(CDYLIB_FILE);
    if p.exists() {
        return p;
    }
    let profile_dir = deps.parent().expect("profile dir").to_path_buf();
    let built = profile_dir.join(CDYLIB_FILE);
    if !built.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(workspace_root())
            .args(["build", "-p", CDYLIB_PACKAGE, "--lib"])
            .env("CARGO_TARGET_DIR", target_dir());
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let st = cmd.status().expect("running cargo build");
        assert!(st.success(), "cargo build -p {CDYLIB_PACKAGE} failed");
    }
    assert!(
        built.exists(),
        "{} missing: the cdylib of {CDYLIB_PACKAGE} was not built",
        built.display()
    );
    built
}

/// A scratch directory `<target>/tmp/<name>` (cargo's
/// `CARGO_TARGET_TMPDIR`), created if needed: a disk file system next to
/// the build, where O_DIRECT works (the system temp directory may be
/// tmpfs).
pub fn scratch(name: &str) -> PathBuf {
    let d = scratch_dir().join(name);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

/// The scratch root `<target>/tmp`, created if needed.
pub fn scratch_dir() -> PathBuf {
    let d = target_dir().join("tmp");
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

/// A file in the scratch directory, removed on drop.
pub struct TempFile {
    /// Where the file is.
    pub path: PathBuf,
}

impl TempFile {
    /// A new file of `size` zero bytes, named after `tag`, the process and
    /// a counter (so tests running in parallel never share one).
    #[allow(clippy::disallowed_types)] // a name counter; no protocol depends on it
    pub fn new(tag: &str, size: u64) -> TempFile {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = scratch_dir().join(format!("ts-{tag}-{}-{n}.img", std::process::id()));
        let f = std::fs::File::create(&path).expect("create temp file");
        f.set_len(size).expect("size temp file");
        TempFile { path }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

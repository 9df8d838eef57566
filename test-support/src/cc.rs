//! Compiling the C test programs: one set of flags for every C test tree.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::paths::{libaio_posix, scratch, workspace_root};

/// The directory of the shared C header `aio_check.h` (relative to the
/// workspace root); [`Cc`] puts it on the include path.
pub const C_INCLUDE: &str = "test-support/c";

/// A C test program to compile with the system compiler (`$CC`, else
/// `cc`): `-std=gnu11 -Wall -Wextra -O1 -g -pthread`, `-Werror` unless
/// sanitized, the aio-posix public headers and [`C_INCLUDE`] on the include
/// path.
pub struct Cc {
    src: PathBuf,
    out: String,
    link: bool,
    sanitize: bool,
    includes: Vec<PathBuf>,
}

impl Cc {
    /// The program `src`, its binary named `out` in the scratch directory
    /// (`c-bin`, or `c-bin-san` when sanitized).
    pub fn new(src: impl Into<PathBuf>, out: impl Into<String>) -> Cc {
        Cc {
            src: src.into(),
            out: out.into(),
            link: false,
            sanitize: false,
            includes: Vec::new(),
        }
    }

    /// Links with `-laio_posix` (and an rpath to it); without this the
    /// program links against glibc only and is run under `LD_PRELOAD`.
    pub fn link(mut self, yes: bool) -> Cc {
        self.link = yes;
        self
    }

    /// Builds with ASan and UBSan (`-fsanitize=address,undefined`, no
    /// recovery), without `-Werror` (the sanitizers change what gcc can
    /// prove about format lengths).
    pub fn sanitize(mut self) -> Cc {
        self.sanitize = true;
        self
    }

    /// Adds `dir` to the include path.
    pub fn include(mut self, dir: impl Into<PathBuf>) -> Cc {
        self.includes.push(dir.into());
        self
    }

    /// Compiles; fails the test with the compiler's output if it fails.
    /// Returns the binary.
    pub fn build(self) -> PathBuf {
        let dir = scratch(if self.sanitize { "c-bin-san" } else { "c-bin" });
        let out = dir.join(&self.out);
        // Built under a name of its own, then renamed into place: several
        // tests build the same program at once, and one of them exec'ing
        // `out` while another's linker is writing it fails with ETXTBSY
        // (seen in CI). A rename replaces the file whole, and a program
        // already running keeps its own copy.
        #[allow(clippy::disallowed_types)] // a name counter; no protocol depends on it
        static BUILDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = BUILDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = dir.join(format!(".{}.{}.{n}.tmp", self.out, std::process::id()));
        let root = workspace_root();
        let mut cmd = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()));
        cmd.args(["-std=gnu11", "-Wall", "-Wextra"]);
        if self.sanitize {
            cmd.args([
                "-O1",
                "-g",
                "-pthread",
                "-fsanitize=address,undefined",
                "-fno-sanitize=nonnull-attribute",
                "-fno-sanitize-recover=all",
                "-fno-omit-frame-pointer",
            ]);
        } else {
            cmd.args(["-Werror", "-O1", "-g", "-pthread"]);
        }
        for i in &self.includes {
            cmd.arg("-I").arg(i);
        }
        cmd.arg("-I")
            .arg(root.join(C_INCLUDE))
            .arg("-I")
            .arg(root.join("aio-posix/include"))
            .arg("-o")
            .arg(&tmp)
            .arg(&self.src);
        if self.link {
            let lib = libaio_posix();
            let libdir = lib.parent().expect("library dir");
            cmd.arg("-L")
                .arg(libdir)
                .arg(format!("-Wl,-rpath,{}", libdir.display()))
                .arg("-laio_posix");
        }
        let o = cmd.output().expect("running cc");
        let what = if self.sanitize { "cc -fsanitize" } else { "cc" };
        assert!(
            o.status.success(),
            "{what} {} failed:\n{}",
            file_name(&self.src),
            String::from_utf8_lossy(&o.stderr)
        );
        std::fs::rename(&tmp, &out).expect("rename the built program into place");
        out
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

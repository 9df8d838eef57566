//! The one policy for a tool a test needs: it is there (`.ci/run`
//! installs it), or the test fails and says how to install it. Never a
//! silent skip, never a pass.

use std::path::{Path, PathBuf};

/// The path of the tool `name`, searched on `PATH` and the system bin
/// directories; fails the test with `apt-get install <package>` if it is
/// missing.
pub fn require_tool(name: &str, package: &str) -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    for dir in path
        .split(':')
        .chain(["/usr/bin", "/usr/sbin", "/bin", "/sbin"])
    {
        if dir.is_empty() {
            continue;
        }
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("{name} not found: apt-get install {package} (.ci/run installs it)")
}

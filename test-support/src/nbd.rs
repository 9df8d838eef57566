//! A real `qemu-nbd` server for the NBD tests.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::paths::TempFile;
use crate::tool::require_tool;

/// How long the server may take to come up.
const UP: Duration = Duration::from_secs(10);

/// A `qemu-nbd` serving a fresh raw image (`--persistent --shared=4
/// --cache=writeback`), killed on drop.
pub struct QemuNbd {
    child: Child,
    /// The image it serves (removed on drop).
    pub image: TempFile,
    /// Its Unix socket, if it serves on one.
    pub socket: Option<PathBuf>,
    /// Its loopback TCP port, if it serves on one.
    pub port: Option<u16>,
    /// The export name.
    pub export: String,
}

fn command() -> Command {
    let mut c = Command::new(require_tool("qemu-nbd", "qemu-utils"));
    c.args([
        "--persistent",
        "--format=raw",
        "--shared=4",
        "--cache=writeback",
    ]);
    c
}

impl QemuNbd {
    /// Serves a `size`-byte image as `export` on a Unix socket; returns once
    /// the socket accepts (fails the test after 10 s).
    pub fn unix(size: u64, export: &str) -> QemuNbd {
        let image = TempFile::new("nbd", size);
        let socket = image.path.with_extension("sock");
        let _ = std::fs::remove_file(&socket);
        let child = command()
            .arg(format!("--export-name={export}"))
            .arg(format!("--socket={}", socket.display()))
            .arg(&image.path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start qemu-nbd");
        let s = QemuNbd {
            child,
            image,
            socket: Some(socket.clone()),
            port: None,
            export: export.into(),
        };
        let deadline = Instant::now() + UP;
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            assert!(
                Instant::now() < deadline,
                "qemu-nbd did not come up on {}",
                socket.display()
            );
            aio_core::sync::thread::sleep(Duration::from_millis(20));
        }
        s
    }

    /// Serves a `size`-byte image as `export` on loopback TCP; returns once
    /// the port accepts (fails the test after 10 s).
    pub fn tcp(size: u64, export: &str) -> QemuNbd {
        let image = TempFile::new("nbd-tcp", size);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind a free port")
            .local_addr()
            .expect("local addr")
            .port();
        let child = command()
            .arg("--bind=127.0.0.1")
            .arg(format!("--port={port}"))
            .arg(format!("--export-name={export}"))
            .arg(&image.path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start qemu-nbd");
        let s = QemuNbd {
            child,
            image,
            socket: None,
            port: Some(port),
            export: export.into(),
        };
        let deadline = Instant::now() + UP;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "qemu-nbd did not come up on port {port}"
            );
            aio_core::sync::thread::sleep(Duration::from_millis(20));
        }
        s
    }

    /// Kills the server now.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for QemuNbd {
    fn drop(&mut self) {
        self.kill();
        if let Some(s) = &self.socket {
            let _ = std::fs::remove_file(s);
        }
    }
}

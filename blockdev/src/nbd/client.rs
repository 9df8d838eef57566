//! [`NbdDevice`]: a client for the Network Block Device protocol.
//!
//! Handshake: fixed newstyle, one `NBD_OPT_GO` (asking for the export's
//! size and block sizes), no TLS, simple replies only. Transmission: many
//! requests in flight at once, replies matched to requests by cookie in any
//! order.
//!
//! # Threads
//!
//! ```text
//!   submitter (any thread)      writer thread             reader thread
//!   ----------------------      -------------             -------------
//!   check bounds                                          read reply header
//!   ticket = engine.ticket()                              req = table.take(cookie)
//!   build header (+ copy of                               read payload into the
//!     the write payload)                                    op's buffer (reads)
//!   cookie = table.insert(req)                            ticket.complete(op, r)
//!   sendq.push(message) ------> pop a batch, write it     ...
//!                               (one flush per batch)     on EOF / error / bad reply:
//!                               on error: shutdown(2)       table.close(EIO) -> fail all
//!                                 the socket                sendq.close(); shutdown(2)
//! ```
//!
//! The submitter never touches the socket, so it never blocks on the
//! network; write payloads are copied into the message so the writer never
//! reads an op's buffer (the op belongs to the reader from the moment it is
//! in the table). Every op is completed by the reader thread (or inside
//! `submit` when it is refused, or by the caller of
//! [`Device::shutdown`], which fails what is in flight), callbacks
//! included, with no lock held.
//!
//! # Disconnection
//!
//! Whoever notices the connection is gone shuts the socket down, which
//! makes the reader's next read fail; the reader then closes the in-flight
//! table and fails every request in it. Why nothing hangs, thread by
//! thread: [`crate::nbd`]'s module docs.
//!
//! # Errors
//!
//! `connect_*` fails with `ENOENT` when the server does not have the export
//! (`NBD_REP_ERR_UNKNOWN`), `EPERM` when it refuses it by policy or wants
//! TLS, `EOPNOTSUPP` when it is not a fixed-newstyle server or does not know
//! `NBD_OPT_GO`, `EIO` on any other protocol error, and the socket's errno
//! otherwise. Request errors from the server arrive as their errno.

use std::fmt;
use std::io::{BufWriter, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::RawFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use aio_core::sync::atomic::{AtomicBool, Ordering};
use aio_core::sync::thread::{self, JoinHandle};
use aio_core::sync::{Arc, Mutex};
use aio_core::{
    Attempt, EngineTicket, Engines, Error, FlushKind, InFlight, OpKind, Result, Strategy, Target,
};

use super::table::InflightTable;
use super::wire::*;
use crate::device::{Device, Geometry, clamp_transfer, join_unless_self};
use crate::queue::WorkQueue;

/// A request in the table: the op and what the reply must do with it.
struct Req {
    op: InFlight,
    ticket: EngineTicket,
    kind: OpKind,
    len: usize,
}

struct Shared {
    table: InflightTable<Req>,
    sendq: WorkQueue<Vec<u8>>,
    /// `stream`'s descriptor, for shutdown(2) from any thread.
    fd: RawFd,
    /// Set by [`Device::shutdown`]: in-flight ops fail with `ECANCELED`
    /// instead of `EIO`.
    shutting_down: AtomicBool,
    /// The original socket (the threads use duplicates of it). Owned here so
    /// that `fd` stays open, and means this socket, until the device and
    /// both threads are gone.
    stream: Stream,
}

impl Shared {
    fn kill_socket(&self) {
        // SAFETY: plain syscall; `fd` stays open while `stream` (or the
        // threads' clones) hold it, and shutdown on a dead socket is harmless.
        unsafe { libc::shutdown(self.fd, libc::SHUT_RDWR) };
    }

    fn gone_error(&self) -> Error {
        if self.shutting_down.load(Ordering::Acquire) {
            Error::ECANCELED
        } else {
            Error::EIO
        }
    }

    /// Fails every request in flight and refuses new ones.
    fn fail_all(&self, err: Error) {
        for r in self.table.close(err) {
            r.ticket.complete(r.op, Err(err));
        }
    }
}

/// An NBD export used as a device; see the module docs.
pub struct NbdDevice {
    sh: Arc<Shared>,
    info: ExportInfo,
    name: String,
    reader: Mutex<Option<JoinHandle<()>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for NbdDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NbdDevice")
            .field("name", &self.name)
            .field("size", &self.info.size)
            .field("in_flight", &self.sh.table.len())
            .finish()
    }
}

fn reader_loop(sh: &Shared, mut s: Stream) {
    let mut h = [0u8; 16];
    loop {
        if s.read_exact(&mut h).is_err() {
            break;
        }
        if be_u32(&h[0..]) != SIMPLE_REPLY_MAGIC {
            break; // structured replies were not negotiated: protocol error
        }
        let err = be_u32(&h[4..]);
        let Some(mut req) = sh.table.take(be_u64(&h[8..])) else {
            break; // a cookie we never sent (or already answered)
        };
        let r = if err != 0 {
            Err(request_error(err))
        } else {
            match req.kind {
                OpKind::Read => {
                    // Scattered into the op's segments (one for a
                    // contiguous buffer), in order, `req.len` bytes in all.
                    let mut left = req.len;
                    let got = req.op.segments_mut().iter_mut().try_for_each(|seg| {
                        let k = seg.len().min(left);
                        left -= k;
                        s.read_exact(&mut seg[..k])
                    });
                    if got.is_err() {
                        // The op is ours (out of the table): fail it here.
                        let e = sh.gone_error();
                        req.ticket.complete(req.op, Err(e));
                        break;
                    }
                    Ok(req.len)
                }
                OpKind::Write => Ok(req.len),
                OpKind::Fsync | OpKind::Fdatasync => Ok(0),
            }
        };
        req.ticket.complete(req.op, r);
    }
    // The connection is gone (or the device is shutting down).
    sh.fail_all(sh.gone_error());
    sh.sendq.close();
    sh.kill_socket();
}

fn writer_loop(sh: &Shared, s: Stream) {
    let mut w = BufWriter::with_capacity(256 << 10, s);
    let mut batch = Vec::with_capacity(64);
    let mut ok = true;
    while sh.sendq.pop_batch(&mut batch, 64) {
        for m in batch.drain(..) {
            if ok && w.write_all(&m).is_err() {
                ok = false;
            }
        }
        if ok && w.flush().is_err() {
            ok = false;
        }
        if !ok {
            // Make the reader notice: it fails everything in flight.
            sh.kill_socket();
        }
    }
    let _ = w.flush();
    // Queue closed: the device is shutting down (after NBD_CMD_DISC) or the
    // reader has already failed everything. Either way, end the connection
    // so the reader's read returns.
    sh.kill_socket();
}

impl NbdDevice {
    /// Connects to `export` on the server listening on the Unix socket at
    /// `path`.
    pub fn connect_unix(path: impl AsRef<Path>, export: &str) -> Result<NbdDevice> {
        let s = UnixStream::connect(path.as_ref())?;
        NbdDevice::start(Stream::Unix(s), export)
    }

    /// Connects to `export` on the server at `addr` over TCP.
    pub fn connect_tcp(addr: impl ToSocketAddrs, export: &str) -> Result<NbdDevice> {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        NbdDevice::start(Stream::Tcp(s), export)
    }

    fn start(mut s: Stream, export: &str) -> Result<NbdDevice> {
        s.set_timeouts(Some(HANDSHAKE_TIMEOUT))?;
        let info = handshake(&mut s, export)?;
        s.set_timeouts(None)?;
        let rs = s.try_clone()?;
        let ws = s.try_clone()?;
        let sh = Arc::new(Shared {
            table: InflightTable::new(),
            sendq: WorkQueue::new(),
            fd: s.fd(),
            shutting_down: AtomicBool::new(false),
            stream: s,
        });
        let sr = Arc::clone(&sh);
        let reader = thread::spawn_named("blockdev-nbd-rx".into(), move || reader_loop(&sr, rs))?;
        let sw = Arc::clone(&sh);
        let writer =
            match thread::spawn_named("blockdev-nbd-tx".into(), move || writer_loop(&sw, ws)) {
                Ok(w) => w,
                Err(e) => {
                    sh.kill_socket();
                    let _ = reader.join();
                    return Err(e.into());
                }
            };
        Ok(NbdDevice {
            sh,
            info,
            name: format!("nbd:{export}"),
            reader: Mutex::ranked(crate::lock_order::NBD_READER, Some(reader)),
            writer: Mutex::ranked(crate::lock_order::NBD_WRITER, Some(writer)),
        })
    }

    /// Whether the server said the export is read-only.
    pub fn is_read_only(&self) -> bool {
        self.info.flags & TFLAG_READ_ONLY != 0
    }

    /// The largest transfer sent as one request; longer ops are cut short.
    pub fn max_payload(&self) -> u32 {
        self.info.max_payload
    }

    /// Requests in flight.
    pub fn in_flight(&self) -> usize {
        self.sh.table.len()
    }

    /// Whether the connection is gone (dropped by the server, or shut down).
    pub fn is_disconnected(&self) -> bool {
        self.sh.table.closed().is_some()
    }

    /// Runs one request synchronously on the caller's thread, through the
    /// same connection: submit with a private engine, wait for the reply.
    fn run_sync(&self, kind: OpKind, buf: *mut u8, len: usize, offset: u64) -> Result<usize> {
        // SAFETY: `buf` is valid for `len` bytes for the whole call (the
        // caller's slice), and we wait for the op to be delivered before
        // returning.
        let mut op =
            unsafe { aio_core::Op::from_raw_parts(aio_core::into_dyn(NullTarget), buf, len) };
        op.prepare(kind, offset, len)?;
        let (pending, queued) = op.enqueue();
        let mut engine = aio_core::Engines::basic();
        if let Some(f) = queued.start() {
            self.submit(f, &mut engine);
        }
        let (_, r) = pending.wait();
        r
    }
}

/// A target for the ops `run_sync` makes (they never run against it).
struct NullTarget;

impl Target for NullTarget {
    fn read_at(&self, _: &mut [u8], _: u64) -> Attempt<Result<usize>> {
        Attempt::Ready(Err(Error::EINVAL))
    }
    fn write_at(&self, _: &[u8], _: u64) -> Attempt<Result<usize>> {
        Attempt::Ready(Err(Error::EINVAL))
    }
    fn flush(&self, _: FlushKind) -> Attempt<Result<()>> {
        Attempt::Ready(Err(Error::EINVAL))
    }
}

impl Target for NbdDevice {
    /// Synchronous mode: sends the request and blocks until its reply.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Attempt<Result<usize>> {
        Attempt::Ready(self.run_sync(OpKind::Read, buf.as_mut_ptr(), buf.len(), offset))
    }
    /// Synchronous mode: sends the request and blocks until its reply.
    fn write_at(&self, buf: &[u8], offset: u64) -> Attempt<Result<usize>> {
        // The op only reads from the buffer (a write).
        Attempt::Ready(self.run_sync(OpKind::Write, buf.as_ptr().cast_mut(), buf.len(), offset))
    }
    fn flush(&self, kind: FlushKind) -> Attempt<Result<()>> {
        let k = if kind == FlushKind::Full {
            OpKind::Fsync
        } else {
            OpKind::Fdatasync
        };
        Attempt::Ready(self.run_sync(k, std::ptr::null_mut(), 0, 0).map(|_| ()))
    }
    fn strategy(&self) -> Option<&dyn Strategy> {
        Some(self)
    }
}

impl Strategy for NbdDevice {
    /// Queues the request for the writer thread and returns; the reader
    /// thread completes the op when the reply arrives. Requests that cannot
    /// be sent (empty, out of bounds, connection gone) complete here.
    fn submit(&self, op: InFlight, engine: &mut Engines) {
        let kind = op.kind();
        let (cmd, len) = match kind {
            OpKind::Read | OpKind::Write => {
                let write = kind == OpKind::Write;
                if write && self.is_read_only() {
                    return op.complete(Err(Error::EPERM));
                }
                match clamp_transfer(write, op.offset(), op.len(), self.info.size) {
                    Ok(n) => (
                        if write { CMD_WRITE } else { CMD_READ },
                        n.min(self.info.max_payload as usize),
                    ),
                    Err(r) => return op.complete(r),
                }
            }
            OpKind::Fsync | OpKind::Fdatasync => {
                if self.info.flags & TFLAG_SEND_FLUSH == 0 {
                    // The server has no volatile cache to flush.
                    return op.complete(Ok(0));
                }
                (CMD_FLUSH, 0)
            }
        };
        if let Some(e) = self.sh.table.closed() {
            return op.complete(Err(e));
        }
        // `len` fits: it is at most max_payload (a u32).
        let mut msg = Vec::with_capacity(28 + if cmd == CMD_WRITE { len } else { 0 });
        msg.extend_from_slice(&header(cmd, 0, op.offset(), len as u32));
        if cmd == CMD_WRITE {
            // Gathered from the op's segments (one for a contiguous
            // buffer), in order: one request.
            let mut left = len;
            for seg in op.segments().iter() {
                let k = seg.len().min(left);
                msg.extend_from_slice(&seg[..k]);
                left -= k;
            }
        }
        let ticket = engine.ticket();
        match self.sh.table.insert(Req {
            op,
            ticket,
            kind,
            len,
        }) {
            Err((req, e)) => req.ticket.complete(req.op, Err(e)),
            Ok(cookie) => {
                msg[8..16].copy_from_slice(&cookie.to_be_bytes());
                // If the queue is closed the connection is going away and
                // the reader will fail the request (it is in the table).
                let _ = self.sh.sendq.push(msg);
            }
        }
    }
}

impl Device for NbdDevice {
    fn name(&self) -> &str {
        &self.name
    }

    fn geometry(&self) -> Geometry {
        Geometry {
            block_size: self.info.block_size,
            capacity: self.info.size,
        }
    }

    /// Fails every request in flight with `ECANCELED` (a reply that was
    /// being read when this ran completes with its result), refuses new
    /// ones, sends `NBD_CMD_DISC` and lets the writer end the connection.
    /// Never blocks for long: a writer stuck on a full socket gives up
    /// after a timeout.
    fn shutdown(&self) {
        if self.sh.shutting_down.swap(true, Ordering::AcqRel) {
            return;
        }
        self.sh.fail_all(Error::ECANCELED);
        let _ = self
            .sh
            .stream
            .set_write_timeout(Some(Duration::from_secs(1)));
        let _ = self.sh.sendq.push(header(CMD_DISC, 0, 0, 0).to_vec());
        self.sh.sendq.close();
    }
}

impl Drop for NbdDevice {
    fn drop(&mut self) {
        self.shutdown();
        join_unless_self(self.writer.get_mut().take());
        // The writer ended the connection, so the reader's read returns.
        self.sh.kill_socket();
        join_unless_self(self.reader.get_mut().take());
    }
}

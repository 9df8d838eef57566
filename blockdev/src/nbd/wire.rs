//! The NBD wire protocol: constants, the socket of either kind, the
//! handshake (fixed newstyle, one `NBD_OPT_GO`) and request headers. No
//! threads and no shared state here; [`super::client`] runs the
//! transmission phase.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use aio_core::{Error, Result};

pub(super) const NBDMAGIC: u64 = 0x4e42_444d_4147_4943;
pub(super) const IHAVEOPT: u64 = 0x4948_4156_454F_5054;
pub(super) const OPT_REPLY_MAGIC: u64 = 0x0003_e889_0455_65a9;
pub(super) const REQUEST_MAGIC: u32 = 0x2560_9513;
pub(super) const SIMPLE_REPLY_MAGIC: u32 = 0x6744_6698;

pub(super) const FLAG_FIXED_NEWSTYLE: u16 = 1 << 0;
pub(super) const FLAG_NO_ZEROES: u16 = 1 << 1;
pub(super) const OPT_GO: u32 = 7;
pub(super) const REP_ACK: u32 = 1;
pub(super) const REP_INFO: u32 = 3;
pub(super) const REP_ERR: u32 = 1 << 31;
pub(super) const INFO_EXPORT: u16 = 0;
pub(super) const INFO_BLOCK_SIZE: u16 = 3;

pub(super) const TFLAG_READ_ONLY: u16 = 1 << 1;
pub(super) const TFLAG_SEND_FLUSH: u16 = 1 << 2;

pub(super) const CMD_READ: u16 = 0;
pub(super) const CMD_WRITE: u16 = 1;
pub(super) const CMD_DISC: u16 = 2;
pub(super) const CMD_FLUSH: u16 = 3;

/// Largest payload we send or ask for when the server does not say.
pub(super) const DEFAULT_MAX_PAYLOAD: u32 = 32 << 20;
/// How long the handshake (and a writer stuck at shutdown) may take.
pub(super) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The socket, either kind.
pub(super) enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    pub(super) fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
        })
    }
    pub(super) fn set_timeouts(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Unix(s) => {
                s.set_read_timeout(t)?;
                s.set_write_timeout(t)
            }
            Stream::Tcp(s) => {
                s.set_read_timeout(t)?;
                s.set_write_timeout(t)
            }
        }
    }
    pub(super) fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_write_timeout(t),
            Stream::Tcp(s) => s.set_write_timeout(t),
        }
    }
    pub(super) fn fd(&self) -> RawFd {
        match self {
            Stream::Unix(s) => s.as_raw_fd(),
            Stream::Tcp(s) => s.as_raw_fd(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(b),
            Stream::Tcp(s) => s.read(b),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(b),
            Stream::Tcp(s) => s.write(b),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What `NBD_OPT_GO` told us about the export.
#[derive(Debug, Clone, Copy)]
pub(super) struct ExportInfo {
    pub(super) size: u64,
    pub(super) flags: u16,
    pub(super) block_size: u32,
    pub(super) max_payload: u32,
}

pub(super) fn be_u16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}
pub(super) fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}
pub(super) fn be_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

pub(super) fn read_exact_io(s: &mut Stream, b: &mut [u8]) -> Result<()> {
    s.read_exact(b).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            Error::EIO
        } else {
            Error::from(e)
        }
    })
}

/// The errno for an `NBD_REP_ERR_*` reply.
pub(super) fn option_error(t: u32) -> Error {
    match t & !REP_ERR {
        1 | 4 => Error::EOPNOTSUPP, // UNSUP, PLATFORM
        2 | 5 => Error::EPERM,      // POLICY, TLS_REQD
        3 | 8 | 9 => Error::EINVAL, // INVALID, BLOCK_SIZE_REQD, TOO_BIG
        6 => Error::ENOENT,         // UNKNOWN: no such export
        7 => Error::from_errno(libc::ESHUTDOWN),
        _ => Error::EIO,
    }
}

/// The errno for a transmission-phase error from the server.
pub(super) fn request_error(e: u32) -> Error {
    match e {
        1 => Error::EPERM,
        5 => Error::EIO,
        12 => Error::ENOMEM,
        22 => Error::EINVAL,
        28 => Error::ENOSPC,
        75 => Error::EOVERFLOW,
        95 => Error::EOPNOTSUPP,
        108 => Error::from_errno(libc::ESHUTDOWN),
        _ => Error::EIO,
    }
}

pub(super) fn handshake(s: &mut Stream, export: &str) -> Result<ExportInfo> {
    let mut hello = [0u8; 18];
    read_exact_io(s, &mut hello)?;
    if be_u64(&hello[0..]) != NBDMAGIC {
        return Err(Error::EIO);
    }
    if be_u64(&hello[8..]) != IHAVEOPT {
        // An oldstyle server: not supported.
        return Err(Error::EOPNOTSUPP);
    }
    let hflags = be_u16(&hello[16..]);
    if hflags & FLAG_FIXED_NEWSTYLE == 0 {
        return Err(Error::EOPNOTSUPP);
    }
    let cflags = u32::from(hflags & (FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES));
    let name = export.as_bytes();
    let name_len = u32::try_from(name.len()).map_err(|_| Error::EINVAL)?;
    if name.len() > 4096 {
        return Err(Error::EINVAL);
    }
    let mut m = Vec::with_capacity(32 + name.len());
    m.extend_from_slice(&cflags.to_be_bytes());
    m.extend_from_slice(&IHAVEOPT.to_be_bytes());
    m.extend_from_slice(&OPT_GO.to_be_bytes());
    m.extend_from_slice(&(4 + name_len + 2 + 2).to_be_bytes());
    m.extend_from_slice(&name_len.to_be_bytes());
    m.extend_from_slice(name);
    m.extend_from_slice(&1u16.to_be_bytes());
    m.extend_from_slice(&INFO_BLOCK_SIZE.to_be_bytes());
    s.write_all(&m)?;

    let mut size = None;
    let mut flags = 0u16;
    let mut block_size = 512u32;
    let mut max_payload = DEFAULT_MAX_PAYLOAD;
    loop {
        let mut h = [0u8; 20];
        read_exact_io(s, &mut h)?;
        if be_u64(&h[0..]) != OPT_REPLY_MAGIC || be_u32(&h[8..]) != OPT_GO {
            return Err(Error::EIO);
        }
        let rtype = be_u32(&h[12..]);
        let len = be_u32(&h[16..]) as usize;
        if len > 1 << 20 {
            return Err(Error::EIO);
        }
        let mut data = vec![0u8; len];
        read_exact_io(s, &mut data)?;
        if rtype & REP_ERR != 0 {
            return Err(option_error(rtype));
        }
        match rtype {
            REP_ACK => break,
            REP_INFO if len >= 2 => match be_u16(&data) {
                INFO_EXPORT if len >= 12 => {
                    size = Some(be_u64(&data[2..]));
                    flags = be_u16(&data[10..]);
                }
                INFO_BLOCK_SIZE if len >= 14 => {
                    let min = be_u32(&data[2..]);
                    let max = be_u32(&data[10..]);
                    if min.is_power_of_two() {
                        block_size = min.max(512);
                    }
                    if max > 0 {
                        max_payload = max.min(DEFAULT_MAX_PAYLOAD);
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
    let size = size.ok_or(Error::EIO)?;
    let max_payload = max_payload / block_size * block_size;
    Ok(ExportInfo {
        size,
        flags,
        block_size,
        max_payload: max_payload.max(block_size),
    })
}

pub(super) fn header(kind: u16, cookie: u64, offset: u64, len: u32) -> [u8; 28] {
    let mut h = [0u8; 28];
    h[0..4].copy_from_slice(&REQUEST_MAGIC.to_be_bytes());
    // h[4..6]: command flags, none.
    h[6..8].copy_from_slice(&kind.to_be_bytes());
    h[8..16].copy_from_slice(&cookie.to_be_bytes());
    h[16..24].copy_from_slice(&offset.to_be_bytes());
    h[24..28].copy_from_slice(&len.to_be_bytes());
    h
}

//! The one error type of the workspace: a POSIX errno value.
//!
//! Every layer reports failures as an [`Error`], which is nothing but a
//! positive `errno` from libc. Conversion to and from libc's integers and
//! from [`std::io::Error`] happens here and nowhere else; the C ABI in
//! `aio-posix` turns an [`Error`] into `errno` with [`Error::errno`].

use std::fmt;

/// A POSIX error number (always positive).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Error(i32);

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

macro_rules! errnos {
    ($($(#[$m:meta])* $name:ident),* $(,)?) => {
        impl Error {
            $(
                $(#[$m])*
                pub const $name: Error = Error(libc::$name);
            )*

            /// The symbolic name of a well-known errno, if this is one.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $(libc::$name => Some(stringify!($name)),)*
                    _ => None,
                }
            }
        }
    };
}

errnos! {
    /// Operation not permitted.
    EPERM,
    /// No such file or directory.
    ENOENT,
    /// Interrupted by a signal.
    EINTR,
    /// Input/output error.
    EIO,
    /// Bad file descriptor.
    EBADF,
    /// Resource temporarily unavailable (a limit was reached).
    EAGAIN,
    /// Out of memory.
    ENOMEM,
    /// Resource busy.
    EBUSY,
    /// Invalid argument.
    EINVAL,
    /// No space left on device.
    ENOSPC,
    /// Illegal seek.
    ESPIPE,
    /// Broken pipe.
    EPIPE,
    /// Function not implemented.
    ENOSYS,
    /// Operation not supported.
    EOPNOTSUPP,
    /// Value too large for the data type.
    EOVERFLOW,
    /// Operation canceled.
    ECANCELED,
    /// Operation in progress.
    EINPROGRESS,
    /// Operation already in progress.
    EALREADY,
    /// Connection reset by peer.
    ECONNRESET,
    /// Timed out.
    ETIMEDOUT,
    /// Not connected.
    ENOTCONN,
}

impl Error {
    /// Wraps a libc errno. A value that is not positive becomes `EIO`, so a
    /// confused caller can never produce "success" by accident.
    #[inline]
    pub const fn from_errno(errno: i32) -> Error {
        if errno > 0 {
            Error(errno)
        } else {
            Error(libc::EIO)
        }
    }

    /// The positive libc errno.
    #[inline]
    pub const fn errno(self) -> i32 {
        self.0
    }

    /// Decodes a kernel-style result: negative is `-errno`, otherwise a byte
    /// count (io_uring's `cqe.res`, a syscall's raw return).
    #[inline]
    pub fn check_res(res: i64) -> Result<usize> {
        if res < 0 {
            Err(Error::from_errno(i32::try_from(-res).unwrap_or(libc::EIO)))
        } else {
            usize::try_from(res).map_err(|_| Error::EOVERFLOW)
        }
    }

    /// Encodes a result the kernel way: the byte count, or `-errno`.
    #[inline]
    pub fn to_res(r: Result<usize>) -> i64 {
        match r {
            Ok(n) => i64::try_from(n).unwrap_or(i64::MAX),
            Err(e) => -i64::from(e.0),
        }
    }

    /// The last OS error of this thread (`errno`).
    pub fn last_os_error() -> Error {
        Error::from(std::io::Error::last_os_error())
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        match e.raw_os_error() {
            Some(n) => Error::from_errno(n),
            None => match e.kind() {
                std::io::ErrorKind::InvalidInput => Error::EINVAL,
                std::io::ErrorKind::NotFound => Error::ENOENT,
                std::io::ErrorKind::PermissionDenied => Error::EPERM,
                std::io::ErrorKind::WouldBlock => Error::EAGAIN,
                std::io::ErrorKind::Interrupted => Error::EINTR,
                std::io::ErrorKind::TimedOut => Error::ETIMEDOUT,
                std::io::ErrorKind::BrokenPipe => Error::EPIPE,
                std::io::ErrorKind::ConnectionReset => Error::ECONNRESET,
                std::io::ErrorKind::NotConnected => Error::ENOTCONN,
                std::io::ErrorKind::OutOfMemory => Error::ENOMEM,
                std::io::ErrorKind::Unsupported => Error::EOPNOTSUPP,
                _ => Error::EIO,
            },
        }
    }
}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        std::io::Error::from_raw_os_error(e.0)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}"),
            None => write!(f, "Error({})", self.0),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let msg = std::io::Error::from_raw_os_error(self.0);
        match self.name() {
            Some(n) => write!(f, "{n}: {msg}"),
            None => write!(f, "{msg}"),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_libc_and_io() {
        for e in [Error::EINVAL, Error::EIO, Error::ECANCELED, Error::ENOSPC] {
            assert_eq!(Error::from_errno(e.errno()), e);
            let io: std::io::Error = e.into();
            assert_eq!(Error::from(io), e);
        }
        assert_eq!(Error::EINVAL.errno(), libc::EINVAL);
        assert_eq!(Error::from_errno(0), Error::EIO);
        assert_eq!(Error::from_errno(-5), Error::EIO);
    }

    #[test]
    fn kernel_style_results() {
        assert_eq!(Error::check_res(-i64::from(libc::EBADF)), Err(Error::EBADF));
        assert_eq!(Error::check_res(4096), Ok(4096));
        assert_eq!(Error::to_res(Err(Error::EAGAIN)), -i64::from(libc::EAGAIN));
        assert_eq!(Error::to_res(Ok(7)), 7);
    }

    #[test]
    fn display_names_the_errno() {
        assert!(Error::ECANCELED.to_string().starts_with("ECANCELED: "));
        assert_eq!(format!("{:?}", Error::EOVERFLOW), "EOVERFLOW");
        assert_eq!(format!("{:?}", Error::from_errno(4000)), "Error(4000)");
    }
}

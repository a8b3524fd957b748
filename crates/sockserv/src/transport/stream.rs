//! One accepted connection ([`Stream`]) and the shared datagram socket ([`DatagramSocket`]).

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::PathBuf;
use std::time::Duration;

use crate::endpoint::PeerAddr;

/// An accepted stream connection: TCP or Unix.
#[derive(Debug)]
pub enum Stream {
    /// A TCP connection.
    Tcp(TcpStream),
    /// A Unix stream connection.
    Unix(UnixStream),
}

macro_rules! each {
    ($self:expr, $s:ident => $body:expr) => {
        match $self {
            Stream::Tcp($s) => $body,
            Stream::Unix($s) => $body,
        }
    };
}

impl Stream {
    /// Shuts down the read, write or both halves (`shutdown(2)`).
    ///
    /// # Errors
    ///
    /// The OS error (for example `NotConnected` once the peer is gone).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        each!(self, s => s.shutdown(how))
    }

    /// Sets the read timeout (`None`: block forever).
    ///
    /// # Errors
    ///
    /// The OS error; a zero duration is refused by std.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        each!(self, s => s.set_read_timeout(timeout))
    }

    /// Sets the write timeout (`None`: block forever).
    ///
    /// # Errors
    ///
    /// The OS error; a zero duration is refused by std.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        each!(self, s => s.set_write_timeout(timeout))
    }

    /// The read timeout set on the socket.
    ///
    /// # Errors
    ///
    /// The OS error.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        each!(self, s => s.read_timeout())
    }

    /// The write timeout set on the socket.
    ///
    /// # Errors
    ///
    /// The OS error.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        each!(self, s => s.write_timeout())
    }

    /// Switches non-blocking mode.
    ///
    /// # Errors
    ///
    /// The OS error.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        each!(self, s => s.set_nonblocking(on))
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// The OS error (`NotConnected` once the peer is gone).
    pub fn peer_addr(&self) -> io::Result<PeerAddr> {
        match self {
            Stream::Tcp(s) => s.peer_addr().map(PeerAddr::Inet),
            Stream::Unix(s) => s
                .peer_addr()
                .map(|a| PeerAddr::Unix(a.as_pathname().map(PathBuf::from))),
        }
    }

    /// A second handle to the same connection.
    ///
    /// # Errors
    ///
    /// The OS error of `dup`.
    pub fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
        })
    }
}

impl Read for &Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        each!(*self, s => (&*s).read(buf))
    }
}

impl Write for &Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        each!(*self, s => (&*s).write(buf))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        each!(*self, s => (&*s).write_vectored(bufs))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        each!(self, s => s.as_fd())
    }
}

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

/// The server's datagram socket, shared by the workers that send replies.
#[derive(Debug)]
pub(crate) enum DatagramSocket {
    /// A UDP socket.
    Udp(UdpSocket),
    /// A Unix datagram socket.
    Unix(UnixDatagram),
}

impl DatagramSocket {
    /// Sends `data` as one datagram to `peer`.
    ///
    /// # Errors
    ///
    /// The OS error; `InvalidInput` for an unnamed Unix peer (there is no address to
    /// reply to) or an address of the wrong family.
    pub(crate) fn send_to(&self, data: &[u8], peer: &PeerAddr) -> io::Result<usize> {
        match (self, peer) {
            (DatagramSocket::Udp(s), PeerAddr::Inet(a)) => s.send_to(data, a),
            (DatagramSocket::Unix(s), PeerAddr::Unix(Some(path))) => s.send_to(data, path),
            (DatagramSocket::Unix(_), PeerAddr::Unix(None)) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the peer's socket is unnamed: no address to reply to",
            )),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "peer address of the wrong family",
            )),
        }
    }
}

impl AsFd for DatagramSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            DatagramSocket::Udp(s) => s.as_fd(),
            DatagramSocket::Unix(s) => s.as_fd(),
        }
    }
}

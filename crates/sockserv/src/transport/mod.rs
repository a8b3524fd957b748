//! Sockets by hand: a [`Listener`] bound with explicit [`SocketOptions`] or inherited
//! from a parent ([`claim_inherited_fd`], socket activation), an [`UnboundSocket`] to
//! configure before it binds, and the [`Stream`] of an accepted connection. One file per
//! transport concern (socket2 underneath).

mod inet;
mod inherited;
mod stream;
mod unix;

use std::fmt;
use std::io;
use std::net::{TcpListener, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::path::PathBuf;

pub use crate::server::ListenerHandle;
pub use crate::sys::{claim_inherited_fd, pass_fds, take_passed_fds};
pub(crate) use stream::DatagramSocket;
pub use stream::Stream;
pub use unbound::UnboundSocket;

use crate::endpoint::{Endpoint, PeerAddr};
use crate::error::Error;

mod unbound;

/// Socket options applied before `bind`/`listen`. Every field is set explicitly on the
/// socket; nothing is left to platform defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SocketOptions {
    /// `SO_REUSEADDR` (TCP only). Default **true**, unlike Python: a restarted server can
    /// bind its port while connections of the previous run sit in TIME_WAIT. (Rust's std
    /// `TcpListener::bind` sets it too.) It does not let two live servers share a port;
    /// it is not set on UDP sockets, where Linux would let two live servers share one.
    pub reuse_address: bool,
    /// `SO_REUSEPORT` (TCP/UDP only): several sockets, in one process or many, share one
    /// port and the kernel spreads connections over them. Default false. Refused with
    /// [`Error::Unsupported`] on Unix sockets.
    pub reuse_port: bool,
    /// The `listen` backlog for stream endpoints. Default `SOMAXCONN` (Python's 5 resets
    /// bursts of clients); the kernel caps it at `net.core.somaxconn`.
    pub backlog: i32,
    /// `TCP_NODELAY` on every accepted TCP connection. Default true: request/response
    /// servers otherwise pay Nagle's delay on small replies. Ignored on Unix sockets.
    pub nodelay: bool,
    /// `IPV6_V6ONLY` for IPv6 endpoints: `None` keeps the OS default.
    pub only_v6: Option<bool>,
    /// For Unix endpoints: if the path exists but nobody accepts connections on it (a
    /// crashed server's leftover: connecting is refused), remove it and bind. Default
    /// true, so a server killed by a crash or `kill -9` starts again without hand work.
    /// A live server's socket is never removed, and neither is a file that is not a
    /// socket (binding over it fails with `AddrInUse`). Set false to fail instead.
    pub replace_stale_unix_socket: bool,
    /// Remove the Unix socket file when the server closes. Default true.
    pub unlink_on_close: bool,
}

impl Default for SocketOptions {
    fn default() -> Self {
        SocketOptions {
            reuse_address: true,
            reuse_port: false,
            backlog: libc::SOMAXCONN,
            nodelay: true,
            only_v6: None,
            replace_stale_unix_socket: true,
            unlink_on_close: true,
        }
    }
}

pub(crate) enum Kind {
    Tcp(TcpListener),
    Unix(UnixListener),
    Udp(UdpSocket),
    UnixDatagram(UnixDatagram),
}

/// A bound socket ready to serve: a listening stream socket or a bound datagram socket.
///
/// Built by [`Listener::bind`], by the two-phase [`UnboundSocket`], or adopted from an
/// already-bound std socket with `From` (socket activation, tests). A Unix socket file the
/// listener created is removed when it is dropped, if `unlink_on_close` says so.
pub struct Listener {
    pub(crate) kind: Kind,
    endpoint: Endpoint,
    _file: unix::SocketFile,
    pub(crate) nodelay: bool,
}

impl Listener {
    /// Creates the socket, applies `options`, binds and (for streams) listens.
    ///
    /// # Errors
    ///
    /// [`Error::Bind`] naming the endpoint and the OS error (the socket is closed again,
    /// nothing leaks); [`Error::Unsupported`] for `reuse_port` on a Unix socket.
    pub fn bind(endpoint: &Endpoint, options: &SocketOptions) -> Result<Listener, Error> {
        let mut socket = UnboundSocket::new(endpoint, options)?;
        socket.bind()?;
        socket.listen()
    }

    /// The real endpoint: with port 0, the port the OS picked.
    pub fn local_endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Leaves the Unix socket file this listener created on disk when it is dropped:
    /// another process serves the same socket now (a hand-over, see
    /// [`pass_fds`]).
    pub fn keep_socket_file(&mut self) {
        self._file = std::mem::take(&mut self._file).keep();
    }

    /// Whether dropping this listener removes a Unix socket file (it created the file).
    pub fn owns_socket_file(&self) -> bool {
        self._file.path().is_some()
    }

    /// Removes this Unix socket's file when the listener is dropped, as if it had created
    /// it: the process a hand-over passed the socket to takes the file over once it is
    /// the one serving. Nothing changes for other endpoints.
    pub fn adopt_socket_file(&mut self) {
        if let (Endpoint::Unix(path) | Endpoint::UnixDatagram(path), None) =
            (&self.endpoint, self._file.path())
        {
            self._file = unix::SocketFile::new(path.clone());
        }
    }

    /// Whether this is a datagram socket.
    pub fn is_datagram(&self) -> bool {
        matches!(self.kind, Kind::Udp(_) | Kind::UnixDatagram(_))
    }

    pub(crate) fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match &self.kind {
            Kind::Tcp(l) => l.set_nonblocking(on),
            Kind::Unix(l) => l.set_nonblocking(on),
            Kind::Udp(s) => s.set_nonblocking(on),
            Kind::UnixDatagram(s) => s.set_nonblocking(on),
        }
    }

    /// Accepts one connection (the listener is non-blocking; `WouldBlock` when none).
    pub(crate) fn accept(&self) -> io::Result<(Stream, PeerAddr)> {
        let (stream, peer) = match &self.kind {
            Kind::Tcp(l) => {
                let (s, peer) = l.accept()?;
                if self.nodelay {
                    s.set_nodelay(true)?;
                }
                (Stream::Tcp(s), PeerAddr::Inet(peer))
            }
            Kind::Unix(l) => {
                let (s, peer) = l.accept()?;
                let path = peer.as_pathname().map(PathBuf::from);
                (Stream::Unix(s), PeerAddr::Unix(path))
            }
            Kind::Udp(_) | Kind::UnixDatagram(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "accept on a datagram socket",
                ))
            }
        };
        // Handlers block. Linux's accept never passes the listener's O_NONBLOCK on (one
        // syscall saved per connection); BSD and macOS do, so clear it there.
        #[cfg(not(target_os = "linux"))]
        stream.set_nonblocking(false)?;
        Ok((stream, peer))
    }

    /// Receives one datagram (the socket is non-blocking; `WouldBlock` when none).
    pub(crate) fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, PeerAddr)> {
        match &self.kind {
            Kind::Udp(s) => s.recv_from(buf).map(|(n, a)| (n, PeerAddr::Inet(a))),
            Kind::UnixDatagram(s) => s
                .recv_from(buf)
                .map(|(n, a)| (n, PeerAddr::Unix(a.as_pathname().map(PathBuf::from)))),
            Kind::Tcp(_) | Kind::Unix(_) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "recv on a stream listener",
            )),
        }
    }

    /// A shared handle to the datagram socket (for replies from workers).
    pub(crate) fn datagram_socket(&self) -> io::Result<DatagramSocket> {
        match &self.kind {
            Kind::Udp(s) => Ok(DatagramSocket::Udp(s.try_clone()?)),
            Kind::UnixDatagram(s) => Ok(DatagramSocket::Unix(s.try_clone()?)),
            Kind::Tcp(_) | Kind::Unix(_) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a datagram socket",
            )),
        }
    }

    fn from_kind(kind: Kind, file: unix::SocketFile, nodelay: bool) -> io::Result<Listener> {
        let endpoint = match &kind {
            Kind::Tcp(l) => Endpoint::Tcp(l.local_addr()?),
            Kind::Udp(s) => Endpoint::Udp(s.local_addr()?),
            Kind::Unix(l) => Endpoint::Unix(unix::path_of(&l.local_addr()?)),
            Kind::UnixDatagram(s) => Endpoint::UnixDatagram(unix::path_of(&s.local_addr()?)),
        };
        Ok(Listener {
            kind,
            endpoint,
            _file: file,
            nodelay,
        })
    }
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.kind {
            Kind::Tcp(l) => l.as_fd(),
            Kind::Unix(l) => l.as_fd(),
            Kind::Udp(s) => s.as_fd(),
            Kind::UnixDatagram(s) => s.as_fd(),
        }
    }
}

impl AsRawFd for Listener {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

macro_rules! adopt {
    ($std:ty, $variant:ident) => {
        impl TryFrom<$std> for Listener {
            type Error = io::Error;

            /// Adopts an already-bound (and, for streams, listening) std socket. Its
            /// options are left as they are, and no socket file is removed on close.
            fn try_from(socket: $std) -> io::Result<Listener> {
                Listener::from_kind(Kind::$variant(socket), unix::SocketFile::default(), false)
            }
        }
    };
}

adopt!(TcpListener, Tcp);
adopt!(UnixListener, Unix);
adopt!(UdpSocket, Udp);
adopt!(UnixDatagram, UnixDatagram);

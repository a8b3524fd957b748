//! Two-phase construction: create and configure a socket, bind it, then listen.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use socket2::{SockAddr, Socket, Type};

use super::unix::SocketFile;
use super::{inet, unix, Kind, Listener, SocketOptions};
use crate::endpoint::Endpoint;
use crate::error::{Error, Unsupported};

/// A socket created and configured but not yet serving: Python's
/// `bind_and_activate=False`.
///
/// Set any extra option on the descriptor (it is [`AsFd`]: `socket2::SockRef::from(&socket)`
/// reaches every option), then
/// [`bind`](UnboundSocket::bind) (after which [`local_endpoint`](UnboundSocket::local_endpoint)
/// reports the real port), then [`listen`](UnboundSocket::listen). Dropping it at any
/// step closes the socket.
///
/// # Examples
///
/// ```
/// use sockserv::transport::{SocketOptions, UnboundSocket};
/// use sockserv::Endpoint;
///
/// let ep: Endpoint = "127.0.0.1:0".parse().unwrap();
/// let mut socket = UnboundSocket::new(&ep, &SocketOptions::default()).unwrap();
/// socket2::SockRef::from(&socket).set_recv_buffer_size(1 << 16).unwrap();
/// socket.bind().unwrap();
/// let port = socket.local_endpoint().unwrap().socket_addr().unwrap().port();
/// assert_ne!(port, 0);
/// let listener = socket.listen().unwrap();
/// assert_eq!(listener.local_endpoint().socket_addr().unwrap().port(), port);
/// ```
pub struct UnboundSocket {
    socket: Socket,
    endpoint: Endpoint,
    options: SocketOptions,
    created: SocketFile,
}

impl UnboundSocket {
    /// Creates the socket for `endpoint` and applies `options` to it.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] for `reuse_port` on a Unix endpoint; [`Error::Bind`] if the
    /// OS refuses to create or configure the socket.
    pub fn new(endpoint: &Endpoint, options: &SocketOptions) -> Result<UnboundSocket, Error> {
        let socket = match endpoint {
            Endpoint::Tcp(addr) => inet::socket(*addr, Type::STREAM, options),
            Endpoint::Udp(addr) => inet::socket(*addr, Type::DGRAM, options),
            Endpoint::Unix(_) | Endpoint::UnixDatagram(_) if options.reuse_port => {
                return Err(Unsupported::ReusePortOnUnix {
                    endpoint: endpoint.clone(),
                }
                .into())
            }
            Endpoint::Unix(_) => unix::socket(Type::STREAM),
            Endpoint::UnixDatagram(_) => unix::socket(Type::DGRAM),
        }
        .map_err(|source| Error::Bind {
            endpoint: endpoint.clone(),
            source,
        })?;
        Ok(UnboundSocket {
            socket,
            endpoint: endpoint.clone(),
            options: options.clone(),
            created: SocketFile::default(),
        })
    }

    /// Binds to the endpoint's address.
    ///
    /// # Errors
    ///
    /// [`Error::Bind`] naming the endpoint and the OS error (for example "Address already
    /// in use").
    pub fn bind(&mut self) -> Result<(), Error> {
        let result = match &self.endpoint {
            Endpoint::Tcp(addr) | Endpoint::Udp(addr) => self.socket.bind(&SockAddr::from(*addr)),
            Endpoint::Unix(path) | Endpoint::UnixDatagram(path) => {
                let stream = matches!(self.endpoint, Endpoint::Unix(_));
                let r = unix::bind(
                    &self.socket,
                    path,
                    stream,
                    self.options.replace_stale_unix_socket,
                );
                if r.is_ok() {
                    self.created = SocketFile::new(path.clone());
                }
                r
            }
        };
        result.map_err(|source| Error::Bind {
            endpoint: self.endpoint.clone(),
            source,
        })
    }

    /// The bound endpoint, with the real port after [`bind`](UnboundSocket::bind).
    ///
    /// # Errors
    ///
    /// The OS error of `getsockname`.
    pub fn local_endpoint(&self) -> io::Result<Endpoint> {
        let addr = self.socket.local_addr()?;
        Ok(match &self.endpoint {
            Endpoint::Tcp(_) => Endpoint::Tcp(inet::addr(&addr)?),
            Endpoint::Udp(_) => Endpoint::Udp(inet::addr(&addr)?),
            other => other.clone(),
        })
    }

    /// Starts listening (streams; a no-op for datagrams) and returns the [`Listener`].
    ///
    /// # Errors
    ///
    /// [`Error::Bind`] if `listen` fails.
    pub fn listen(self) -> Result<Listener, Error> {
        let UnboundSocket {
            socket,
            endpoint,
            options,
            created,
        } = self;
        let fail = |source| Error::Bind {
            endpoint: endpoint.clone(),
            source,
        };
        if matches!(endpoint, Endpoint::Tcp(_) | Endpoint::Unix(_)) {
            socket.listen(options.backlog).map_err(fail)?;
        }
        let created = if options.unlink_on_close {
            created
        } else {
            created.keep()
        };
        let kind = match endpoint {
            Endpoint::Tcp(_) => Kind::Tcp(socket.into()),
            Endpoint::Udp(_) => Kind::Udp(socket.into()),
            Endpoint::Unix(_) => Kind::Unix(socket.into()),
            Endpoint::UnixDatagram(_) => Kind::UnixDatagram(socket.into()),
        };
        Listener::from_kind(kind, created, options.nodelay).map_err(fail)
    }
}

impl std::fmt::Debug for UnboundSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnboundSocket")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl AsFd for UnboundSocket {
    /// The socket, to set options sockserv does not cover (for example through
    /// `socket2::SockRef`).
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl AsRawFd for UnboundSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

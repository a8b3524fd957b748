//! A datagram client (UDP or Unix datagram) of one server endpoint.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sockserv::Endpoint;

use crate::{is_timeout, WAIT};

/// A client socket for one datagram endpoint. A Unix datagram client binds a path of its
/// own (so the server has somewhere to reply to), removed again on drop.
pub struct DatagramClient {
    socket: Socket,
}

enum Socket {
    Udp {
        socket: UdpSocket,
        server: SocketAddr,
    },
    Unix {
        socket: UnixDatagram,
        server: PathBuf,
        own: PathBuf,
    },
}

impl DatagramClient {
    /// A client of `endpoint`: UDP on the server's address family, or a Unix datagram
    /// socket bound to a fresh path in `dir`. Panics on a stream endpoint.
    pub fn new(endpoint: &Endpoint, dir: &Path) -> DatagramClient {
        let socket = match endpoint {
            Endpoint::Udp(server) => {
                let any: SocketAddr = if server.is_ipv4() {
                    "127.0.0.1:0".parse().unwrap()
                } else {
                    "[::1]:0".parse().unwrap()
                };
                Socket::Udp {
                    socket: UdpSocket::bind(any).expect("udp client"),
                    server: *server,
                }
            }
            Endpoint::UnixDatagram(server) => {
                static NEXT: AtomicUsize = AtomicUsize::new(0);
                let own = dir.join(format!(
                    "client-{}.sock",
                    NEXT.fetch_add(1, Ordering::Relaxed)
                ));
                Socket::Unix {
                    socket: UnixDatagram::bind(&own).expect("unixgram client"),
                    server: server.clone(),
                    own,
                }
            }
            other => panic!("{other} is not a datagram endpoint"),
        };
        DatagramClient { socket }
    }

    /// Sends one datagram to the server.
    pub fn send(&self, data: &[u8]) {
        match &self.socket {
            Socket::Udp { socket, server } => socket.send_to(data, server),
            Socket::Unix { socket, server, .. } => socket.send_to(data, server),
        }
        .expect("send a datagram");
    }

    /// The next datagram, waiting at most `timeout`.
    pub fn recv(&self, timeout: Duration) -> io::Result<Vec<u8>> {
        self.recv_from(timeout).map(|(data, _)| data)
    }

    /// A bounded negative check: asserts no datagram arrives within `window`.
    pub fn assert_nothing_for(&self, window: Duration, what: &str) {
        match self.recv(window) {
            Err(e) if is_timeout(&e) => {}
            other => panic!("{what}: expected no datagram within {window:?}, got {other:?}"),
        }
    }

    /// The next datagram and, over UDP, where it came from.
    fn recv_from(&self, timeout: Duration) -> io::Result<(Vec<u8>, Option<SocketAddr>)> {
        let mut buf = vec![0; 65536];
        let (n, from) = match &self.socket {
            Socket::Udp { socket, .. } => {
                socket.set_read_timeout(Some(timeout))?;
                let (n, from) = socket.recv_from(&mut buf)?;
                (n, Some(from))
            }
            Socket::Unix { socket, .. } => {
                socket.set_read_timeout(Some(timeout))?;
                (socket.recv(&mut buf)?, None)
            }
        };
        buf.truncate(n);
        Ok((buf, from))
    }

    /// Sends `data` and returns the reply (within [`WAIT`]), which over UDP must come
    /// from the server's own address.
    pub fn round_trip(&self, data: &[u8]) -> io::Result<Vec<u8>> {
        self.send(data);
        let (reply, from) = self.recv_from(WAIT)?;
        if let (Socket::Udp { server, .. }, Some(from)) = (&self.socket, from) {
            assert_eq!(from, *server, "the reply comes from the server's address");
        }
        Ok(reply)
    }
}

impl Drop for DatagramClient {
    fn drop(&mut self) {
        if let Socket::Unix { own, .. } = &self.socket {
            let _ = std::fs::remove_file(own);
        }
    }
}

//! Where a server listens: [`Endpoint`] (`tcp://`, `udp://`, `unix:`, `unixgram:`) and
//! who is on the other end: [`PeerAddr`].

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// A listening address: transport plus address, parsed from and printed as a URL.
///
/// | text | meaning |
/// |---|---|
/// | `tcp://HOST:PORT`, or a bare `HOST:PORT` | TCP stream (IPv4 or IPv6: `tcp://[::1]:9000`) |
/// | `udp://HOST:PORT` | UDP datagrams |
/// | `unix:PATH` | Unix stream socket at a filesystem path |
/// | `unixgram:PATH` | Unix datagram socket at a filesystem path |
///
/// `HOST` may be an IP literal or a name (`localhost`), resolved once while parsing to its
/// first address. Port `0` asks the OS for a free port; the bound server reports the real
/// one (see `Server::local_endpoint`).
///
/// # Examples
///
/// ```
/// use sockserv::Endpoint;
///
/// let ep: Endpoint = "127.0.0.1:9000".parse().unwrap();
/// assert_eq!(ep.to_string(), "tcp://127.0.0.1:9000");
/// let ep: Endpoint = "unixgram:/tmp/echo.sock".parse().unwrap();
/// assert!(ep.is_datagram());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// A TCP listener.
    Tcp(SocketAddr),
    /// A UDP socket.
    Udp(SocketAddr),
    /// A Unix stream listener bound to a path.
    Unix(PathBuf),
    /// A Unix datagram socket bound to a path.
    UnixDatagram(PathBuf),
}

impl Endpoint {
    /// Whether this endpoint carries datagrams (UDP, Unix datagram) rather than streams.
    pub fn is_datagram(&self) -> bool {
        matches!(self, Endpoint::Udp(_) | Endpoint::UnixDatagram(_))
    }

    /// The IP address and port, for TCP and UDP endpoints.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match self {
            Endpoint::Tcp(addr) | Endpoint::Udp(addr) => Some(*addr),
            Endpoint::Unix(_) | Endpoint::UnixDatagram(_) => None,
        }
    }

    /// The filesystem path, for Unix endpoints.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Endpoint::Unix(path) | Endpoint::UnixDatagram(path) => Some(path),
            Endpoint::Tcp(_) | Endpoint::Udp(_) => None,
        }
    }

    /// The URL scheme: `tcp`, `udp`, `unix` or `unixgram`.
    pub fn scheme(&self) -> &'static str {
        match self {
            Endpoint::Tcp(_) => "tcp",
            Endpoint::Udp(_) => "udp",
            Endpoint::Unix(_) => "unix",
            Endpoint::UnixDatagram(_) => "unixgram",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp(addr) | Endpoint::Udp(addr) => write!(f, "{}://{addr}", self.scheme()),
            Endpoint::Unix(path) | Endpoint::UnixDatagram(path) => {
                // The parser drops a leading "//" (unix://PATH); a path that starts with
                // "//" itself keeps it by printing that courtesy prefix too.
                let courtesy = if path.as_os_str().as_encoded_bytes().starts_with(b"//") {
                    "//"
                } else {
                    ""
                };
                write!(f, "{}:{courtesy}{}", self.scheme(), path.display())
            }
        }
    }
}

/// Why a string is not an [`Endpoint`]. Its `Display` is one line naming the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseEndpointError {
    input: String,
    reason: String,
}

impl fmt::Display for ParseEndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid endpoint {:?}: {}", self.input, self.reason)
    }
}

impl std::error::Error for ParseEndpointError {}

impl FromStr for Endpoint {
    type Err = ParseEndpointError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |reason: &str| ParseEndpointError {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        if let Some(path) = input.strip_prefix("unixgram:") {
            return unix_path(path).map(Endpoint::UnixDatagram).map_err(&fail);
        }
        if let Some(path) = input.strip_prefix("unix:") {
            return unix_path(path).map(Endpoint::Unix).map_err(&fail);
        }
        if let Some(rest) = input.strip_prefix("tcp://") {
            return host_port(rest).map(Endpoint::Tcp).map_err(|r| fail(&r));
        }
        if let Some(rest) = input.strip_prefix("udp://") {
            return host_port(rest).map(Endpoint::Udp).map_err(|r| fail(&r));
        }
        if let Some((scheme, _)) = input.split_once("://") {
            return Err(fail(&format!(
                "unknown scheme {scheme:?} (use tcp://, udp://, unix: or unixgram:)"
            )));
        }
        host_port(input).map(Endpoint::Tcp).map_err(|r| fail(&r))
    }
}

impl TryFrom<&str> for Endpoint {
    type Error = ParseEndpointError;

    /// Parses like [`str::parse`], so a builder takes `"tcp://127.0.0.1:9000"` as is.
    fn try_from(text: &str) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl TryFrom<String> for Endpoint {
    type Error = ParseEndpointError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<SocketAddr> for Endpoint {
    /// A TCP endpoint, as a bare `HOST:PORT` parses.
    fn from(addr: SocketAddr) -> Self {
        Endpoint::Tcp(addr)
    }
}

fn unix_path(path: &str) -> Result<PathBuf, &'static str> {
    // A leading "//" (unix://path) is accepted as a courtesy to URL habits.
    let path = path.strip_prefix("//").unwrap_or(path);
    if path.is_empty() {
        return Err("missing socket path");
    }
    if path.contains('\0') {
        return Err("socket path contains a NUL byte");
    }
    // sun_path holds 108 bytes including the terminating NUL on Linux.
    if path.len() > 107 {
        return Err("socket path is longer than 107 bytes");
    }
    Ok(PathBuf::from(path))
}

fn host_port(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| "expected HOST:PORT".to_owned())?;
    if host.is_empty() {
        return Err("missing host before ':'".to_owned());
    }
    let port: u16 = port
        .parse()
        .map_err(|_| format!("port {port:?} is not a number from 0 to 65535"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve host {host:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("host {host:?} has no address"))
}

/// The address of the peer of a connection or datagram.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PeerAddr {
    /// An IPv4 or IPv6 peer.
    Inet(SocketAddr),
    /// A Unix socket peer; `None` when the peer's socket is unnamed (the usual case for
    /// stream clients, and for datagram clients that did not bind a path).
    Unix(Option<PathBuf>),
}

impl PeerAddr {
    /// The IP address and port, for an internet peer.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match self {
            PeerAddr::Inet(addr) => Some(*addr),
            PeerAddr::Unix(_) => None,
        }
    }
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerAddr::Inet(addr) => write!(f, "{addr}"),
            PeerAddr::Unix(Some(path)) => write!(f, "unix:{}", path.display()),
            PeerAddr::Unix(None) => f.write_str("unix:(unnamed)"),
        }
    }
}

impl From<SocketAddr> for PeerAddr {
    fn from(addr: SocketAddr) -> Self {
        PeerAddr::Inet(addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_every_scheme() {
        for text in [
            "tcp://127.0.0.1:9000",
            "udp://127.0.0.1:0",
            "tcp://[::1]:80",
            "unix:/tmp/a.sock",
            "unixgram:/tmp/b.sock",
            "unix:////tmp/c.sock",
        ] {
            let ep: Endpoint = text.parse().unwrap();
            assert_eq!(ep.to_string(), text);
        }
    }

    #[test]
    fn bare_host_port_is_tcp() {
        let ep: Endpoint = "127.0.0.1:0".parse().unwrap();
        assert_eq!(ep, Endpoint::Tcp("127.0.0.1:0".parse().unwrap()));
        let ep: Endpoint = "localhost:7".parse().unwrap();
        assert!(matches!(ep, Endpoint::Tcp(a) if a.port() == 7 && a.ip().is_loopback()));
    }

    #[test]
    fn rejects_bad_input_with_a_reason() {
        for (text, needle) in [
            ("http://x:1", "unknown scheme"),
            ("tcp://127.0.0.1", "HOST:PORT"),
            ("tcp://127.0.0.1:70000", "port"),
            ("tcp://:80", "missing host"),
            ("unix:", "missing socket path"),
            ("9000", "HOST:PORT"),
        ] {
            let err = text.parse::<Endpoint>().unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
            assert!(!err.contains('\n'));
        }
    }
}

//! What `sockserv bench` connects to: a TCP address or a Unix stream socket path.
use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

/// A stream endpoint the load generator can open many connections to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `tcp://HOST:PORT` or bare `HOST:PORT`, resolved once up front.
    Tcp(SocketAddr),
    /// `unix:PATH`: a Unix stream socket.
    Unix(PathBuf),
}

impl Target {
    /// Parses `tcp://HOST:PORT`, `HOST:PORT` or `unix:PATH`.
    ///
    /// # Errors
    ///
    /// A one-line message for datagram URLs (an echo load generator needs a stream),
    /// unknown schemes, and TCP addresses that do not resolve.
    pub fn parse(url: &str) -> Result<Self, String> {
        if let Some(path) = url
            .strip_prefix("unix://")
            .or_else(|| url.strip_prefix("unix:"))
        {
            if path.is_empty() {
                return Err(format!(
                    "{url}: a unix: URL needs a path, e.g. unix:/tmp/echo.sock"
                ));
            }
            return Ok(Target::Unix(PathBuf::from(path)));
        }
        if url.starts_with("udp:") || url.starts_with("unixgram:") {
            return Err(format!(
                "{url}: datagram endpoints are not supported; bench measures stream echo (use tcp:// or unix:)"
            ));
        }
        let hostport = match url.split_once("://") {
            Some(("tcp", rest)) => rest,
            Some((scheme, _)) => {
                return Err(format!(
                    "{url}: unknown scheme {scheme:?}; use tcp://HOST:PORT or unix:PATH"
                ))
            }
            None => url,
        };
        let mut addrs = hostport
            .to_socket_addrs()
            .map_err(|e| format!("{url}: not a HOST:PORT address ({e})"))?;
        addrs
            .next()
            .map(Target::Tcp)
            .ok_or_else(|| format!("{url}: resolves to no address"))
    }

    /// Starts a non-blocking connect; completion is reported by the poller.
    pub(crate) fn connect(&self) -> io::Result<Stream> {
        match self {
            Target::Tcp(addr) => {
                let stream = mio::net::TcpStream::connect(*addr)?;
                Ok(Stream::Tcp(stream))
            }
            Target::Unix(path) => mio::net::UnixStream::connect(path).map(Stream::Unix),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Tcp(addr) => write!(f, "tcp://{addr}"),
            Target::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// One load-generator connection, over either transport.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(mio::net::TcpStream),
    Unix(mio::net::UnixStream),
}

impl Stream {
    /// `Ok(true)` once a non-blocking connect has completed, `Ok(false)` while it is in
    /// progress, the socket's error if it failed.
    pub(crate) fn connect_finished(&self) -> io::Result<bool> {
        let (err, peer) = match self {
            Stream::Tcp(s) => (s.take_error()?, s.peer_addr().map(drop)),
            Stream::Unix(s) => (s.take_error()?, s.peer_addr().map(drop)),
        };
        if let Some(err) = err {
            return Err(err);
        }
        match peer {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Small echo messages must not wait for Nagle; a no-op for Unix sockets.
    pub(crate) fn set_nodelay(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nodelay(true),
            Stream::Unix(_) => Ok(()),
        }
    }

    pub(crate) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        use std::io::Read;
        match self {
            Stream::Tcp(s) => (&*s).read(buf),
            Stream::Unix(s) => (&*s).read(buf),
        }
    }

    pub(crate) fn write(&self, buf: &[u8]) -> io::Result<usize> {
        use std::io::Write;
        match self {
            Stream::Tcp(s) => (&*s).write(buf),
            Stream::Unix(s) => (&*s).write(buf),
        }
    }

    /// Shuts both directions so the server sees the close now; errors are moot here.
    pub(crate) fn shutdown(&self) {
        let _ = match self {
            Stream::Tcp(s) => s.shutdown(std::net::Shutdown::Both),
            Stream::Unix(s) => s.shutdown(std::net::Shutdown::Both),
        };
    }

    pub(crate) fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            Stream::Tcp(s) => s,
            Stream::Unix(s) => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_accepted_form() {
        let tcp = Target::Tcp("127.0.0.1:7000".parse().unwrap());
        assert_eq!(Target::parse("tcp://127.0.0.1:7000").unwrap(), tcp);
        assert_eq!(Target::parse("127.0.0.1:7000").unwrap(), tcp);
        assert_eq!(
            Target::parse("unix:/tmp/x.sock").unwrap(),
            Target::Unix("/tmp/x.sock".into())
        );
    }

    #[test]
    fn rejects_datagrams_and_unknown_schemes_in_one_line() {
        for url in [
            "udp://127.0.0.1:7000",
            "unixgram:/tmp/x",
            "http://x:1",
            "unix:",
            "nonsense",
        ] {
            let err = Target::parse(url).unwrap_err();
            assert!(!err.contains('\n'), "{err}");
        }
    }
}

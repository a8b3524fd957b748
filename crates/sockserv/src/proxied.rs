//! Serving behind a load balancer that speaks the PROXY protocol: who may send a header,
//! reading it, and the client address it carries.

use std::io::{self, Read};
use std::net::Shutdown;
use std::time::Duration;

use crate::acl::AccessList;
use crate::endpoint::PeerAddr;
use crate::proxy::{self, ProxyHeader};
use crate::transport::Stream;

/// How long a connection may take to send its PROXY header (balancers send it at once).
pub(crate) const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// The server-side PROXY protocol settings.
#[derive(Clone, Debug)]
pub(crate) struct ProxyConfig {
    /// Balancers allowed to connect (checked on the socket's own peer address). Unix
    /// socket peers are trusted: the socket file's permissions decide who connects.
    pub trusted: AccessList,
}

impl ProxyConfig {
    /// Whether `peer` (the socket's own peer) may send a PROXY header.
    pub(crate) fn trusts(&self, peer: &PeerAddr) -> bool {
        match peer {
            PeerAddr::Inet(addr) => self.trusted.permits(addr.ip()),
            PeerAddr::Unix(_) => true,
        }
    }
}

/// The client a header names: its source address, or (for `LOCAL`/`UNKNOWN`, a health
/// check from the balancer itself) the socket's own peer.
pub(crate) fn client_of(header: &ProxyHeader, socket_peer: &PeerAddr) -> PeerAddr {
    header
        .source()
        .map_or_else(|| socket_peer.clone(), PeerAddr::Inet)
}

/// Reads exactly the header from a blocking stream (nothing after it), within
/// [`HEADER_TIMEOUT`].
pub(crate) fn read_blocking(stream: &Stream) -> io::Result<ProxyHeader> {
    stream.set_read_timeout(Some(HEADER_TIMEOUT))?;
    let mut reader: &Stream = stream;
    let header = proxy::read_header(&mut reader);
    stream.set_read_timeout(None)?;
    header
}

/// The header of a non-blocking connection, gathered as bytes arrive.
#[derive(Debug, Default)]
pub(crate) struct HeaderBuffer {
    bytes: Vec<u8>,
}

impl HeaderBuffer {
    /// Reads what is there; `Ok(Some((header, rest)))` once complete, where `rest` are
    /// bytes that came after it (the client's first data).
    pub(crate) fn read_from(
        &mut self,
        stream: &Stream,
        buf: &mut [u8],
    ) -> io::Result<Option<(ProxyHeader, Vec<u8>)>> {
        loop {
            let n = match (&*stream).read(buf) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "closed before its PROXY header",
                    ))
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.bytes.extend_from_slice(&buf[..n]);
            match proxy::parse(&self.bytes)? {
                proxy::Parse::Done { header, consumed } => {
                    let rest = self.bytes.split_off(consumed);
                    return Ok(Some((header, rest)));
                }
                proxy::Parse::Incomplete { .. } => {}
            }
        }
    }
}

/// Ends a connection refused before any handler ran.
pub(crate) fn refuse(stream: &Stream) {
    let _ = stream.shutdown(Shutdown::Both);
}

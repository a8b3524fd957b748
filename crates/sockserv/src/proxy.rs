//! The HAProxy PROXY protocol, v1 (text) and v2 (binary): a sans-IO [`parse`] of the
//! header a load balancer sends ahead of the client's bytes, and a blocking [`read_header`].
//!
//! Only accept the header from peers you trust (see [`crate::acl::AccessList`]): anyone
//! who can connect directly can claim any source address with it.

use std::fmt;
use std::io::{self, Read};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

mod v1;
mod v2;

/// The 12 bytes every v2 header starts with.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// The longest v1 header, `\r\n` included (the spec's worst case `TCP6` line is 104).
pub const V1_MAX_LEN: usize = 107;

/// The longest v2 header: 16 fixed bytes and as many more as its 16-bit length allows.
/// No header is longer, so [`parse`] never asks for more.
pub const V2_MAX_LEN: usize = V2_FIXED_LEN + u16::MAX as usize;

/// `PROXY UNKNOWN\r\n`, the shortest header of either version.
const V1_MIN_LEN: usize = 15;
const V2_FIXED_LEN: usize = 16;

/// What a PROXY header says about the connection it precedes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProxyHeader {
    /// The proxy relayed a client: `source` is the client, `destination` the address the
    /// client connected to (on the proxy).
    Proxied {
        /// The original client.
        source: SocketAddr,
        /// The address the client connected to.
        destination: SocketAddr,
    },
    /// The header carries no IP addresses: v2 `LOCAL` (the proxy's own health check),
    /// v1 `UNKNOWN`, or v2 `PROXY` with the `UNSPEC` or `UNIX` family. Use the
    /// connection's own addresses.
    Local,
}

impl ProxyHeader {
    /// The original client's address, for [`ProxyHeader::Proxied`].
    pub fn source(&self) -> Option<SocketAddr> {
        match self {
            ProxyHeader::Proxied { source, .. } => Some(*source),
            ProxyHeader::Local => None,
        }
    }

    /// The v1 text form: `PROXY TCP4 ...\r\n`, `PROXY TCP6 ...\r\n` or `PROXY UNKNOWN\r\n`.
    ///
    /// When one address is IPv4 and the other IPv6, the IPv4 one is written IPv4-mapped
    /// (`::ffff:a.b.c.d`) under `TCP6`. IPv6 flow info and scope ids are not carried.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockserv::proxy::ProxyHeader;
    ///
    /// let header = ProxyHeader::Proxied {
    ///     source: "192.168.0.1:56324".parse().unwrap(),
    ///     destination: "192.168.0.11:443".parse().unwrap(),
    /// };
    /// assert_eq!(header.encode_v1(), b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
    /// ```
    pub fn encode_v1(&self) -> Vec<u8> {
        v1::encode(*self)
    }

    /// The v2 binary form: `PROXY` over TCP4 or TCP6 with no TLVs, or `LOCAL` with no
    /// addresses. Mixed address families are written as in [`encode_v1`](Self::encode_v1).
    pub fn encode_v2(&self) -> Vec<u8> {
        v2::encode(*self)
    }
}

/// Both IPs in one family: IPv4-mapped IPv6 when the families differ.
fn same_family(source: SocketAddr, destination: SocketAddr) -> (IpAddr, IpAddr) {
    match (source.ip(), destination.ip()) {
        (src @ IpAddr::V4(_), dst @ IpAddr::V4(_)) | (src @ IpAddr::V6(_), dst @ IpAddr::V6(_)) => {
            (src, dst)
        }
        (src, dst) => (IpAddr::V6(to_v6(src)), IpAddr::V6(to_v6(dst))),
    }
}

fn to_v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// The result of [`parse`] on the bytes received so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parse {
    /// A whole header: the application's data starts at `buf[consumed..]`.
    Done {
        /// What the header says.
        header: ProxyHeader,
        /// The header's length in bytes.
        consumed: usize,
    },
    /// Everything so far is a valid start of a header; call again with more bytes.
    Incomplete {
        /// A lower bound on the whole header's length (always more than the bytes given,
        /// never more than [`V2_MAX_LEN`]): reading up to it never reads past the header.
        needed_at_least: usize,
    },
}

/// Why bytes are not a PROXY header. `Display` is one line naming what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyError {
    /// The bytes start with neither `PROXY ` (v1) nor the v2 signature.
    NotProxy,
    /// v1: no `\r\n` within the first [`V1_MAX_LEN`] bytes.
    LineTooLong,
    /// v1: the line ends but is not a valid header.
    Line {
        /// Which part of the line is wrong, quoting it.
        reason: String,
    },
    /// v2: the version (high nibble of the 13th byte) is not 2.
    Version(u8),
    /// v2: the command (low nibble of the 13th byte) is neither `LOCAL` (0) nor `PROXY` (1).
    Command(u8),
    /// v2: the 14th byte is not one of the address family and transport pairs of the spec.
    Family(u8),
    /// v2: the length is too short for the addresses of the family.
    AddressLength {
        /// The address family and transport byte.
        family: u8,
        /// The length the header gives.
        length: u16,
        /// The length the family's addresses need.
        needed: u16,
    },
    /// v2: the TLV starting at this offset from the header's start runs past its end.
    Tlv {
        /// The TLV's offset in the header.
        offset: usize,
    },
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyError::NotProxy => f.write_str("not a PROXY protocol header"),
            ProxyError::LineTooLong => {
                write!(f, "PROXY v1 line has no CRLF within {V1_MAX_LEN} bytes")
            }
            ProxyError::Line { reason } => write!(f, "malformed PROXY v1 line: {reason}"),
            ProxyError::Version(v) => write!(f, "PROXY v2 header has version {v}, expected 2"),
            ProxyError::Command(c) => write!(
                f,
                "PROXY v2 header has command {c}, expected 0 (LOCAL) or 1 (PROXY)"
            ),
            ProxyError::Family(b) => {
                write!(f, "PROXY v2 header has unknown family/transport {b:#04x}")
            }
            ProxyError::AddressLength {
                family,
                length,
                needed,
            } => write!(
                f,
                "PROXY v2 header length {length} is too short for family {family:#04x} \
                 addresses ({needed} bytes)"
            ),
            ProxyError::Tlv { offset } => {
                write!(
                    f,
                    "PROXY v2 TLV at byte {offset} runs past the end of the header"
                )
            }
        }
    }
}

impl std::error::Error for ProxyError {}

/// A bad header is bad input on the connection: `InvalidData`.
impl From<ProxyError> for io::Error {
    fn from(err: ProxyError) -> Self {
        io::Error::new(io::ErrorKind::InvalidData, err)
    }
}

/// Parses a PROXY header (v1 or v2, told apart by the first byte) at the start of `buf`.
///
/// Never panics, never reads past the header, never asks for more than [`V2_MAX_LEN`]
/// bytes. Rejects input as early as it can: after one byte that starts neither version,
/// at the v2 fixed part, or after [`V1_MAX_LEN`] bytes without a v1 line end.
///
/// v2 `PROXY` headers of the `TCP`/`UDP` families give [`ProxyHeader::Proxied`]
/// (the transport is not reported); their TLVs are skipped, but must tile the rest of the
/// header exactly. For `LOCAL` and `UNSPEC` the address block is ignored, as the spec says.
///
/// # Errors
///
/// A [`ProxyError`] as soon as the bytes cannot start a valid header.
///
/// # Examples
///
/// ```
/// use sockserv::proxy::{parse, Parse, ProxyHeader};
///
/// let data = b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n";
/// assert!(matches!(parse(&data[..20]), Ok(Parse::Incomplete { .. })));
/// let Ok(Parse::Done { header, consumed }) = parse(data) else { panic!() };
/// assert_eq!(header.source(), Some("192.168.0.1:56324".parse().unwrap()));
/// assert_eq!(&data[consumed..], b"GET / HTTP/1.1\r\n");
/// ```
pub fn parse(buf: &[u8]) -> Result<Parse, ProxyError> {
    match buf.first() {
        None => Ok(Parse::Incomplete {
            needed_at_least: V1_MIN_LEN,
        }),
        Some(b'P') => v1::parse(buf),
        Some(b'\r') => v2::parse(buf),
        Some(_) => Err(ProxyError::NotProxy),
    }
}

/// Reads one PROXY header from `stream`, and not one byte more: the application's data
/// stays in the stream. v1 is read a byte at a time near its end, since only the `\r\n`
/// tells where it stops; give an unbuffered stream (a `BufReader` would read ahead anyway).
///
/// # Errors
///
/// `InvalidData` wrapping a [`ProxyError`] for a bad header, `UnexpectedEof` if the
/// stream ends inside it, or the stream's own error (`Interrupted` is retried).
pub fn read_header<R: Read + ?Sized>(stream: &mut R) -> io::Result<ProxyHeader> {
    let mut buf = Vec::new();
    loop {
        let needed = match parse(&buf)? {
            Parse::Done { header, consumed } => {
                debug_assert_eq!(consumed, buf.len(), "read past the header");
                return Ok(header);
            }
            Parse::Incomplete { needed_at_least } => needed_at_least,
        };
        let start = buf.len();
        buf.resize(needed, 0);
        let got = loop {
            match stream.read(&mut buf[start..]) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the stream ended inside the PROXY header",
                    ))
                }
                Ok(got) => break got,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            }
        };
        buf.truncate(start + got);
    }
}

/// Whether `buf` and `pattern` agree on their common length.
fn agrees_with(buf: &[u8], pattern: &[u8]) -> bool {
    let n = buf.len().min(pattern.len());
    buf[..n] == pattern[..n]
}

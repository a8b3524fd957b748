//! [`Writer`]: the one place a [`Response`] becomes bytes on a connection's [`Output`].
//!
//! The head is the status line, `Server`, `Date` (formatted once a second per thread),
//! the response's fields, `Content-Length` (unless the status is bodiless), `Connection`
//! when it must be said, and the blank line; it is built in a buffer reused across
//! responses and queued in one piece. The body follows unless the request was HEAD: bytes
//! are copied, files are queued as file ranges (never read here).

use std::cell::RefCell;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use sockserv::Output;

use crate::response::{Body, Response};

impl Default for Writer {
    fn default() -> Writer {
        Writer::new()
    }
}

/// The `Server` field of every response.
pub const SERVER: &str = concat!("sockserv/", env!("CARGO_PKG_VERSION"));

/// The HTTP version a server answers with (Python's `protocol_version`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    /// `HTTP/1.0`, as Python's default: one request per connection, every response ends
    /// with `Connection: close`.
    Http10,
    /// `HTTP/1.1` (the default): keep-alive and pipelining.
    #[default]
    Http11,
}

impl Protocol {
    /// The version as the status line says it.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Http10 => "HTTP/1.0",
            Protocol::Http11 => "HTTP/1.1",
        }
    }
}

impl std::str::FromStr for Protocol {
    type Err = String;

    /// `HTTP/1.0` or `HTTP/1.1` (Python's `-p` values), case-insensitively.
    fn from_str(s: &str) -> Result<Protocol, String> {
        match s.to_ascii_uppercase().as_str() {
            "HTTP/1.0" => Ok(Protocol::Http10),
            "HTTP/1.1" => Ok(Protocol::Http11),
            _ => Err(format!(
                "unsupported protocol {s:?}: use HTTP/1.0 or HTTP/1.1"
            )),
        }
    }
}

/// How the connection frames a response: what the request and the connection decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Framing {
    /// Whether the connection stays open after the response.
    pub keep_alive: bool,
    /// The request's minor version: an HTTP/1.0 client kept open is told so.
    pub minor: u8,
    /// The request was HEAD: the head only.
    pub head_only: bool,
}

/// Writes responses: Python's `end_headers` and `wfile`, in one step.
#[derive(Debug)]
pub struct Writer {
    /// The head being built (kept for its capacity).
    head: Vec<u8>,
    /// The status line's version.
    protocol: Protocol,
}

impl Writer {
    /// A writer of HTTP/1.1 responses with room for a usual head.
    pub fn new() -> Writer {
        Writer::with_protocol(Protocol::Http11)
    }

    /// A writer whose status lines say `protocol`. (Keep-alive is the connection's
    /// choice, given in each [`Framing`].)
    pub fn with_protocol(protocol: Protocol) -> Writer {
        Writer {
            head: Vec::with_capacity(512),
            protocol,
        }
    }

    /// Queues `response` on `out`, framed as `framing` says; returns the body bytes
    /// queued (0 for HEAD and bodiless statuses).
    ///
    /// When a file of a multipart body cannot be opened again for one of its parts (out
    /// of descriptors), the connection is closed after what was queued so far: the peer
    /// sees a short body, never a wrong one.
    pub fn write(&mut self, response: Response, framing: Framing, out: &mut Output) -> u64 {
        self.head(&response, framing);
        out.write(&self.head);
        if framing.head_only || response.status.is_bodiless() {
            return 0;
        }
        match response.body {
            Body::Empty => 0,
            Body::Bytes(bytes) => {
                out.write(&bytes);
                bytes.len() as u64
            }
            Body::File(slice) => {
                out.send_file(slice.file, slice.offset, slice.len);
                slice.len
            }
            Body::Ranges(multipart) => {
                let total = multipart.len();
                for &(first, last) in &multipart.parts {
                    out.write(multipart.part_head((first, last)).as_bytes());
                    match multipart.file.try_clone() {
                        Ok(copy) => out.send_file(copy, first, last - first + 1),
                        Err(_) => {
                            out.close();
                            return 0;
                        }
                    }
                    out.write(b"\r\n");
                }
                out.write(multipart.closing().as_bytes());
                total
            }
        }
    }

    /// The head of `response` as [`write`](Writer::write) sends it.
    pub fn head(&mut self, response: &Response, framing: Framing) -> &[u8] {
        let buf = &mut self.head;
        buf.clear();
        let status = response.status;
        let _ = write!(
            Text(buf),
            "{} {} {}\r\nServer: {SERVER}\r\nDate: ",
            self.protocol.as_str(),
            status.0,
            status.reason()
        );
        with_date(|date| buf.extend_from_slice(date));
        buf.extend_from_slice(b"\r\n");
        for (name, value) in &response.headers {
            buf.extend_from_slice(name.as_bytes());
            buf.extend_from_slice(b": ");
            buf.extend_from_slice(value.as_bytes());
            buf.extend_from_slice(b"\r\n");
        }
        if let Some(len) = response.content_length() {
            let _ = write!(Text(buf), "Content-Length: {len}\r\n");
        }
        if !framing.keep_alive {
            buf.extend_from_slice(b"Connection: close\r\n");
        } else if framing.minor == 0 || self.protocol == Protocol::Http10 {
            buf.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        buf.extend_from_slice(b"\r\n");
        &self.head
    }
}

/// `fmt::Write` over a byte buffer, for numbers without a temporary `String`.
struct Text<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Text<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

thread_local! {
    /// The `Date` value, formatted once per second per thread.
    static DATE: RefCell<(u64, [u8; 29])> = const { RefCell::new((u64::MAX, [0; 29])) };
}

/// Calls `f` with the current time as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn with_date<R>(f: impl FnOnce(&[u8]) -> R) -> R {
    let now = SystemTime::now();
    let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    DATE.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != second {
            let text = httpdate::fmt_http_date(now);
            // IMF-fixdate is always 29 bytes; anything else would be a bug in httpdate.
            if text.len() == 29 {
                cached.1.copy_from_slice(text.as_bytes());
                cached.0 = second;
            }
        }
        f(&cached.1)
    })
}

//! HTTP/1.x spoken by hand over a `TcpStream`: requests as bytes, responses parsed with
//! the RFC 9112 framing rules, so the tests see exactly what the server put on the wire.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;

use crate::util::WAIT;

/// One parsed response.
#[derive(Debug)]
pub struct Response {
    /// `HTTP/1.1` or `HTTP/1.0`.
    pub version: String,
    /// The status code.
    pub status: u16,
    /// The header fields, in order, as sent.
    pub headers: Vec<(String, String)>,
    /// The body, after chunked decoding when the server used it.
    pub body: Vec<u8>,
}

impl Response {
    /// The first field called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every field called `name`.
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body as text (lossy), for messages and `contains` checks.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A client connection: write requests, read responses one at a time.
pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    /// Connects, with every read and write bounded by [`WAIT`].
    pub fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).expect("connect to the http server");
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream.set_write_timeout(Some(WAIT)).unwrap();
        Conn {
            writer: stream.try_clone().unwrap(),
            reader: BufReader::new(stream),
        }
    }

    /// The client's own address: the peer the server sees and logs.
    pub fn local_addr(&self) -> SocketAddr {
        self.writer.local_addr().expect("a connected socket")
    }

    /// Sends raw bytes (one write, so several requests arrive together: pipelining).
    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("send the request");
    }

    /// Reads the next response. `head` says it answers a HEAD request (no body whatever
    /// the headers say, RFC 9112 §6.3).
    pub fn response(&mut self, head: bool) -> Response {
        let status_line = self.line();
        assert!(
            !status_line.is_empty(),
            "the server closed the connection instead of responding"
        );
        let status_line = String::from_utf8_lossy(&status_line).into_owned();
        let mut words = status_line.splitn(3, ' ');
        let version = words.next().unwrap_or_default().to_string();
        assert!(
            version == "HTTP/1.1" || version == "HTTP/1.0",
            "bad status line {status_line:?}"
        );
        let status = words
            .next()
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let mut headers = Vec::new();
        loop {
            let line = self.line();
            let line = String::from_utf8_lossy(&line).into_owned();
            if line.is_empty() {
                break;
            }
            let (name, value) = line
                .split_once(':')
                .unwrap_or_else(|| panic!("bad header line {line:?}"));
            headers.push((name.to_string(), value.trim().to_string()));
        }
        let mut response = Response {
            version,
            status,
            headers,
            body: Vec::new(),
        };
        response.body = self.body(&response, head);
        response
    }

    /// Asserts the server closes the connection now, sending nothing more.
    pub fn expect_closed(&mut self) {
        // A reset after the response is a close, too.
        crate::util::expect_closed(&mut self.reader, WAIT, "after the response");
    }

    /// One line without its CRLF (empty at end of stream or for the blank line).
    fn line(&mut self) -> Vec<u8> {
        let mut line = Vec::new();
        self.reader
            .read_until(b'\n', &mut line)
            .expect("read a response line");
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        line
    }

    fn body(&mut self, response: &Response, head: bool) -> Vec<u8> {
        let bodiless = head || response.status / 100 == 1 || matches!(response.status, 204 | 304);
        if bodiless {
            return Vec::new();
        }
        let chunked = response
            .header("transfer-encoding")
            .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
        if chunked {
            return self.chunked_body();
        }
        let mut body = Vec::new();
        match response.header("content-length") {
            Some(length) => {
                let length: usize = length.parse().expect("a numeric Content-Length");
                body.resize(length, 0);
                self.reader.read_exact(&mut body).expect("read the body");
            }
            // No framing: the body runs to the end of the connection (HTTP/1.0 style).
            None => {
                self.reader.read_to_end(&mut body).expect("read to EOF");
            }
        }
        body
    }

    fn chunked_body(&mut self) -> Vec<u8> {
        let mut body = Vec::new();
        loop {
            let size_line = String::from_utf8(self.line()).expect("chunk size line");
            let size = usize::from_str_radix(size_line.split(';').next().unwrap().trim(), 16)
                .unwrap_or_else(|_| panic!("bad chunk size {size_line:?}"));
            if size == 0 {
                // Trailer fields, then the blank line.
                while !self.line().is_empty() {}
                return body;
            }
            let start = body.len();
            body.resize(start + size, 0);
            self.reader.read_exact(&mut body[start..]).expect("chunk");
            assert!(self.line().is_empty(), "CRLF after a chunk");
        }
    }
}

/// A request with `Host` and the given extra header lines.
pub fn request_bytes(method: &str, target: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut request = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.into_bytes()
}

/// One request with `Connection: close` on a fresh connection, like CPython's tests do
/// with http.client: the response is read by its framing, and then the server must close
/// the connection without sending anything else.
pub fn fetch(addr: SocketAddr, method: &str, target: &str, headers: &[(&str, &str)]) -> Response {
    let mut all = headers.to_vec();
    all.push(("Connection", "close"));
    let mut conn = Conn::open(addr);
    conn.send(&request_bytes(method, target, &all));
    let response = conn.response(method == "HEAD");
    conn.expect_closed();
    response
}

/// `GET target` via [`fetch`].
pub fn get(addr: SocketAddr, target: &str) -> Response {
    fetch(addr, "GET", target, &[])
}

/// Sends `bytes` (on a thread of its own: the server may answer and close before it
/// has read them all) and returns the response. For malformed and oversized requests.
pub fn malformed(addr: SocketAddr, bytes: Vec<u8>) -> Response {
    let mut conn = Conn::open(addr);
    let mut writer = conn.writer.try_clone().unwrap();
    let sender = thread::spawn(move || {
        // The server may refuse before reading it all: a failed write is not ours to judge.
        let _ = writer.write_all(&bytes);
    });
    let response = conn.response(false);
    let _ = sender.join();
    response
}

/// Like [`malformed`], but returns every byte the server sent until it closed.
pub fn malformed_raw(addr: SocketAddr, bytes: Vec<u8>) -> Vec<u8> {
    let mut conn = Conn::open(addr);
    let mut writer = conn.writer.try_clone().unwrap();
    let sender = thread::spawn(move || {
        let _ = writer.write_all(&bytes);
    });
    let mut reply = Vec::new();
    match conn.reader.read_to_end(&mut reply) {
        Ok(_) => {}
        // A reset once the reply is in is the server closing with input unread.
        Err(e) if e.kind() == ErrorKind::ConnectionReset && !reply.is_empty() => {}
        Err(e) => panic!("no reply to a malformed request: {e}"),
    }
    let _ = sender.join();
    reply
}

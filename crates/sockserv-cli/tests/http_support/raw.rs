//! HTTP/1.x spoken by hand over a `TcpStream`: requests as bytes, responses read with the
//! RFC 9112 framing rules (testkit's reader), so the tests see exactly what the server put
//! on the wire.

use std::io::{BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;

use testkit::http::read_response;

use crate::util::WAIT;

pub use testkit::http::Response;

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
        match read_response(&mut self.reader, head) {
            Ok(Some(response)) => response,
            Ok(None) => panic!("the server closed the connection instead of responding"),
            Err(e) => panic!("no whole response: {e}"),
        }
    }

    /// Asserts the server closes the connection now, sending nothing more.
    pub fn expect_closed(&mut self) {
        // A reset after the response is a close, too.
        crate::util::expect_closed(&mut self.reader, WAIT, "after the response");
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
    fetch_once(addr, method, target, &all)
}

/// One HTTP/1.1 request on a fresh connection, without asking for a close (http.client's
/// default): for an HTTP/1.0 server, which must close after the response all the same.
pub fn fetch_once(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
) -> Response {
    let mut conn = Conn::open(addr);
    conn.send(&request_bytes(method, target, headers));
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

//! Shared by the in-memory tests: a served directory, and a client that runs an
//! [`HttpSession`] on sockserv's in-memory driver and reads what it sent back as
//! responses (testkit's reader, on the crate's own
//! [`ResponseHead`](sockserv_http::client::ResponseHead)).

#![allow(dead_code)] // each test file uses a different part of this module

use std::fs;
use std::io::Read;
use std::path::Path;

use sockserv::driver::InMemory;
use sockserv::{PeerAddr, SessionFactory};
use sockserv_http::files::Root;
use sockserv_http::{FileServer, Handler, Http, HttpSession, Request};
pub use testkit::http::{parse_responses, Response};

/// A served directory: `a.txt` (26 letters), `index-dir/index.html`, `htm-dir/index.htm`,
/// `list-dir/` (with `x.txt`, `sub/`), `spam/index.html/` (a directory).
pub fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    fs::write(p.join("a.txt"), b"abcdefghijklmnopqrstuvwxyz").unwrap();
    // Large enough that two small ranges are worth a multipart answer.
    fs::write(p.join("long.txt"), b"abcdefghijklmnopqrstuvwxyz".repeat(40)).unwrap();
    fs::create_dir_all(p.join("index-dir")).unwrap();
    fs::write(p.join("index-dir/index.html"), b"<p>index</p>").unwrap();
    fs::create_dir_all(p.join("htm-dir")).unwrap();
    fs::write(p.join("htm-dir/index.htm"), b"htm").unwrap();
    fs::create_dir_all(p.join("list-dir/sub")).unwrap();
    fs::write(p.join("list-dir/x.txt"), b"x").unwrap();
    fs::create_dir_all(p.join("spam/index.html")).unwrap();
    dir
}

/// The file server on `root`, symlinks out of it refused.
pub fn file_server(root: &Path) -> FileServer {
    FileServer::new(Root::new(root, false).unwrap())
}

/// One connection of `http`, driven in memory by sockserv's [`InMemory`] driver: the
/// test plays the peer.
pub struct Client<H: Handler> {
    /// The connection.
    pub conn: InMemory<HttpSession<H>>,
    /// The server it came from (for its counters).
    pub http: Http<H>,
}

/// A connection to the file server on `root`.
pub fn client(root: &Path) -> Client<FileServer> {
    Client::new(Http::new(file_server(root)))
}

impl<H: Handler> Client<H> {
    /// Opens a connection to `http`.
    pub fn new(http: Http<H>) -> Client<H> {
        let conn = InMemory::open(http.open(&PeerAddr::Unix(None)));
        Client { conn, http }
    }

    /// The session, to look at what it holds.
    pub fn session(&self) -> &HttpSession<H> {
        self.conn.session()
    }

    /// Sends `bytes` in one read (ignored once the connection is closing, as a driver
    /// stops reading).
    pub fn send(&mut self, bytes: &[u8]) {
        self.conn.feed(bytes);
    }

    /// The peer half-closes.
    pub fn eof(&mut self) {
        self.conn.eof();
    }

    /// The peer reads everything queued so far (file ranges read); when that drains the
    /// output, the session hears it, and what it queues then comes with the next call.
    pub fn sent(&mut self) -> Vec<u8> {
        self.conn.transmit().expect("queued files are readable")
    }

    /// Sends `request`, returns the one response it gets (read as HEAD's for HEAD).
    pub fn get(&mut self, request: &str) -> Response {
        self.send(request.as_bytes());
        let head_only = request.starts_with("HEAD ");
        let mut responses = parse_responses(&self.sent(), &[head_only]);
        assert_eq!(responses.len(), 1, "{responses:?}");
        responses.remove(0)
    }

    /// Whether the connection closes once its output is sent.
    pub fn closing(&self) -> bool {
        self.conn.is_closing()
    }
}

/// `bytes` gunzipped.
pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut plain)
        .unwrap();
    plain
}

/// The head of `input`, which must be one complete request.
pub fn request(input: &[u8]) -> Request<'_> {
    match sockserv_http::request::parse(input, sockserv_http::request::MAX_HEAD) {
        sockserv_http::request::Parsed::Complete(request, _) => request,
        other => panic!("not a complete request: {other:?}"),
    }
}

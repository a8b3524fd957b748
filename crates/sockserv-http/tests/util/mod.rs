//! Shared by the in-memory tests: a served directory, and a client that pumps an
//! [`HttpSession`] with bytes and reads what it queued back as responses (testkit's
//! reader, on the crate's own [`ResponseHead`](sockserv_http::client::ResponseHead)).

#![allow(dead_code)] // each test file uses a different part of this module

use std::fs;
use std::io::Read;
use std::path::Path;

use sockserv::driver::OutputExt;
use sockserv::{Output, PeerAddr, Session, SessionFactory};
use sockserv_http::files::Root;
use sockserv_http::{FileServer, Handler, Http, HttpSession, Request};
pub use testkit::http::{parse_responses, Response};

/// A served directory: `a.txt` (26 letters), `index-dir/index.html`, `htm-dir/index.htm`,
/// `list-dir/` (with `x.txt`, `sub/`), `spam/index.html/` (a directory).
pub fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    fs::write(p.join("a.txt"), b"abcdefghijklmnopqrstuvwxyz").unwrap();
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

/// One connection of `http`, open, driven in memory.
pub struct Client<H> {
    /// The connection.
    pub session: HttpSession<H>,
    /// What it wrote and not taken yet.
    pub out: Output,
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
        let mut session = http.open(&PeerAddr::Unix(None));
        let mut out = Output::new();
        session.on_open(&mut out);
        Client { session, out, http }
    }

    /// Sends `bytes` in one read.
    pub fn send(&mut self, bytes: &[u8]) {
        self.session.on_data(bytes, &mut self.out);
    }

    /// The peer half-closes.
    pub fn eof(&mut self) {
        self.session.on_eof(&mut self.out);
    }

    /// The driver sent everything queued.
    pub fn drained(&mut self) {
        self.session.on_drained(&mut self.out);
    }

    /// Everything queued so far, file ranges read (the driver "sends" it).
    pub fn sent(&mut self) -> Vec<u8> {
        let mut sent = self.out.take();
        while self.out.queued() > 0 {
            self.out.load(64 * 1024).expect("queued files are readable");
            sent.extend(self.out.take());
        }
        sent
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
        self.out.is_closing()
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

//! The file server pumped in memory: bytes in, responses out, no sockets.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use sockserv::driver::OutputExt;
use sockserv::{Output, PeerAddr, Session, SessionFactory};

use super::*;

mod errors;
mod files;
mod flow;
mod representations;

/// A served directory: `a.txt` (26 letters), `index-dir/index.html`, `htm-dir/index.htm`,
/// `list-dir/` (with `x.txt`, `sub/`), `spam/index.html/` (a directory).
fn site() -> tempfile::TempDir {
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

struct Client {
    session: HttpSession,
    out: Output,
    http: Http,
}

fn client(root: &Path) -> Client {
    client_with(root, |_| {})
}

fn client_with(root: &Path, tweak: impl FnOnce(&mut HttpConfig)) -> Client {
    let mut config = HttpConfig {
        root: Root::new(root, false).unwrap(),
        gzip: false,
        header_timeout: None,
    };
    tweak(&mut config);
    let http = Http::new(config);
    let mut session = http.open(&PeerAddr::Unix(None));
    let mut out = Output::new();
    session.on_open(&mut out);
    Client { session, out, http }
}

/// One parsed response.
#[derive(Debug)]
struct Response {
    status: u16,
    head: String,
    fields: HashMap<String, String>,
    body: Vec<u8>,
}

impl Response {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

impl Client {
    /// Sends `bytes` in one read.
    fn send(&mut self, bytes: &[u8]) {
        self.session.on_data(bytes, &mut self.out);
    }

    /// Everything queued so far, file ranges read (the driver "sends" it).
    fn sent(&mut self) -> Vec<u8> {
        let mut sent = self.out.take();
        while self.out.queued() > 0 {
            self.out.load(64 * 1024).expect("queued files are readable");
            sent.extend(self.out.take());
        }
        sent
    }

    /// Sends `request`, returns the one response it gets (`head_only` for HEAD).
    fn get(&mut self, request: &str) -> Response {
        self.send(request.as_bytes());
        let head_only = request.starts_with("HEAD ");
        let mut responses = parse_responses(&self.sent(), &[head_only]);
        assert_eq!(responses.len(), 1, "{responses:?}");
        responses.remove(0)
    }

    fn closing(&self) -> bool {
        self.out.is_closing()
    }
}

/// Splits `bytes` into responses; `head_only[i]` says response i answers a HEAD (the
/// last value repeats).
fn parse_responses(mut bytes: &[u8], head_only: &[bool]) -> Vec<Response> {
    let mut responses = Vec::new();
    while !bytes.is_empty() {
        let end = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a complete head")
            + 4;
        let head = String::from_utf8(bytes[..end].to_vec()).unwrap();
        let status: u16 = head[9..12].parse().unwrap();
        let fields: HashMap<String, String> = head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(": "))
            .map(|(n, v)| (n.to_ascii_lowercase(), v.to_owned()))
            .collect();
        let is_head = *head_only
            .get(responses.len())
            .or(head_only.last())
            .unwrap_or(&false);
        let len: usize = match fields.get("content-length") {
            Some(n) if !is_head && status != 304 => n.parse().unwrap(),
            _ => 0,
        };
        let body = bytes[end..end + len].to_vec();
        bytes = &bytes[end + len..];
        responses.push(Response {
            status,
            head,
            fields,
            body,
        });
    }
    responses
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut plain)
        .unwrap();
    plain
}

#[test]
fn counters_count_responses_by_class() {
    let dir = site();
    let mut c = client(dir.path());
    c.get("GET /a.txt HTTP/1.1\r\n\r\n");
    c.get("GET /nope HTTP/1.1\r\n\r\n");
    c.get("GET /list-dir HTTP/1.1\r\n\r\n");
    c.get("GET /a.txt HTTP/1.1\r\nRange: bytes=0-0\r\n\r\n");
    assert_eq!(c.http.counters().by_class(), [0, 2, 1, 1, 0]);
}

#[test]
fn header_timeout_answers_a_trickled_head_with_408() {
    let dir = site();
    let mut c = client_with(dir.path(), |cfg| cfg.header_timeout = Some(Duration::ZERO));
    c.send(b"GET /a.txt HT");
    std::thread::yield_now();
    c.send(b"T");
    let sent = c.sent();
    let r = &parse_responses(&sent, &[false])[0];
    assert_eq!(r.status, 408);
    assert_eq!(r.field("Connection"), Some("close"));
    assert!(c.closing());
}

#[test]
fn without_a_header_timeout_a_slow_head_still_completes() {
    let dir = site();
    let mut c = client(dir.path());
    for b in b"GET /a.txt HTTP/1.1\r\n\r\n" {
        assert!(c.sent().is_empty());
        c.send(&[*b]);
    }
    assert_eq!(parse_responses(&c.sent(), &[false])[0].status, 200);
}

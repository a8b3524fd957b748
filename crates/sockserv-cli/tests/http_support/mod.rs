//! Shared by the `sockserv http` end-to-end tests: the server under test, fixture trees
//! in temp dirs, raw HTTP/1.1 over a socket, and the skip rules for foreign clients.
//!
//! Set `SOCKSERV_HTTP_REFERENCE=/path/to/python3` to run the same tests against
//! `python3 -m http.server` instead: the tests of what Python lacks (keep-alive, Range,
//! ETag, symlink policy, gzip) then say they are skipped.

#![allow(dead_code)] // each test file uses a different part of this module

pub mod download;
pub mod raw;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, SystemTime};

use sockserv::Endpoint;
use std::net::SocketAddr;
use tempfile::TempDir;

use crate::util::{lines_in_background, Server, WAIT};

/// The modes the curl tests and most of the CPython port run under: a blocking worker
/// per connection and one event loop.
pub const HTTP_MODES: [&str; 2] = ["threads", "events:1"];

/// Every fixture file's mtime, so `Last-Modified` is known without a date formatter.
pub const MTIME_SECS: u64 = 1_700_000_000;
/// [`MTIME_SECS`] as an IMF-fixdate (RFC 9110 §5.6.7).
pub const LAST_MODIFIED: &str = "Tue, 14 Nov 2023 22:13:20 GMT";
/// One hour after [`LAST_MODIFIED`].
pub const HOUR_LATER: &str = "Tue, 14 Nov 2023 23:13:20 GMT";
/// 365 days before [`LAST_MODIFIED`].
pub const YEAR_EARLIER: &str = "Mon, 14 Nov 2022 22:13:20 GMT";

/// The file CPython's SimpleHTTPServerTestCase serves.
pub const KNIGHTS: &[u8] = b"We are the knights who say Ni!";
/// What lies outside the served root; no response may ever contain it.
pub const SECRET: &str = "outside-the-root-secret";

/// The Python interpreter to compare with, when the environment asks for one.
pub fn reference() -> Option<PathBuf> {
    std::env::var_os("SOCKSERV_HTTP_REFERENCE").map(PathBuf::from)
}

/// Whether a test of `feature` (which Python's server lacks) must be skipped because
/// the tests run against the Python reference; prints why.
pub fn python_lacks(feature: &str) -> bool {
    if reference().is_some() {
        eprintln!("skipped under SOCKSERV_HTTP_REFERENCE: python's http.server has no {feature}");
        return true;
    }
    false
}

/// Whether a foreign program (curl, chromium, python3 with playwright) can be used: see
/// [`testkit::tool_ready`] (a skip locally, a failure under `SOCKSERV_REQUIRE_TOOLS=1`).
pub fn foreign_tool_ready(what: &str, ready: bool) -> bool {
    testkit::tool_ready(what, ready)
}

/// Whether `program ARGS` runs and exits successfully within [`WAIT`].
pub fn runs(program: &str, args: &[&str]) -> bool {
    let Ok(mut child) = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    crate::util::wait_for_exit(&mut child, WAIT).success()
}

/// The flags that serve HTTPS with `certs`' certificate and key.
pub fn tls_flags(certs: &testkit::Certs) -> [String; 4] {
    [
        "--tls-cert".into(),
        certs.arg("cert.pem"),
        "--tls-key".into(),
        certs.arg("key.pem"),
    ]
}

/// A running HTTP server over a directory; dropping it kills the process.
pub struct HttpServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The mode it was started in (for assertion messages).
    pub mode: String,
    /// It answers as HTTP/1.0 (`-p HTTP/1.0`, or Python's server): one request per
    /// connection.
    pub http10: bool,
    _process: Process,
}

enum Process {
    Sockserv(Server),
    Python(Child),
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Process::Python(child) = self {
            let _ = child.kill();
            let _ = child.wait();
        }
        // A `Server` kills its own process when dropped.
    }
}

impl HttpServer {
    /// Starts `sockserv http --listen tcp://127.0.0.1:0 -d DIR --mode MODE EXTRA...` and
    /// waits for its `listening on` line. This is the one place that says which server
    /// the tests run against.
    pub fn start(dir: &Path, mode: &str, extra: &[&str]) -> HttpServer {
        if let Some(python) = reference() {
            return HttpServer::start_python(&python, dir, mode);
        }
        let dir = dir.to_str().expect("temp dirs have UTF-8 paths");
        let mut args = vec![
            "http",
            "--listen",
            "tcp://127.0.0.1:0",
            "-d",
            dir,
            "--mode",
            mode,
        ];
        args.extend_from_slice(extra);
        let server = Server::start(&args, 1);
        let addr = match &server.endpoints[0] {
            Endpoint::Tcp(addr) => *addr,
            other => panic!("sockserv http listens on {other}, not TCP"),
        };
        HttpServer {
            addr,
            mode: [&[mode][..], extra].concat().join(" "),
            http10: extra.windows(2).any(|w| w == ["-p", "HTTP/1.0"]),
            _process: Process::Sockserv(server),
        }
    }

    /// `python3 -u -m http.server --bind 127.0.0.1 -d DIR 0`: it prints
    /// `Serving HTTP on 127.0.0.1 port N (http://127.0.0.1:N/) ...` on stdout. For the
    /// reference run, and for the tests that compare sockserv with a live Python.
    pub fn start_python(python: &Path, dir: &Path, mode: &str) -> HttpServer {
        let mut child = Command::new(python)
            .args(["-u", "-m", "http.server", "--bind", "127.0.0.1", "-d"])
            .arg(dir)
            .arg("0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the python reference server");
        let lines = lines_in_background(child.stdout.take().unwrap());
        let process = Process::Python(child);
        let line = match lines.recv_timeout(WAIT) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => panic!("python said nothing within {WAIT:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("python exited before serving"),
        };
        let port: u16 = line
            .split_once(" port ")
            .and_then(|(_, rest)| rest.split(' ').next())
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        HttpServer {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            mode: format!("python reference ({mode} requested)"),
            // Python's default protocol_version.
            http10: true,
            _process: process,
        }
    }

    /// The `sockserv` process, for its stderr lines, signals and exit (the production
    /// tests); panics under the Python reference, which those tests skip.
    pub fn process(&mut self) -> &mut Server {
        match &mut self._process {
            Process::Sockserv(server) => server,
            Process::Python(_) => panic!("the python reference is not a sockserv process"),
        }
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// A fixture tree in a temp dir: the served root is `<tmp>/root`, and `<tmp>/outside`
/// holds [`SECRET`], a sibling the server must never reveal.
pub struct Tree {
    dir: TempDir,
}

impl Tree {
    /// An empty root next to the `outside` directory.
    pub fn new() -> Tree {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::create_dir(dir.path().join("root")).unwrap();
        fs::create_dir(dir.path().join("outside")).unwrap();
        fs::write(dir.path().join("outside/secret.txt"), SECRET).unwrap();
        fs::write(dir.path().join("secret.txt"), SECRET).unwrap();
        Tree { dir }
    }

    /// The served directory.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// The directory beside the root (holds `secret.txt`).
    pub fn outside(&self) -> PathBuf {
        self.dir.path().join("outside")
    }

    /// Writes `root/REL` (parents created) with its mtime set to [`MTIME_SECS`].
    pub fn file(&self, rel: impl AsRef<Path>, contents: &[u8]) -> PathBuf {
        let path = self.root().join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, contents).unwrap();
        let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(MTIME_SECS);
        fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        path
    }

    /// Creates the directory `root/REL` (and its parents).
    pub fn dir(&self, rel: impl AsRef<Path>) -> PathBuf {
        let path = self.root().join(rel);
        fs::create_dir_all(&path).unwrap();
        path
    }
}

/// The `href="..."` values of an HTML page, in order, as a browser reads them: with
/// the character references HTML allows there (`&amp;` and friends) resolved.
pub fn hrefs(html: &[u8]) -> Vec<Vec<u8>> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(start) = find(rest, b"href=\"") {
        rest = &rest[start + 6..];
        let end = find(rest, b"\"").expect("an href's closing quote");
        found.push(html_unescape(&rest[..end]));
        rest = &rest[end..];
    }
    found
}

/// Resolves the few character references an escaped attribute uses.
fn html_unescape(text: &[u8]) -> Vec<u8> {
    let references: [(&[u8], u8); 6] = [
        (b"&amp;", b'&'),
        (b"&lt;", b'<'),
        (b"&gt;", b'>'),
        (b"&quot;", b'"'),
        (b"&#x27;", b'\''),
        (b"&#39;", b'\''),
    ];
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    'scan: while i < text.len() {
        for (reference, byte) in references {
            if text[i..].starts_with(reference) {
                out.push(byte);
                i += reference.len();
                continue 'scan;
            }
        }
        out.push(text[i]);
        i += 1;
    }
    out
}

/// The first index of `needle` in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Whether `haystack` contains `needle`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

/// Decodes `%XX` escapes (anything else is kept as it is).
pub fn percent_decode(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let hex = text
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (text[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

/// `n` bytes that are not all alike (a lost or reordered chunk shows).
pub fn payload(n: usize) -> Vec<u8> {
    crate::util::payload(n)
}

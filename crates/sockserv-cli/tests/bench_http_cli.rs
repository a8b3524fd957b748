//! `sockserv bench --http` end to end: the built binary against in-test HTTP responders
//! (keep-alive and close-per-response) and against `python3 -m http.server`.
mod util;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;

use util::{lines_in_background, wait_for_exit, WAIT};

/// What an in-test responder answers to every `GET`.
#[derive(Clone, Copy)]
enum Reply {
    /// HTTP/1.1 200 with [`BODY`], connection kept.
    KeepAlive,
    /// HTTP/1.0 200 with [`BODY`], then the connection is closed (Python's http.server).
    Close,
    /// HTTP/1.1 200 with [`BODY`] whose 300th byte is flipped.
    Corrupt,
    /// HTTP/1.1 404.
    NotFound,
}

/// The body the responders serve: 3,000 bytes that differ from one another.
fn body() -> Vec<u8> {
    (0..3_000u32).map(|i| (i * 7 + i / 256) as u8).collect()
}

/// An in-test HTTP responder: a thread per connection answering each request head
/// (pipelined ones too) in order. A head it did not expect closes that connection and is
/// kept, for [`Responder::assert_heads_were_good`] to fail the test with: an assert in
/// the responder's own threads would fail nothing.
struct Responder {
    addr: SocketAddr,
    bad_heads: Arc<Mutex<Vec<String>>>,
}

impl Responder {
    /// Panics with the unexpected request heads, if any came.
    fn assert_heads_were_good(&self) {
        let bad = self.bad_heads.lock().unwrap();
        assert!(bad.is_empty(), "the bench sent unexpected heads: {bad:?}");
    }
}

fn respond(reply: Reply) -> Responder {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let bad_heads = Arc::new(Mutex::new(Vec::new()));
    let bad = Arc::clone(&bad_heads);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let bad = Arc::clone(&bad);
            thread::spawn(move || serve(stream, reply, &bad));
        }
    });
    Responder { addr, bad_heads }
}

fn serve(mut stream: TcpStream, reply: Reply, bad_heads: &Mutex<Vec<String>>) {
    let mut pending = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let head: Vec<u8> = pending.drain(..end + 4).collect();
            if !head.starts_with(b"GET /file HTTP/1.1\r\nHost: 127.0.0.1:") {
                let head = String::from_utf8_lossy(&head).into_owned();
                bad_heads.lock().unwrap().push(head);
                return;
            }
            let mut body = body();
            let status = match reply {
                Reply::KeepAlive => "HTTP/1.1 200 OK",
                Reply::Close => "HTTP/1.0 200 OK",
                Reply::Corrupt => {
                    body[300] ^= 1;
                    "HTTP/1.1 200 OK"
                }
                Reply::NotFound => {
                    body.clear();
                    "HTTP/1.1 404 Not Found"
                }
            };
            let head = format!("{status}\r\nContent-Length: {}\r\n\r\n", body.len());
            if stream
                .write_all(&[head.as_bytes(), &body].concat())
                .is_err()
            {
                return;
            }
            if let Reply::Close = reply {
                return; // dropping the stream closes it
            }
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => pending.extend_from_slice(&buf[..n]),
        }
    }
}

/// Runs `sockserv bench ADDR --http /file ARGS` for 0.5 s with a JSON report.
fn bench(addr: SocketAddr, args: &[&str]) -> (Output, serde_json::Value) {
    let short = ["--duration", "500ms", "--warmup", "100ms", "--json"];
    let out = util::run(
        &[
            &["bench", &addr.to_string(), "--http", "/file"],
            args,
            &short[..],
        ]
        .concat(),
    );
    let report = util::json_report(&out);
    (out, report)
}

/// The responders' body in a temp file, for --expect.
fn expect_file(dir: &Path) -> String {
    let path = dir.join("body");
    std::fs::write(&path, body()).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn keep_alive_server_is_loaded_without_reconnects_and_bodies_verified() {
    let responder = respond(Reply::KeepAlive);
    let addr = responder.addr;
    let dir = tempfile::tempdir().unwrap();
    let expect = expect_file(dir.path());
    for pipeline in ["1", "4"] {
        let (out, report) = bench(
            addr,
            &["--conns", "4", "--expect", &expect, "--pipeline", pipeline],
        );
        assert!(out.status.success(), "{out:?}");
        assert_eq!(report["mode"], "http", "{report}");
        assert_eq!(report["path"], "/file", "{report}");
        assert_eq!(report["size"], 3_000, "{report}");
        assert!(report["msgs"].as_u64().unwrap() > 0, "{report}");
        assert!(report["mb_per_sec"].as_f64().unwrap() > 0.0, "{report}");
        assert!(
            report["latency_us"]["p99"].as_u64().unwrap() > 0,
            "{report}"
        );
        for field in ["reconnects", "connect_failures", "resets", "mismatches"] {
            assert_eq!(report[field], 0, "{field}: {report}");
        }
    }
    responder.assert_heads_were_good();
}

#[test]
fn server_that_closes_after_each_response_is_reconnected_and_counted() {
    let responder = respond(Reply::Close);
    let addr = responder.addr;
    let dir = tempfile::tempdir().unwrap();
    let (out, report) = bench(
        addr,
        &["--conns", "3", "--expect", &expect_file(dir.path())],
    );
    assert!(out.status.success(), "{out:?}");
    let msgs = report["msgs"].as_u64().unwrap();
    assert!(msgs > 0, "{report}");
    // Every response closes its connection; the one still open when measuring began
    // (up to one per connection) answers without a reconnect.
    let reconnects = report["reconnects"].as_u64().unwrap();
    assert!(reconnects + 3 >= msgs && reconnects <= msgs, "{report}");
    for field in ["connect_failures", "resets", "mismatches"] {
        assert_eq!(report[field], 0, "{field}: {report}");
    }
    responder.assert_heads_were_good();
}

#[test]
fn a_body_that_differs_from_expect_fails_the_run_and_says_where() {
    let responder = respond(Reply::Corrupt);
    let addr = responder.addr;
    let dir = tempfile::tempdir().unwrap();
    let (out, report) = bench(
        addr,
        &["--conns", "2", "--expect", &expect_file(dir.path())],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(report["mismatches"], 2, "{report}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("body differs at byte 300"), "{stderr}");
    responder.assert_heads_were_good();
}

#[test]
fn a_status_other_than_200_fails_the_run() {
    let responder = respond(Reply::NotFound);
    let addr = responder.addr;
    let (out, report) = bench(addr, &["--conns", "2"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(report["mismatches"], 2, "{report}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("status 404"),
        "{out:?}"
    );
    responder.assert_heads_were_good();
}

#[test]
fn http_flags_are_checked_before_any_connection() {
    let out = util::run(&["bench", "127.0.0.1:9", "--http", "no-slash"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("must start with /"),
        "{out:?}"
    );
    let out = util::run(&["bench", "127.0.0.1:9", "--expect", "/etc/hostname"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--http"),
        "{out:?}"
    );
}

/// `python3 -m http.server`, killed on drop.
struct PythonServer {
    child: Child,
    port: u16,
}

impl PythonServer {
    fn start(dir: &Path) -> PythonServer {
        let mut child = Command::new("python3")
            .args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "-d"])
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 must be installed");
        let lines = lines_in_background(child.stdout.take().unwrap());
        let mut server = PythonServer { child, port: 0 };
        // "Serving HTTP on 127.0.0.1 port 40001 (http://127.0.0.1:40001/) ..."
        let line = lines
            .recv_timeout(WAIT)
            .expect("python3 -m http.server did not start");
        server.port = line
            .split_whitespace()
            .skip_while(|w| *w != "port")
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        server
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = wait_for_exit(&mut self.child, WAIT);
    }
}

#[test]
fn python_http_server_speaks_http_1_0_and_every_response_reconnects() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file"), body()).unwrap();
    let python = PythonServer::start(dir.path());
    let addr: SocketAddr = ([127, 0, 0, 1], python.port).into();
    let expect = dir.path().join("file");
    let (out, report) = bench(
        addr,
        &["--conns", "2", "--expect", expect.to_str().unwrap()],
    );
    assert!(out.status.success(), "{out:?}");
    let msgs = report["msgs"].as_u64().unwrap();
    assert!(msgs > 0, "{report}");
    assert!(
        report["reconnects"].as_u64().unwrap() + 2 >= msgs,
        "{report}"
    );
    for field in ["connect_failures", "resets", "mismatches"] {
        assert_eq!(report[field], 0, "{field}: {report}");
    }
}

//! `sockserv http` shutting down: a SIGTERM closes idle keep-alive connections at once,
//! drains the requests and downloads in flight (completed byte for byte, a request still
//! arriving answered with `Connection: close`), and `--drain-timeout` cuts off the ones
//! that stall.

mod http_support;
mod util;

use std::io::Read;
use std::time::{Duration, Instant};

use http_support::download::{big_file, start_download, BIG};
use http_support::raw::{request_bytes, Conn};
use http_support::{python_lacks, HttpServer, Tree, HTTP_MODES};
use testkit::wait_until_refused;
use util::WAIT;

/// SIGTERM during a download the client has stalled: the port is closed at once, the
/// response is still completed byte for byte once the client reads on, then the
/// process exits 0 (well inside `--drain-timeout 60s`).
#[test]
fn sigterm_drains_a_download_in_flight() {
    if python_lacks("a drain on SIGTERM") {
        return;
    }
    let tree = Tree::new();
    let data = big_file();
    tree.file("big.bin", &data);
    for mode in HTTP_MODES {
        let mut http = HttpServer::start(&tree.root(), mode, &["--drain-timeout", "60s"]);
        let addr = http.addr;
        let (mut stream, mut body) = start_download(addr);
        let server = http.process();
        server.signal("TERM");
        let signalled = Instant::now();
        server.wait_for_line("shutting down");
        wait_until_refused(addr);
        assert!(
            !server.has_exited(),
            "{mode}: exited with the download in flight"
        );
        stream.read_to_end(&mut body).expect("read the rest");
        assert_eq!(body.len(), BIG, "{mode}: body length");
        assert!(body == data, "{mode}: the body differs from the file");
        let status = server.wait(WAIT);
        assert!(status.success(), "{mode}: exit status {status}");
        eprintln!(
            "{mode}: drained; exit {:?} after SIGTERM",
            signalled.elapsed()
        );
    }
}

/// `--drain-timeout 1s` and a client that never reads on: it is cut off after about a
/// second, the server says so and exits 0; the client gets less than the whole file.
#[test]
fn drain_timeout_cuts_off_a_stalled_download() {
    if python_lacks("--drain-timeout") {
        return;
    }
    let tree = Tree::new();
    tree.file("big.bin", &big_file());
    for mode in HTTP_MODES {
        let mut http = HttpServer::start(&tree.root(), mode, &["--drain-timeout", "1s"]);
        let (mut stream, mut body) = start_download(http.addr);
        let server = http.process();
        server.signal("TERM");
        let signalled = Instant::now();
        let status = server.wait(WAIT);
        let took = signalled.elapsed();
        assert!(status.success(), "{mode}: exit status {status}");
        assert!(
            took >= Duration::from_millis(900),
            "{mode}: exit after {took:?}"
        );
        let cut = server.lines_within(WAIT);
        assert!(
            cut.iter()
                .any(|l| l.contains("1 cut off after the drain timeout")),
            "{mode}: {cut:?}"
        );
        // What was in flight ends early: EOF or a reset, never the whole file.
        body.extend(util::read_until_closed(&mut stream, WAIT, mode));
        assert!(body.len() < BIG, "{mode}: got the whole file");
    }
}

/// Idle keep-alive connections (every browser tab holds one).
const IDLE: usize = 100;
/// "Did not hang": far above the milliseconds it takes, far below the drain timeout.
const PROMPT: Duration = Duration::from_secs(5);

/// SIGTERM with 100 idle keep-alive connections open: each is closed at once and the
/// process exits 0 without waiting for `--drain-timeout 60s` (nginx's behaviour; before,
/// each idle connection held the exit for the whole drain timeout).
#[test]
fn sigterm_closes_idle_keep_alive_connections_at_once() {
    if python_lacks("keep-alive") {
        return;
    }
    let tree = Tree::new();
    tree.file("small.txt", b"small");
    // Every mode: 20 processes under fork, the one being served under sequential.
    let modes = HTTP_MODES
        .map(|mode| (mode, IDLE))
        .into_iter()
        .chain([("fork:32", 20), ("sequential", 1)]);
    for (mode, count) in modes {
        let mut http = HttpServer::start(&tree.root(), mode, &["--drain-timeout", "60s"]);
        let mut idle: Vec<Conn> = (0..count)
            .map(|_| {
                let mut conn = Conn::open(http.addr);
                conn.send(&request_bytes("GET", "/small.txt", &[]));
                let response = conn.response(false);
                assert_eq!(response.status, 200, "{mode}");
                assert_ne!(response.header("Connection"), Some("close"), "{mode}");
                conn
            })
            .collect();
        let server = http.process();
        server.signal("TERM");
        let signalled = Instant::now();
        let status = server.wait(PROMPT);
        let took = signalled.elapsed();
        assert!(status.success(), "{mode}: exit status {status}");
        for conn in &mut idle {
            conn.expect_closed();
        }
        eprintln!("{mode}: {count} idle connections; exit {took:?} after SIGTERM");
    }
}

/// SIGTERM while a request head is half sent: the server waits for the rest, answers it
/// whole with `Connection: close`, closes, and exits 0.
#[test]
fn sigterm_answers_a_request_in_flight_with_connection_close() {
    if python_lacks("a drain on SIGTERM") {
        return;
    }
    let tree = Tree::new();
    tree.file("small.txt", b"small");
    for mode in HTTP_MODES {
        let mut http = HttpServer::start(&tree.root(), mode, &["--drain-timeout", "60s"]);
        let addr = http.addr;
        // A whole request and half of the next in one write (one segment on loopback,
        // one read): the first answer shows the server holds the half head.
        let request = request_bytes("GET", "/small.txt", &[]);
        let (half, rest) = request.split_at(request.len() / 2);
        let mut conn = Conn::open(addr);
        conn.send(&[&request[..], half].concat());
        assert_eq!(conn.response(false).status, 200, "{mode}");
        let server = http.process();
        server.signal("TERM");
        server.wait_for_line("shutting down");
        wait_until_refused(addr);
        assert!(
            !server.has_exited(),
            "{mode}: exited with a request in flight"
        );
        conn.send(rest);
        let response = conn.response(false);
        assert_eq!(response.status, 200, "{mode}");
        assert_eq!(response.body, b"small", "{mode}");
        assert_eq!(response.header("Connection"), Some("close"), "{mode}");
        conn.expect_closed();
        let status = server.wait(PROMPT);
        assert!(status.success(), "{mode}: exit status {status}");
    }
}

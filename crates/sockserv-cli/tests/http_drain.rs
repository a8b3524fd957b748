//! `sockserv http` shutting down: a SIGTERM drains the downloads in flight (completed
//! byte for byte), and `--drain-timeout` cuts off the ones that stall.

mod http_support;
mod util;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use http_support::raw::request_bytes;
use http_support::{find, python_lacks, HttpServer, Tree, HTTP_MODES};
use util::WAIT;

/// The drained download: 64 MiB, not a repeating pattern (a lost or repeated chunk
/// shows).
const BIG: usize = 64 * 1024 * 1024;

fn big_file() -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut data = Vec::with_capacity(BIG);
    while data.len() < BIG {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    data
}

/// Starts `GET /big.bin` and reads the head and at least 1 MiB of the body; the
/// client then stops reading, so the response stays in flight.
fn start_download(addr: SocketAddr) -> (TcpStream, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.set_write_timeout(Some(WAIT)).unwrap();
    stream
        .write_all(&request_bytes(
            "GET",
            "/big.bin",
            &[("Connection", "close")],
        ))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0; 64 * 1024];
    while got.len() < 1024 * 1024 {
        let n = stream.read(&mut buf).expect("read the download");
        assert_ne!(n, 0, "closed after {} bytes", got.len());
        got.extend_from_slice(&buf[..n]);
    }
    let end = find(&got, b"\r\n\r\n").expect("a complete head") + 4;
    let head = String::from_utf8_lossy(&got[..end]).into_owned();
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert!(
        head.contains(&format!("Content-Length: {BIG}\r\n")),
        "{head}"
    );
    (stream, got.split_off(end))
}

/// Waits (bounded by [`WAIT`]) until a connection to `addr` is refused: the listener
/// is closed. Probes that still connect (the listener not yet closed) are dropped.
fn wait_until_refused(addr: SocketAddr) {
    let deadline = Instant::now() + WAIT;
    loop {
        match TcpStream::connect(addr) {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => return,
            Err(e) => panic!("probe connect: {e}"),
            Ok(_) => assert!(Instant::now() < deadline, "still accepting after {WAIT:?}"),
        }
        // Probe pacing; the bound is the deadline.
        thread::sleep(Duration::from_millis(10));
    }
}

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

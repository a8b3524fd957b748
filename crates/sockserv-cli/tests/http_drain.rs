//! `sockserv http` shutting down: a SIGTERM drains the downloads in flight (completed
//! byte for byte), and `--drain-timeout` cuts off the ones that stall.

mod http_support;
mod util;

use std::io::Read;
use std::time::{Duration, Instant};

use http_support::download::{big_file, start_download, BIG};
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

//! `sockserv http` with the serving options of echo and chat, end to end on the real
//! binary: the `-v` access log, `--metrics`, `--allow`/`--deny`, `--proxy-protocol`,
//! `--header-timeout`.
//! (TLS is in `http_curl.rs`, the drain on SIGTERM in `http_drain.rs`.)

mod access_support;
mod http_support;
#[path = "util/metrics.rs"]
mod metrics;
mod util;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use access_support::{assert_closed, AT_ONCE};
use http_support::raw::{request_bytes, Conn};
use http_support::{python_lacks, HttpServer, Tree, HTTP_MODES, KNIGHTS};
use metrics::{assert_samples, metrics_addr, sample, scrape};
use sockserv::Endpoint;
use util::{Server, WAIT};

/// The `key=value` fields of a text log line, string values unquoted.
fn fields(line: &str) -> HashMap<&str, &str> {
    line.split_whitespace()
        .filter_map(|word| word.split_once('='))
        .map(|(key, value)| (key, value.trim_matches('"')))
        .collect()
}

/// The next access-log line (`INFO request peer=.. method=.. target=.. status=..
/// bytes=..`), skipping other events; bounded by [`Server::next_line`].
fn next_request(server: &mut Server) -> String {
    server.wait_for_line(" request peer=")
}

/// Asserts the access-log line's fields.
fn assert_logged(line: &str, peer: &str, method: &str, target: &str, status: u16, bytes: usize) {
    let f = fields(line);
    let expected = [
        ("peer", peer.to_string()),
        ("method", method.to_string()),
        ("target", target.to_string()),
        ("status", status.to_string()),
        ("bytes", bytes.to_string()),
    ];
    for (key, value) in expected {
        assert_eq!(
            f.get(key).copied(),
            Some(value.as_str()),
            "{key} in {line:?}"
        );
    }
}

/// Sends `request` on a fresh connection and returns every byte the server sent until
/// it closed (each request asks it to).
fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect to the http server");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.set_write_timeout(Some(WAIT)).unwrap();
    stream.write_all(request).expect("send the request");
    let mut reply = Vec::new();
    stream
        .read_to_end(&mut reply)
        .expect("read until the server closes");
    reply
}

/// A `Connection: close` request.
fn closing(method: &str, target: &str) -> Vec<u8> {
    request_bytes(method, target, &[("Connection", "close")])
}

/// The value of the sample whose name and labels are exactly `series`.
fn labelled(page: &str, series: &str) -> u64 {
    page.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in\n{page}"))
        .parse()
        .expect("an integer sample")
}

/// The page's `sockserv_http_responses_total` by class, 1xx to 5xx.
fn responses(page: &str) -> [u64; 5] {
    ["1xx", "2xx", "3xx", "4xx", "5xx"].map(|class| {
        labelled(
            page,
            &format!("sockserv_http_responses_total{{class=\"{class}\"}}"),
        )
    })
}

/// The labelled `sockserv_connections_rejected_total` of `endpoint` for `reason`.
fn rejected(page: &str, endpoint: &str, reason: &str) -> u64 {
    let labels = format!("{{endpoint=\"{endpoint}\",reason=\"{reason}\"}}");
    labelled(
        page,
        &format!("sockserv_connections_rejected_total{labels}"),
    )
}

/// `-v`: a 200 and a 404 on one keep-alive connection are two access-log lines naming
/// the peer, method, target, status and body bytes, in order, before the connection's
/// close event. Without `-v` there are none (the stderr of a stopped server is complete).
#[test]
fn v_logs_one_line_per_request() {
    if python_lacks("sockserv access log") {
        return;
    }
    let tree = Tree::new();
    tree.file("a.txt", KNIGHTS);
    for mode in HTTP_MODES {
        let mut http = HttpServer::start(&tree.root(), mode, &["-v"]);
        let mut conn = Conn::open(http.addr);
        let peer = conn.local_addr().to_string();
        conn.send(&request_bytes("GET", "/a.txt", &[]));
        let found = conn.response(false);
        assert_eq!(found.status, 200, "{mode}");
        assert_eq!(found.body, KNIGHTS, "{mode}");
        conn.send(&request_bytes("GET", "/missing.txt", &[]));
        let missing = conn.response(false);
        assert_eq!(missing.status, 404, "{mode}");
        drop(conn);
        let server = http.process();
        let first = next_request(server);
        assert_logged(&first, &peer, "GET", "/a.txt", 200, KNIGHTS.len());
        let second = next_request(server);
        assert_logged(
            &second,
            &peer,
            "GET",
            "/missing.txt",
            404,
            missing.body.len(),
        );
        loop {
            let line = server.next_line();
            assert!(!line.contains(" request "), "{mode}: a third line {line:?}");
            if line.contains("connection closed") {
                assert_eq!(fields(&line).get("peer"), Some(&peer.as_str()), "{line}");
                break;
            }
        }

        let mut http = HttpServer::start(&tree.root(), mode, &[]);
        assert_eq!(
            exchange(http.addr, &closing("GET", "/a.txt"))[..12],
            *b"HTTP/1.1 200"
        );
        let server = http.process();
        server.signal("TERM");
        assert!(server.wait(WAIT).success(), "{mode}");
        let rest = server.lines_within(WAIT);
        assert!(
            !rest.iter().any(|l| l.contains(" request ")),
            "{mode}: logged without -v: {rest:?}"
        );
    }
}

/// `--metrics`: seven connections (one with two pipelined requests) answered 2xx, 3xx,
/// 4xx and 5xx show as responses by class, and as connections and bytes per endpoint.
/// The `-v` close events say when the counters are final.
#[test]
fn metrics_count_responses_by_class_and_connections() {
    if python_lacks("--metrics") {
        return;
    }
    let tree = Tree::new();
    tree.file("a.txt", KNIGHTS);
    tree.dir("dir");
    let mut pipelined = request_bytes("GET", "/a.txt", &[]);
    pipelined.extend_from_slice(&closing("HEAD", "/a.txt"));
    let requests: [(Vec<u8>, &[u8]); 7] = [
        (closing("GET", "/a.txt"), b"HTTP/1.1 200 "),
        (closing("GET", "/a.txt"), b"HTTP/1.1 200 "),
        (closing("GET", "/a.txt"), b"HTTP/1.1 200 "),
        (pipelined, b"HTTP/1.1 200 "),
        (closing("GET", "/dir"), b"HTTP/1.1 301 "),
        (closing("GET", "/missing"), b"HTTP/1.1 404 "),
        (closing("DELETE", "/a.txt"), b"HTTP/1.1 501 "),
    ];
    for mode in HTTP_MODES {
        let mut http = HttpServer::start(&tree.root(), mode, &["-v", "--metrics", "127.0.0.1:0"]);
        let (mut received, mut sent) = (0, 0);
        for (request, status) in &requests {
            let reply = exchange(http.addr, request);
            assert!(reply.starts_with(status), "{mode}: {reply:?}");
            received += request.len() as u64;
            sent += reply.len() as u64;
        }
        let server = http.process();
        for _ in &requests {
            server.wait_for_line("connection closed");
        }
        let page = scrape(metrics_addr(server));
        assert_eq!(responses(&page), [0, 5, 1, 1, 1], "{mode}: {page}");
        let endpoint = Endpoint::Tcp(http.addr).to_string();
        let series = format!("sockserv_connections_total{{endpoint=\"{endpoint}\"}}");
        assert_eq!(labelled(&page, &series), 7, "{mode}: {page}");
        assert_samples(
            &page,
            &[
                ("sockserv_connections_total", 7),
                ("sockserv_connections_closed_total", 7),
                ("sockserv_connections_active", 0),
                ("sockserv_connections_rejected_total", 0),
                ("sockserv_bytes_received_total", received),
                ("sockserv_bytes_sent_total", sent),
                ("sockserv_handler_errors_total", 0),
                ("sockserv_handler_panics_total", 0),
                ("sockserv_timeouts_total", 0),
            ],
            &format!("mode {mode}"),
        );
    }
}

/// `--deny` of loopback, or an `--allow` of another network: a client sending a GET is
/// closed without a response, counted as rejected; an allow of loopback serves it.
#[test]
fn allow_and_deny_refuse_without_a_response() {
    if python_lacks("--allow/--deny") {
        return;
    }
    let tree = Tree::new();
    tree.file("a.txt", KNIGHTS);
    for mode in HTTP_MODES {
        for rule in [["--deny", "127.0.0.0/8"], ["--allow", "10.0.0.0/8"]] {
            let what = format!("{mode}: {}", rule.join(" "));
            let mut args = vec!["--metrics", "127.0.0.1:0"];
            args.extend(rule);
            let mut http = HttpServer::start(&tree.root(), mode, &args);
            let endpoint = Endpoint::Tcp(http.addr);
            assert_closed(&endpoint, &closing("GET", "/a.txt"), AT_ONCE, &what);
            let page = scrape(metrics_addr(http.process()));
            let url = endpoint.to_string();
            assert_eq!(rejected(&page, &url, "verify"), 1, "{what}: {page}");
            assert_eq!(rejected(&page, &url, "proxy"), 0, "{what}: {page}");
            assert_eq!(responses(&page), [0; 5], "{what}: {page}");
            assert_eq!(sample(&page, "sockserv_connections_total"), 1, "{what}");
        }
        let http = HttpServer::start(
            &tree.root(),
            mode,
            &["--allow", "127.0.0.1", "--deny", "10.0.0.0/8"],
        );
        let reply = exchange(http.addr, &closing("GET", "/a.txt"));
        assert!(reply.starts_with(b"HTTP/1.1 200 "), "{mode}: allowed");
    }
}

/// `--proxy-protocol` (loopback trusted by default): the client a v1 header names is
/// the peer of the access log; a denied one is closed; a GET without a header is closed
/// without a response. Each refusal is counted under its reason.
#[test]
fn proxy_protocol_names_the_client_in_the_access_log() {
    if python_lacks("--proxy-protocol") {
        return;
    }
    let tree = Tree::new();
    tree.file("a.txt", KNIGHTS);
    for mode in HTTP_MODES {
        let args = [
            "--proxy-protocol",
            "--deny",
            "203.0.113.9",
            "-v",
            "--metrics",
            "127.0.0.1:0",
        ];
        let mut http = HttpServer::start(&tree.root(), mode, &args);
        let endpoint = Endpoint::Tcp(http.addr);
        let mut sent = b"PROXY TCP4 203.0.113.7 203.0.113.1 5555 80\r\n".to_vec();
        sent.extend_from_slice(&closing("GET", "/a.txt"));
        let reply = exchange(http.addr, &sent);
        assert!(reply.starts_with(b"HTTP/1.1 200 "), "{mode}: {reply:?}");
        assert!(reply.ends_with(KNIGHTS), "{mode}");
        let line = next_request(http.process());
        assert_logged(
            &line,
            "203.0.113.7:5555",
            "GET",
            "/a.txt",
            200,
            KNIGHTS.len(),
        );

        let mut denied = b"PROXY TCP4 203.0.113.9 203.0.113.1 5555 80\r\n".to_vec();
        denied.extend_from_slice(&closing("GET", "/a.txt"));
        assert_closed(&endpoint, &denied, AT_ONCE, &format!("{mode}: denied"));
        let bare = closing("GET", "/a.txt");
        assert_closed(&endpoint, &bare, AT_ONCE, &format!("{mode}: no header"));

        let page = scrape(metrics_addr(http.process()));
        let url = endpoint.to_string();
        assert_eq!(rejected(&page, &url, "verify"), 1, "{mode}: {page}");
        assert_eq!(rejected(&page, &url, "proxy"), 1, "{mode}: {page}");
        assert_eq!(responses(&page), [0, 1, 0, 0, 0], "{mode}: {page}");
    }
}

/// `--header-timeout 1s` and a client that sends half a head, then goes silent: it is
/// answered 408 with `Connection: close` after about a second (not at the 10 s idle
/// timeout), and the connection is closed.
#[test]
fn header_timeout_answers_a_silent_half_head_with_408() {
    if python_lacks("--header-timeout") {
        return;
    }
    const LIMIT: Duration = Duration::from_secs(1);
    // Slack for a loaded machine: "answered, not held until the idle timeout".
    const SLACK: Duration = Duration::from_secs(4);
    let tree = Tree::new();
    tree.file("small.txt", b"small");
    for mode in HTTP_MODES {
        let http = HttpServer::start(&tree.root(), mode, &["--header-timeout", "1s"]);
        let mut conn = Conn::open(http.addr);
        let request = request_bytes("GET", "/small.txt", &[]);
        let sent = Instant::now();
        conn.send(&request[..request.len() / 2]);
        let response = conn.response(false);
        let took = sent.elapsed();
        assert_eq!(response.status, 408, "{mode}");
        assert_eq!(response.header("Connection"), Some("close"), "{mode}");
        assert!(
            took >= LIMIT - Duration::from_millis(100) && took < LIMIT + SLACK,
            "{mode}: 408 after {took:?}"
        );
        conn.expect_closed();
    }
}

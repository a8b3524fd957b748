//! `sockserv http` at the protocol level, over raw sockets: the request-line checks of
//! CPython's BaseHTTPServerTestCase (400/414/431/505), then what Python's server lacks —
//! persistent connections and pipelining (RFC 9112 §9), NUL bytes, symlinks out of the root.

mod http_support;
mod util;

use http_support::raw::{fetch, get, malformed, malformed_raw, request_bytes, Conn};
use http_support::*;

fn served_tree() -> Tree {
    let tree = Tree::new();
    tree.file("knights/test", KNIGHTS);
    tree.file("a.txt", b"first file\n");
    tree.file("b.bin", &payload(5000));
    tree
}

/// BaseHTTPServerTestCase's bad request lines, the 64 KiB line limits of
/// test_request_length / test_header_length, and test_too_many_headers.
#[test]
fn malformed_requests_get_the_right_4xx_or_505() {
    let long_target = format!("/{}", "x".repeat(65537));
    let long_header = format!("X-Foo: bar{}", "r".repeat(65537));
    let many_headers = "X-Foo: bar\r\n".repeat(1000);
    let mut cases: Vec<(String, u16)> = vec![
        ("GET / FUBAR\r\n\r\n".into(), 400),
        ("GET / HTTP/9.9.9\r\n\r\n".into(), 400),
        ("GET / HTTP/-9_9_9.+9_9_9\r\n\r\n".into(), 400),
        ("GET / HTTP/909876543210.0\r\n\r\n".into(), 400),
        ("GET / HTTP/1.909876543210\r\n\r\n".into(), 400),
        ("GET /spaced out HTTP/1.1\r\nHost: x\r\n\r\n".into(), 400),
        ("GET / HTTP/9.9\r\n\r\n".into(), 505),
        ("GET / HTTP/2.0\r\n\r\n".into(), 505),
        (
            format!("GET {long_target} HTTP/1.1\r\nHost: t\r\n\r\n"),
            414,
        ),
        (
            format!("GET / HTTP/1.1\r\nHost: t\r\n{long_header}\r\n\r\n"),
            431,
        ),
        (
            format!("GET / HTTP/1.1\r\nHost: t\r\n{many_headers}\r\n"),
            431,
        ),
    ];
    if reference().is_none() {
        // Python takes a two-word line for HTTP/0.9 and answers without a status line.
        cases.push(("CUSTOM /\r\n\r\n".into(), 400));
    }
    for mode in HTTP_MODES {
        let tree = served_tree();
        let server = HttpServer::start(&tree.root(), mode, &[]);
        for (request, status) in &cases {
            let shown: String = request.chars().take(60).collect();
            eprintln!("{mode}: sending {shown:?}");
            let got = refusal_status(server.addr, request.clone().into_bytes());
            assert_eq!(got, *status, "{mode}: {shown:?}");
        }
        // test_html_escape_on_error: whatever the error page says, it is no script.
        let script = b"<script>alert(\"hello\")</script> / HTTP/1.1\r\nHost: t\r\n\r\n".to_vec();
        let response = malformed(server.addr, script);
        assert!(response.status >= 400, "{mode}: {response:?}");
        assert!(
            !response.text().contains("<script>"),
            "{mode}: {response:?}"
        );
    }
}

/// The status a malformed request gets. Python answers a bad version with a bare error
/// page (HTTP/0.9 style, no status line): its "Error code: NNN" line stands in for it.
fn refusal_status(addr: std::net::SocketAddr, request: Vec<u8>) -> u16 {
    if reference().is_none() {
        return malformed(addr, request).status;
    }
    let reply = String::from_utf8_lossy(&malformed_raw(addr, request)).into_owned();
    let code = match reply.strip_prefix("HTTP/1.") {
        Some(rest) => rest.get(2..5),
        None => reply
            .split_once("Error code: ")
            .and_then(|(_, rest)| rest.get(..3)),
    };
    code.and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {reply:?}"))
}

/// RFC 9112 §3.2: an HTTP/1.1 request without `Host`, or any request with two, is 400
/// and closes; HTTP/1.0 needs none. (Python's server accepts all three.)
#[test]
fn a_missing_or_doubled_host_is_400() {
    if python_lacks("Host checks") {
        return;
    }
    for mode in HTTP_MODES {
        let tree = served_tree();
        let server = HttpServer::start(&tree.root(), mode, &[]);
        for request in [
            &b"GET /a.txt HTTP/1.1\r\n\r\n"[..],
            b"GET /a.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            b"GET /a.txt HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n",
        ] {
            let mut conn = Conn::open(server.addr);
            conn.send(request);
            let response = conn.response(false);
            assert_eq!(response.status, 400, "{mode}: {request:?}");
            assert_eq!(response.header("connection"), Some("close"), "{mode}");
            conn.expect_closed();
        }
        let mut conn = Conn::open(server.addr);
        conn.send(b"GET /a.txt HTTP/1.0\r\n\r\n");
        assert_eq!(conn.response(false).status, 200, "{mode}");
    }
}

/// `-p HTTP/1.0` answers as Python's default does: an HTTP/1.0 status line and
/// `Connection: close`, and the connection closes after one response, even when the
/// client asked to keep it (HTTP/1.1, or `Connection: keep-alive`) and pipelined more.
#[test]
fn protocol_http_1_0_answers_one_request_per_connection() {
    if python_lacks("-p") {
        return;
    }
    for mode in HTTP_MODES {
        let tree = served_tree();
        let server = HttpServer::start(&tree.root(), mode, &["-p", "HTTP/1.0"]);
        for first in [
            request_bytes("GET", "/a.txt", &[]),
            b"GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n".to_vec(),
        ] {
            let mut conn = Conn::open(server.addr);
            // A second request pipelined behind the first is never answered.
            conn.send(&[first, request_bytes("GET", "/b.bin", &[])].concat());
            let response = conn.response(false);
            assert_eq!((response.minor, response.status), (0, 200), "{mode}");
            assert!(response.head.starts_with("HTTP/1.0 200 OK\r\n"), "{mode}");
            assert_eq!(response.header("connection"), Some("close"), "{mode}");
            assert_eq!(response.body, b"first file\n", "{mode}");
            conn.expect_closed();
        }
    }
}

/// `--content-type` is the type of files whose extension says nothing; known ones keep
/// theirs.
#[test]
fn content_type_flag_sets_the_type_of_unknown_extensions() {
    if python_lacks("--content-type") {
        return;
    }
    let tree = served_tree();
    tree.file("notes.unknownext", b"notes");
    let server = HttpServer::start(
        &tree.root(),
        "events:1",
        &["--content-type", "text/plain; charset=utf-8"],
    );
    for (target, expected) in [
        ("/notes.unknownext", "text/plain; charset=utf-8"),
        ("/knights/test", "text/plain; charset=utf-8"),
        ("/a.txt", "text/plain"),
    ] {
        let response = get(server.addr, target);
        assert_eq!(response.header("content-type"), Some(expected), "{target}");
    }
}

/// An HTTP/1.0 request without keep-alive ends its connection (both servers agree).
#[test]
fn http_1_0_request_gets_its_response_then_the_close() {
    for mode in HTTP_MODES {
        let tree = served_tree();
        let server = HttpServer::start(&tree.root(), mode, &[]);
        let mut conn = Conn::open(server.addr);
        conn.send(b"GET /a.txt HTTP/1.0\r\n\r\n");
        let response = conn.response(false);
        assert_eq!(response.status, 200, "{mode}");
        assert_eq!(response.body, b"first file\n", "{mode}");
        conn.expect_closed();
    }
}

/// HTTP/1.1 is persistent by default: requests in turn on one connection, each answered
/// with framing that lets the next one be read, until `Connection: close`.
#[test]
fn keep_alive_serves_requests_in_turn_on_one_connection() {
    if python_lacks("HTTP/1.1 keep-alive") {
        return;
    }
    for mode in HTTP_MODES {
        let tree = served_tree();
        let server = HttpServer::start(&tree.root(), mode, &[]);
        let mut conn = Conn::open(server.addr);
        for round in 0..3 {
            conn.send(&request_bytes("GET", "/a.txt", &[]));
            let response = conn.response(false);
            assert_eq!(response.minor, 1, "HTTP/1.1 under {mode}");
            assert_eq!(response.status, 200, "{mode}, round {round}");
            assert_eq!(response.body, b"first file\n", "{mode}, round {round}");
            assert_ne!(response.header("connection"), Some("close"), "{mode}");
            conn.send(&request_bytes("HEAD", "/b.bin", &[]));
            let head = conn.response(true);
            assert_eq!(head.header("content-length"), Some("5000"), "{mode}");
            conn.send(&request_bytes("GET", "/missing", &[]));
            assert_eq!(conn.response(false).status, 404, "{mode}, round {round}");
        }
        conn.send(&request_bytes("GET", "/b.bin", &[("Connection", "close")]));
        let last = conn.response(false);
        assert_eq!(last.body, payload(5000), "{mode}");
        conn.expect_closed();
    }
}

/// Several requests in one write are answered in order, each exactly once: a HEAD and a
/// 304 carry no body, a 404 and a redirect carry theirs, and the last request's
/// `Connection: close` ends it.
#[test]
fn pipelined_requests_are_answered_in_order() {
    if python_lacks("HTTP/1.1 pipelining") {
        return;
    }
    for mode in HTTP_MODES {
        let tree = served_tree();
        let server = HttpServer::start(&tree.root(), mode, &[]);
        let mut batch = Vec::new();
        batch.extend(request_bytes("GET", "/a.txt", &[]));
        batch.extend(request_bytes("HEAD", "/b.bin", &[]));
        batch.extend(request_bytes(
            "GET",
            "/knights/test",
            &[("If-Modified-Since", LAST_MODIFIED)],
        ));
        batch.extend(request_bytes("GET", "/nothing-here", &[]));
        batch.extend(request_bytes("GET", "/knights", &[]));
        batch.extend(request_bytes("GET", "/b.bin", &[]));
        batch.extend(request_bytes(
            "GET",
            "/knights/test",
            &[("Connection", "close")],
        ));
        let mut conn = Conn::open(server.addr);
        conn.send(&batch);

        let first = conn.response(false);
        assert_eq!(
            (first.status, first.body.as_slice()),
            (200, &b"first file\n"[..])
        );
        let head = conn.response(true);
        assert_eq!(
            (head.status, head.header("content-length")),
            (200, Some("5000"))
        );
        assert_eq!(conn.response(false).status, 304, "{mode}");
        assert_eq!(conn.response(false).status, 404, "{mode}");
        let moved = conn.response(false);
        assert_eq!(moved.status, 301, "{mode}");
        assert_eq!(moved.header("location"), Some("/knights/"), "{mode}");
        assert_eq!(conn.response(false).body, payload(5000), "{mode}");
        assert_eq!(conn.response(false).body, KNIGHTS, "{mode}");
        conn.expect_closed();
    }
}

/// A pipeline of many small requests split across writes at odd places still gets every
/// response, in order.
#[test]
fn pipeline_split_at_odd_boundaries_is_answered_in_order() {
    if python_lacks("HTTP/1.1 pipelining") {
        return;
    }
    for mode in HTTP_MODES {
        let tree = served_tree();
        for i in 0..20 {
            tree.file(format!("n/{i}.txt"), format!("file number {i}").as_bytes());
        }
        let server = HttpServer::start(&tree.root(), mode, &[]);
        let mut batch = Vec::new();
        for i in 0..20 {
            batch.extend(request_bytes("GET", &format!("/n/{i}.txt"), &[]));
        }
        let mut conn = Conn::open(server.addr);
        for piece in batch.chunks(37) {
            conn.send(piece);
        }
        for i in 0..20 {
            let response = conn.response(false);
            assert_eq!(response.text(), format!("file number {i}"), "{mode}");
        }
    }
}

/// A NUL byte in the path is refused (Python drops the connection instead).
#[test]
fn nul_in_the_path_is_refused() {
    if python_lacks("a NUL-byte answer (it drops the connection)") {
        return;
    }
    for mode in HTTP_MODES {
        let tree = served_tree();
        let server = HttpServer::start(&tree.root(), mode, &[]);
        for target in ["/knights/test%00", "/knights/test%00.txt", "/%00/a.txt"] {
            let response = get(server.addr, target);
            assert!(
                matches!(response.status, 400 | 403 | 404),
                "{mode}: {target} -> {response:?}"
            );
            assert_ne!(response.body, KNIGHTS, "{mode}: {target}");
        }
    }
}

/// Symlinks that lead out of the root are refused unless `--follow-symlinks`; a symlink
/// that stays inside is served either way.
#[test]
fn symlinks_out_of_the_root_need_follow_symlinks() {
    if python_lacks("symlink policy (it follows every symlink)") {
        return;
    }
    use std::os::unix::fs::symlink;
    for mode in HTTP_MODES {
        let tree = served_tree();
        symlink(tree.outside(), tree.root().join("escape")).unwrap();
        symlink(
            tree.outside().join("secret.txt"),
            tree.root().join("escape.txt"),
        )
        .unwrap();
        symlink(tree.root().join("a.txt"), tree.root().join("inside.txt")).unwrap();

        let server = HttpServer::start(&tree.root(), mode, &[]);
        for target in ["/escape/secret.txt", "/escape.txt", "/escape/"] {
            let response = get(server.addr, target);
            assert!(
                matches!(response.status, 403 | 404),
                "{mode}: {target} -> {response:?}"
            );
            assert!(!response.text().contains(SECRET), "{mode}: {target} leaked");
        }
        assert_eq!(
            get(server.addr, "/inside.txt").body,
            b"first file\n",
            "{mode}"
        );
        drop(server);

        let server = HttpServer::start(&tree.root(), mode, &["--follow-symlinks"]);
        for target in ["/escape/secret.txt", "/escape.txt"] {
            let response = get(server.addr, target);
            assert_eq!(
                response.status, 200,
                "{mode}: {target} with --follow-symlinks"
            );
            assert_eq!(response.text(), SECRET, "{mode}: {target}");
        }
    }
}

/// Responses say how long they are, so a keep-alive client can find the next one: every
/// kind of response carries a Content-Length matching its body (or is chunked).
#[test]
fn every_response_is_framed() {
    for mode in HTTP_MODES {
        let tree = served_tree();
        let server = HttpServer::start(&tree.root(), mode, &[]);
        for target in ["/a.txt", "/", "/knights", "/missing", "/knights/test/"] {
            let response = fetch(server.addr, "GET", target, &[]);
            let framed = response.header("content-length").is_some()
                || response.header("transfer-encoding").is_some();
            assert!(framed, "{mode}: {target} -> {response:?}");
        }
    }
}

//! One connection of the file server, pumped in memory: keep-alive, pipelining, bodies,
//! EOF, back-pressure, malformed requests and limits, the counters (custom handlers are
//! in `handlers.rs`; the header timeout and the drain in `session_clock.rs`).

mod util;

use std::fs;

use sockserv::driver::OutputExt;
use sockserv_http::request::{MAX_HEAD, MAX_HEADERS, MAX_REQUEST_LINE};
use sockserv_http::session::{MAX_INPUT, MAX_SKIPPED_BODY, PAUSE_ABOVE};
use sockserv_http::{Http, Protocol};

use util::{client, file_server, parse_responses, site, Client, Response};

// Keep-alive, pipelining, bodies, EOF and back-pressure.
#[test]
fn http_1_0_closes_unless_it_asks_for_keep_alive() {
    let dir = site();
    let mut c = client(dir.path());
    let r = c.get("GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(r.header("Connection"), Some("keep-alive"));
    assert!(!c.closing());
    let r = c.get("GET /a.txt HTTP/1.0\r\n\r\n");
    assert_eq!(r.header("Connection"), Some("close"));
    assert!(c.closing());
}

#[test]
fn an_http_1_0_server_answers_one_request_per_connection_as_python() {
    let dir = site();
    for request in [
        "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n",
        "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n",
    ] {
        let http = Http::new(file_server(dir.path())).protocol(Protocol::Http10);
        let mut c = Client::new(http);
        c.send(request.as_bytes());
        let sent = c.sent();
        let responses = parse_responses(&sent, &[false]);
        assert_eq!(responses.len(), 1, "{request:?}: one answer, then closed");
        assert!(sent.starts_with(b"HTTP/1.0 "), "{request:?}");
        assert_eq!(responses[0].header("Connection"), Some("close"));
        assert!(c.closing(), "{request:?}");
    }
    // An error answer says HTTP/1.0 too.
    let mut c = Client::new(Http::new(file_server(dir.path())).protocol(Protocol::Http10));
    c.send(b"GET / HTTP/1.1\r\n\r\n");
    assert!(c.sent().starts_with(b"HTTP/1.0 400 "));
    assert!(c.closing());
}

#[test]
fn connection_close_closes_after_the_response() {
    let dir = site();
    let mut c = client(dir.path());
    let r = c.get("GET /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!((r.status, r.header("Connection")), (200, Some("close")));
    assert!(c.closing());
}

const PIPELINE: &str = "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\nHEAD /htm-dir/ HTTP/1.1\r\nHost: t\r\n\r\nGET /nope HTTP/1.1\r\nHost: t\r\n\r\nGET /htm-dir/ HTTP/1.1\r\nHost: t\r\nRange: bytes=1-\r\n\r\n";

fn check_pipeline(sent: &[u8]) {
    let responses = parse_responses(sent, &[false, true, false, false]);
    let got: Vec<(u16, &[u8])> = responses
        .iter()
        .map(|r| (r.status, r.body.as_slice()))
        .collect();
    assert_eq!(
        got,
        [
            (200, &b"abcdefghijklmnopqrstuvwxyz"[..]),
            (200, b""),
            (404, got[2].1),
            (206, b"tm")
        ]
    );
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let dir = site();
    let mut c = client(dir.path());
    c.send(PIPELINE.as_bytes());
    check_pipeline(&c.sent());
    assert!(!c.closing());
}

#[test]
fn any_split_of_the_input_gives_the_same_answers() {
    let dir = site();
    for split in [1, 2, 3, 7, 13, 40] {
        let mut c = client(dir.path());
        let mut sent = Vec::new();
        for chunk in PIPELINE.as_bytes().chunks(split) {
            c.send(chunk);
            sent.extend(c.sent());
        }
        check_pipeline(&sent);
        assert!(c.session().buffered() == 0);
    }
}

#[test]
fn a_small_body_on_a_get_is_skipped() {
    let dir = site();
    let mut c = client(dir.path());
    c.send(b"GET /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello");
    c.send(b" worldGET /htm-dir/ HTTP/1.1\r\nHost: t\r\n\r\n");
    let responses = parse_responses(&c.sent(), &[false]);
    assert_eq!(
        responses.iter().map(|r| r.status).collect::<Vec<_>>(),
        [200, 200]
    );
    assert_eq!(responses[1].body, b"htm");
    assert!(!c.closing());
}

#[test]
fn a_big_or_chunked_body_closes_after_the_response() {
    let dir = site();
    for field in [
        format!("Content-Length: {}", MAX_SKIPPED_BODY + 1),
        "Transfer-Encoding: chunked".into(),
    ] {
        let mut c = client(dir.path());
        let r = c.get(&format!(
            "GET /a.txt HTTP/1.1\r\nHost: t\r\n{field}\r\n\r\n"
        ));
        assert_eq!(
            (r.status, r.header("Connection")),
            (200, Some("close")),
            "{field}"
        );
        assert!(c.closing());
    }
}

#[test]
fn eof_after_a_partial_head_closes_without_an_answer() {
    let dir = site();
    let mut c = client(dir.path());
    c.send(b"GET /a.txt HTTP/1.1\r\nHost: t\r\nHost");
    c.eof();
    assert!(c.sent().is_empty());
    assert!(c.closing());
}

#[test]
fn eof_after_whole_requests_answers_them_then_closes() {
    let dir = site();
    let mut c = client(dir.path());
    c.send(b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    c.eof();
    assert_eq!(parse_responses(&c.sent(), &[false])[0].status, 200);
    assert!(c.closing());
}

/// A site with a file bigger than the pause threshold.
fn big_site() -> (tempfile::TempDir, usize) {
    let dir = site();
    let len = PAUSE_ABOVE as usize + 1;
    fs::write(dir.path().join("big.bin"), vec![7u8; len]).unwrap();
    (dir, len)
}

#[test]
fn pipelined_requests_wait_while_output_is_queued() {
    let (dir, len) = big_site();
    let mut c = client(dir.path());
    c.send(
        b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: t\r\n\r\nGET /htm-dir/ HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    // Only the first is answered while its output is queued: the rest waits.
    assert!(c.session().buffered() > 0);
    let first = c.sent();
    let responses = parse_responses(&first, &[false]);
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0].body.len(), len);
    // The peer read everything: the rest was answered, in order.
    let rest = parse_responses(&c.sent(), &[false]);
    assert_eq!(
        rest.iter().map(|r| r.body.as_slice()).collect::<Vec<_>>(),
        [&b"abcdefghijklmnopqrstuvwxyz"[..], b"htm"]
    );
    assert!(!c.closing());
}

#[test]
fn eof_while_paused_still_answers_what_was_asked() {
    let (dir, _) = big_site();
    let mut c = client(dir.path());
    c.send(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    c.eof();
    assert!(!c.closing());
    c.sent();
    assert_eq!(parse_responses(&c.sent(), &[false])[0].status, 200);
    assert!(c.closing());
}

#[test]
fn too_much_input_while_paused_drops_the_connection() {
    let (dir, _) = big_site();
    let mut c = client(dir.path());
    c.send(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    c.send(b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    let flood = b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n".repeat(1000);
    for _ in 0..MAX_INPUT / flood.len() + 1 {
        c.send(&flood);
    }
    assert!(c.closing());
    assert!(c.session().buffered() <= MAX_INPUT);
}

// Malformed requests, unsupported methods and versions, and the limits.
fn status_and_close(request: &[u8]) -> (u16, bool, Response) {
    let dir = site();
    let mut c = client(dir.path());
    c.send(request);
    let sent = c.sent();
    let mut responses = parse_responses(&sent, &[false]);
    assert_eq!(responses.len(), 1, "{:?}", String::from_utf8_lossy(&sent));
    let r = responses.remove(0);
    (r.status, c.closing(), r)
}

#[test]
fn other_methods_are_501_and_close() {
    for method in ["POST", "PUT", "DELETE", "OPTIONS", "FOO", "GETs", "get"] {
        let (status, closing, r) = status_and_close(
            format!("{method} / HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n")
                .as_bytes(),
        );
        assert_eq!((status, closing), (501, true), "{method}");
        assert_eq!(r.header("Connection"), Some("close"));
        let page = String::from_utf8(r.body).unwrap();
        assert!(
            page.contains(&format!(
                "<p>Message: Unsupported method (&#x27;{method}&#x27;).</p>"
            )) || page.contains(&format!("<p>Message: Unsupported method ('{method}').</p>")),
            "{page}"
        );
    }
}

#[test]
fn bad_versions_are_505_or_400_and_close() {
    assert_eq!(status_and_close(b"GET / HTTP/2.0\r\n\r\n").0, 505);
    assert_eq!(status_and_close(b"GET / HTTP/9.9\r\n\r\n").0, 505);
    let (status, closing, r) = status_and_close(b"GET / HTTP/x.y\r\n\r\n");
    assert_eq!((status, closing), (400, true));
    assert!(String::from_utf8_lossy(&r.body).contains("Bad request version"));
}

#[test]
fn malformed_request_lines_are_400_and_close() {
    for request in [
        &b"GET /\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: t\r\nNo-Colon\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    ] {
        let (status, closing, r) = status_and_close(request);
        assert_eq!(
            (status, closing),
            (400, true),
            "{:?}",
            String::from_utf8_lossy(request)
        );
        assert_eq!(r.header("Connection"), Some("close"));
    }
}

#[test]
fn a_long_request_line_is_414_and_closes() {
    let mut request = b"GET /".to_vec();
    request.extend(std::iter::repeat(b'a').take(MAX_REQUEST_LINE));
    let (status, closing, _) = status_and_close(&request);
    assert_eq!((status, closing), (414, true));
}

#[test]
fn too_many_or_too_big_headers_are_431_and_close() {
    let mut request = b"GET / HTTP/1.1\r\nHost: t\r\n".to_vec();
    for i in 0..=MAX_HEADERS {
        request.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    assert_eq!(status_and_close(&request).0, 431);

    let dir = site();
    let mut c = client(dir.path());
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n");
    let filler = format!("X: {}\r\n", "v".repeat(1000));
    while c.conn.output().pending().is_empty() {
        c.send(filler.as_bytes());
        assert!(
            c.session().buffered() <= MAX_HEAD + filler.len(),
            "buffered without bound"
        );
    }
    assert_eq!(parse_responses(&c.sent(), &[false])[0].status, 431);
    assert!(c.closing());
}

#[test]
fn nothing_is_read_after_a_closing_answer() {
    let dir = site();
    let mut c = client(dir.path());
    c.send(b"POST / HTTP/1.1\r\nHost: t\r\n\r\n");
    c.sent();
    c.send(b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(c.sent().is_empty());
}

#[test]
fn counters_count_responses_by_class() {
    let dir = site();
    let mut c = client(dir.path());
    c.get("GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    c.get("GET /nope HTTP/1.1\r\nHost: t\r\n\r\n");
    c.get("GET /list-dir HTTP/1.1\r\nHost: t\r\n\r\n");
    c.get("GET /a.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-0\r\n\r\n");
    assert_eq!(c.http.counters().by_class(), [0, 2, 1, 1, 0]);
}

#[test]
fn without_a_header_timeout_a_slow_head_still_completes() {
    let dir = site();
    let mut c = client(dir.path());
    for b in b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n" {
        assert!(c.sent().is_empty());
        c.send(&[*b]);
    }
    assert_eq!(parse_responses(&c.sent(), &[false])[0].status, 200);
}

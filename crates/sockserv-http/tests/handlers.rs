//! `Http` over a custom handler, pumped in memory: a closure's own responses on a kept
//! connection, closing and bodiless answers, malformed requests that never reach it,
//! responses as values, and request bodies when the handler asks for them (`max_body`).

mod util;

use sockserv::PeerAddr;
use sockserv_http::session::MAX_INPUT;
use sockserv_http::{Body, Http, Request, Response as Answer, Status};

use util::{parse_responses, Client};

// Custom handlers.

/// Answers `GET /hello` with JSON, echoes the method elsewhere, and closes on `/bye`.
fn hello() -> Http<impl sockserv_http::Handler> {
    Http::from_fn(
        |request: &Request<'_>, peer: &PeerAddr| match (request.method, request.target) {
            ("GET" | "HEAD", "/hello") => Answer::new(Status::OK)
                .with_header("Content-Type", "application/json")
                .with_body(r#"{"hello":"world"}"#),
            (_, "/bye") => Answer::new(Status::NO_CONTENT).closing(),
            (_, "/peer") => Answer::new(Status::OK).with_body(peer.to_string()),
            (method, _) => Answer::error(Status::NOT_FOUND, method),
        },
    )
}

#[test]
fn a_closure_answers_with_its_own_responses_on_a_kept_connection() {
    let mut c = Client::new(hello());
    let r = c.get("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        (r.status, r.header("Content-Type"), r.body.as_slice()),
        (200, Some("application/json"), &br#"{"hello":"world"}"#[..])
    );
    assert_eq!(r.header("Content-Length"), Some("17"));
    assert!(r.head.starts_with("HTTP/1.1 200 OK\r\nServer: sockserv/"));
    assert!(!c.closing());
    let r = c.get("HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!((r.header("Content-Length"), r.body.len()), (Some("17"), 0));
    let r = c.get("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc");
    assert_eq!(r.status, 404);
    assert!(String::from_utf8_lossy(&r.body).contains("<p>Message: POST.</p>"));
    assert_eq!(
        c.get("GET /peer HTTP/1.1\r\nHost: t\r\n\r\n").body,
        b"unix:(unnamed)"
    );
    assert_eq!(c.http.counters().by_class(), [0, 3, 0, 1, 0]);
}

#[test]
fn a_closing_response_closes_and_a_bodiless_one_has_no_length() {
    let mut c = Client::new(hello());
    c.send(b"GET /bye HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    let sent = c.sent();
    let responses = parse_responses(&sent, &[false]);
    assert_eq!(responses.len(), 1, "{:?}", String::from_utf8_lossy(&sent));
    assert_eq!(responses[0].status, 204);
    assert_eq!(responses[0].header("Content-Length"), None);
    assert_eq!(responses[0].header("Connection"), Some("close"));
    assert!(c.closing());
}

#[test]
fn malformed_requests_never_reach_the_handler() {
    let mut c = Client::new(hello());
    c.send(b"GET /hello HTTP/7.0\r\n\r\n");
    let r = &parse_responses(&c.sent(), &[false])[0];
    assert_eq!(r.status, 505);
    assert!(c.closing());
    assert_eq!(c.http.counters().by_class(), [0, 0, 0, 0, 1]);
}

#[test]
fn a_response_is_a_value_until_the_writer_sends_it() {
    let r = Answer::error(Status::NOT_FOUND, "gone <now>");
    assert_eq!(r.status, Status::NOT_FOUND);
    assert_eq!(r.header("content-type"), Some("text/html;charset=utf-8"));
    let Body::Bytes(page) = &r.body else {
        panic!("an error page in memory: {:?}", r.body);
    };
    assert!(String::from_utf8_lossy(page).contains("<p>Message: gone &lt;now&gt;.</p>"));
    assert_eq!(r.content_length(), Some(page.len() as u64));
    assert!(!r.close);
    assert_eq!(
        Answer::new(Status::NOT_MODIFIED)
            .with_body("x")
            .content_length(),
        None
    );
}

// Request bodies, when the handler asks for them.

/// Echoes the body it was given, and what the head said of it.
fn echo_body(max_body: u64) -> Http<impl sockserv_http::Handler> {
    Http::from_fn(|request: &Request<'_>, _: &PeerAddr| {
        Answer::new(Status::OK)
            .with_header("X-Body", format!("{:?}", request.body))
            .with_body(request.content)
    })
    .max_body(max_body)
}

#[test]
fn a_body_within_max_body_is_given_whole_however_it_arrives() {
    let input = b"POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: t\r\n\r\n";
    for split in [1, 2, 3, 7, 40, input.len()] {
        let mut c = Client::new(echo_body(5));
        let mut sent = Vec::new();
        for chunk in input.chunks(split) {
            c.send(chunk);
            sent.extend(c.sent());
        }
        let responses = parse_responses(&sent, &[false]);
        let bodies: Vec<&[u8]> = responses.iter().map(|r| r.body.as_slice()).collect();
        assert_eq!(bodies, [&b"hello"[..], b""], "split {split}");
        assert_eq!(responses[0].header("X-Body"), Some("Length(5)"));
        assert!(!c.closing());
        assert_eq!(c.session().buffered(), 0);
    }
}

#[test]
fn a_body_over_max_body_is_skipped_or_closes_and_never_given() {
    let mut c = Client::new(echo_body(4));
    let r = c.get("POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello");
    assert_eq!((r.header("X-Body"), r.body.len()), (Some("Length(5)"), 0));
    assert!(!c.closing());
    let r = c.get("POST /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_eq!((r.header("X-Body"), r.body.len()), (Some("Encoded"), 0));
    assert!(c.closing());
}

#[test]
fn max_body_is_capped_so_a_waiting_request_fits_the_input_bound() {
    use sockserv_http::session::MAX_BODY;
    let mut c = Client::new(echo_body(u64::MAX));
    let head = format!(
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        MAX_BODY + 1
    );
    let r = c.get(&head);
    assert_eq!(r.body.len(), 0, "over the cap: not read");
    assert!(c.closing(), "and too big to skip");
    let mut c = Client::new(echo_body(u64::MAX));
    let mut request =
        format!("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: {MAX_BODY}\r\n\r\n").into_bytes();
    request.resize(request.len() + MAX_BODY as usize, b'b');
    for chunk in request.chunks(64 * 1024) {
        c.send(chunk);
        assert!(c.session().buffered() <= MAX_INPUT);
    }
    let responses = parse_responses(&c.sent(), &[false]);
    assert_eq!(responses[0].body.len() as u64, MAX_BODY);
    assert!(!c.closing());
}

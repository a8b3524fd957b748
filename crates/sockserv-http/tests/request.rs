//! Request heads: what parses, what waits for more, what is refused and with which status.

use sockserv_http::request::{
    parse, Parsed, Reject, RequestBody, MAX_HEAD, MAX_HEADERS, MAX_REQUEST_LINE,
};
use sockserv_http::{Request, Status};

fn parsed(input: &[u8]) -> Parsed<'_> {
    parse(input, MAX_HEAD)
}

fn complete(input: &[u8]) -> (Request<'_>, usize) {
    match parsed(input) {
        Parsed::Complete(request, len) => (request, len),
        other => panic!("not complete: {other:?}"),
    }
}

fn rejected(input: &[u8]) -> Reject {
    match parsed(input) {
        Parsed::Invalid(reject) => reject,
        other => panic!("not rejected: {other:?}"),
    }
}

#[test]
fn a_simple_get_parses_with_its_length() {
    let input = b"GET /a?b HTTP/1.1\r\nHost: x\r\n\r\nNEXT";
    let (request, len) = complete(input);
    assert_eq!(len, input.len() - 4);
    assert_eq!(
        (request.method, request.target, request.minor),
        ("GET", "/a?b", 1)
    );
    assert!(request.keep_alive);
    assert_eq!(request.body, RequestBody::None);
}

#[test]
fn http_1_1_without_host_or_with_two_is_400() {
    for input in [
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: a\r\nHOST: a\r\n\r\n",
        b"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
    ] {
        let reject = rejected(input);
        assert_eq!(reject.status, Status::BAD_REQUEST, "{input:?}");
        assert!(reject.message.contains("Host"), "{}", reject.message);
    }
    // HTTP/1.0 predates Host: optional there. An empty one is allowed (RFC 9112, 3.2).
    assert_eq!(complete(b"GET / HTTP/1.0\r\n\r\n").0.minor, 0);
    assert_eq!(complete(b"GET / HTTP/1.1\r\nHost:\r\n\r\n").0.minor, 1);
}

#[test]
fn partial_heads_wait_for_more() {
    for input in [
        &b"GET"[..],
        b"GET / HTTP/1.1\r\nHost: t\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r",
        b"GET / HTTP/2",
    ] {
        assert_eq!(
            parsed(input),
            Parsed::Partial,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn keep_alive_follows_the_version_and_connection() {
    let ka = |input: &[u8]| complete(input).0.keep_alive;
    assert!(ka(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
    assert!(!ka(
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    ));
    assert!(!ka(
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, CLOSE\r\n\r\n"
    ));
    assert!(!ka(b"GET / HTTP/1.0\r\n\r\n"));
    assert!(ka(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
    assert!(!ka(
        b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"
    ));
}

#[test]
fn leading_empty_lines_and_bare_lf_are_accepted() {
    let (request, len) = complete(b"\r\n\nGET /x HTTP/1.0\nHost: y\n\n");
    assert_eq!((request.target, len), ("/x", 28));
}

#[test]
fn extra_spaces_in_the_request_line_are_tolerated_like_python() {
    assert_eq!(
        complete(b"GET  /x  HTTP/1.1\r\nHost: t\r\n\r\n").0.target,
        "/x"
    );
}

#[test]
fn the_fields_used_are_picked_case_insensitively() {
    let (request, _) = complete(
        b"GET / HTTP/1.1\r\nHost: t\r\nrange: bytes=0-1\r\nIF-RANGE: \"e\"\r\nIf-None-Match: \"a\"\r\n\
          If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\nIf-Match: *\r\n\
          If-Unmodified-Since: x\r\nAccept-Encoding: gzip\r\nX-Other: y\r\n\r\n",
    );
    let h = request.headers;
    assert_eq!(h.get("Range"), Some("bytes=0-1"));
    assert_eq!(h.get("if-range"), Some("\"e\""));
    assert_eq!(h.get("If-None-Match"), Some("\"a\""));
    assert_eq!(
        h.get("If-Modified-Since"),
        Some("Sun, 06 Nov 1994 08:49:37 GMT")
    );
    assert_eq!(h.get("If-Match"), Some("*"));
    assert_eq!(h.get("If-Unmodified-Since"), Some("x"));
    assert_eq!(h.get("Accept-Encoding"), Some("gzip"));
    assert_eq!(h.get("X-Other"), Some("y"));
    assert_eq!(h.get("Missing"), None);
    assert_eq!(h.iter().count(), 9);
}

#[test]
fn bodies_are_recognised() {
    let body = |input: &[u8]| complete(input).0.body;
    assert_eq!(
        body(b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n"),
        RequestBody::Length(5)
    );
    assert_eq!(
        body(b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"),
        RequestBody::None
    );
    assert_eq!(
        body(b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"),
        RequestBody::Length(5)
    );
    assert_eq!(
        body(b"GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"),
        RequestBody::Encoded
    );
    assert_eq!(
        body(
            b"GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
        ),
        RequestBody::Encoded
    );
}

#[test]
fn bad_or_conflicting_lengths_are_400() {
    for input in [
        &b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: \r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    ] {
        assert_eq!(rejected(input).status, Status::BAD_REQUEST);
    }
}

#[test]
fn a_long_request_line_is_414_before_it_ends() {
    let mut input = b"GET /".to_vec();
    input.resize(MAX_REQUEST_LINE + 1, b'a');
    let reject = rejected(&input);
    assert_eq!(reject.status, Status::URI_TOO_LONG);
    // Exactly at the limit is fine.
    let mut input = b"GET /".to_vec();
    input.resize(MAX_REQUEST_LINE - " HTTP/1.1".len(), b'a');
    input.extend_from_slice(b" HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(matches!(parsed(&input), Parsed::Complete(..)));
}

#[test]
fn too_many_headers_or_too_big_a_head_is_431() {
    let mut input = b"GET / HTTP/1.1\r\nHost: t\r\n".to_vec();
    for i in 0..=MAX_HEADERS {
        input.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
    }
    input.extend_from_slice(b"\r\n");
    assert_eq!(
        rejected(&input),
        Reject {
            status: Status::HEADERS_TOO_LARGE,
            message: "Too many headers".into()
        }
    );

    let mut input = b"GET / HTTP/1.1\r\nHost: t\r\nX: ".to_vec();
    input.resize(MAX_HEAD + 1, b'a');
    assert_eq!(rejected(&input).status, Status::HEADERS_TOO_LARGE);
}

#[test]
fn exactly_max_headers_is_fine() {
    let mut input = b"GET / HTTP/1.1\r\nHost: t\r\n".to_vec();
    for i in 1..MAX_HEADERS {
        input.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
    }
    input.extend_from_slice(b"\r\n");
    assert!(matches!(parsed(&input), Parsed::Complete(..)));
}

#[test]
fn versions_are_judged_like_python() {
    for (line, status, message) in [
        (
            "GET / HTTP/2.0",
            Status::VERSION_NOT_SUPPORTED,
            "Invalid HTTP version (2.0)",
        ),
        (
            "GET / HTTP/3.1",
            Status::VERSION_NOT_SUPPORTED,
            "Invalid HTTP version (3.1)",
        ),
        (
            "GET / HTTP/1.2",
            Status::VERSION_NOT_SUPPORTED,
            "Invalid HTTP version (1.2)",
        ),
        (
            "GET / HTTP/x",
            Status::BAD_REQUEST,
            "Bad request version ('HTTP/x')",
        ),
        (
            "GET / HTTP/1",
            Status::BAD_REQUEST,
            "Bad request version ('HTTP/1')",
        ),
        (
            "GET / FTP/1.1",
            Status::BAD_REQUEST,
            "Bad request version ('FTP/1.1')",
        ),
        (
            "GET / HTTP/1.1.1",
            Status::BAD_REQUEST,
            "Bad request version ('HTTP/1.1.1')",
        ),
        (
            "GET / HTTP/1.1 extra",
            Status::BAD_REQUEST,
            "Bad request version ('extra')",
        ),
    ] {
        let input = format!("{line}\r\n\r\n");
        assert_eq!(
            rejected(input.as_bytes()),
            Reject {
                status,
                message: message.into()
            },
            "{line}"
        );
    }
}

#[test]
fn malformed_lines_and_fields_are_400() {
    for input in [
        &b"GET /\r\n\r\n"[..],
        b"GET\r\n\r\n",
        b"G(T / HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /\xff HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\nX: a\x00b\r\n\r\n",
    ] {
        let reject = rejected(input);
        assert_eq!(
            reject.status,
            Status::BAD_REQUEST,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
    assert_eq!(
        rejected(b"GET /\r\n\r\n").message,
        "Bad request syntax ('GET /')"
    );
}

#[test]
fn headers_give_the_first_utf8_value_and_keep_their_order() {
    let (request, _) = complete(
        b"\r\nGET / HTTP/1.0\r\nX-A: \xff\r\nx-a:  second \r\nX-B: b\r\nX-A: third\r\n\r\nGET",
    );
    assert_eq!(request.headers.get("X-A"), Some("second"));
    let names: Vec<&str> = request.headers.iter().map(|(name, _)| name).collect();
    assert_eq!(names, ["X-A", "x-a", "X-B", "X-A"]);
    assert!(!request.headers.is_empty());
    assert!(complete(b"GET / HTTP/1.0\r\n\r\n").0.headers.is_empty());
}

#[test]
fn the_head_limit_is_the_callers() {
    let input = b"GET / HTTP/1.1\r\nHost: t\r\nX: aaaaaaaaaaaaaa\r\n\r\n";
    assert!(matches!(parse(input, input.len()), Parsed::Complete(..)));
    let too_big = |input, limit| match parse(input, limit) {
        Parsed::Invalid(reject) => reject.status,
        other => panic!("not refused: {other:?}"),
    };
    assert_eq!(too_big(input, input.len() - 1), Status::HEADERS_TOO_LARGE);
    // An unfinished head is refused as soon as it passes the limit.
    assert_eq!(too_big(&input[..20], 19), Status::HEADERS_TOO_LARGE);
    assert_eq!(parse(&input[..20], 20), Parsed::Partial);
}

#[test]
fn several_fields_are_picked_in_one_pass_as_get_finds_them() {
    let (request, _) = complete(
        b"GET / HTTP/1.1\r\nHost: t\r\nRange: bytes=1-\r\nX: \xff\r\nx: y\r\nACCEPT-ENCODING: gzip\r\nRange: no\r\n\r\n",
    );
    let names = ["range", "x", "accept-encoding", "absent"];
    let picked = request.headers.pick(names);
    assert_eq!(picked, [Some("bytes=1-"), Some("y"), Some("gzip"), None]);
    assert_eq!(picked, names.map(|name| request.headers.get(name)));
}

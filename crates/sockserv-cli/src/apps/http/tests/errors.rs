//! Malformed requests, unsupported methods and versions, and the limits.

use super::*;

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
            format!("{method} / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n").as_bytes(),
        );
        assert_eq!((status, closing), (501, true), "{method}");
        assert_eq!(r.field("Connection"), Some("close"));
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
        b"GET / HTTP/1.1\r\nNo-Colon\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    ] {
        let (status, closing, r) = status_and_close(request);
        assert_eq!(
            (status, closing),
            (400, true),
            "{:?}",
            String::from_utf8_lossy(request)
        );
        assert_eq!(r.field("Connection"), Some("close"));
    }
}

#[test]
fn a_long_request_line_is_414_and_closes() {
    let mut request = b"GET /".to_vec();
    request.extend(std::iter::repeat(b'a').take(head::MAX_REQUEST_LINE));
    let (status, closing, _) = status_and_close(&request);
    assert_eq!((status, closing), (414, true));
}

#[test]
fn too_many_or_too_big_headers_are_431_and_close() {
    let mut request = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..=head::MAX_HEADERS {
        request.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    assert_eq!(status_and_close(&request).0, 431);

    let dir = site();
    let mut c = client(dir.path());
    c.send(b"GET / HTTP/1.1\r\n");
    let filler = format!("X: {}\r\n", "v".repeat(1000));
    while c.out.pending().is_empty() {
        c.send(filler.as_bytes());
        assert!(
            c.session.input.len() <= head::MAX_HEAD + filler.len(),
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
    c.send(b"POST / HTTP/1.1\r\n\r\n");
    c.sent();
    c.send(b"GET /a.txt HTTP/1.1\r\n\r\n");
    assert!(c.sent().is_empty());
}

//! Keep-alive, pipelining, bodies, EOF and back-pressure.

use super::*;

#[test]
fn http_1_0_closes_unless_it_asks_for_keep_alive() {
    let dir = site();
    let mut c = client(dir.path());
    let r = c.get("GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(r.field("Connection"), Some("keep-alive"));
    assert!(!c.closing());
    let r = c.get("GET /a.txt HTTP/1.0\r\n\r\n");
    assert_eq!(r.field("Connection"), Some("close"));
    assert!(c.closing());
}

#[test]
fn connection_close_closes_after_the_response() {
    let dir = site();
    let mut c = client(dir.path());
    let r = c.get("GET /a.txt HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_eq!((r.status, r.field("Connection")), (200, Some("close")));
    assert!(c.closing());
}

const PIPELINE: &str = "GET /a.txt HTTP/1.1\r\n\r\nHEAD /htm-dir/ HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\nGET /htm-dir/ HTTP/1.1\r\nRange: bytes=1-\r\n\r\n";

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
        assert!(c.session.input.is_empty());
    }
}

#[test]
fn a_small_body_on_a_get_is_skipped() {
    let dir = site();
    let mut c = client(dir.path());
    c.send(b"GET /a.txt HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello");
    c.send(b" worldGET /htm-dir/ HTTP/1.1\r\n\r\n");
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
        format!("Content-Length: {}", session::MAX_SKIPPED_BODY + 1),
        "Transfer-Encoding: chunked".into(),
    ] {
        let mut c = client(dir.path());
        let r = c.get(&format!("GET /a.txt HTTP/1.1\r\n{field}\r\n\r\n"));
        assert_eq!(
            (r.status, r.field("Connection")),
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
    c.send(b"GET /a.txt HTTP/1.1\r\nHost");
    c.session.on_eof(&mut c.out);
    assert!(c.sent().is_empty());
    assert!(c.closing());
}

#[test]
fn eof_after_whole_requests_answers_them_then_closes() {
    let dir = site();
    let mut c = client(dir.path());
    c.send(b"GET /a.txt HTTP/1.1\r\n\r\n");
    c.session.on_eof(&mut c.out);
    assert_eq!(parse_responses(&c.sent(), &[false])[0].status, 200);
    assert!(c.closing());
}

/// A site with a file bigger than the pause threshold.
fn big_site() -> (tempfile::TempDir, usize) {
    let dir = site();
    let len = session::PAUSE_ABOVE as usize + 1;
    fs::write(dir.path().join("big.bin"), vec![7u8; len]).unwrap();
    (dir, len)
}

#[test]
fn pipelined_requests_wait_while_output_is_queued() {
    let (dir, len) = big_site();
    let mut c = client(dir.path());
    c.send(
        b"GET /big.bin HTTP/1.1\r\n\r\nGET /a.txt HTTP/1.1\r\n\r\nGET /htm-dir/ HTTP/1.1\r\n\r\n",
    );
    let first = c.sent();
    let responses = parse_responses(&first, &[false]);
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0].body.len(), len);
    assert!(c.session.paused);
    // The driver sent everything: the rest is answered, in order.
    c.session.on_drained(&mut c.out);
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
    c.send(b"GET /big.bin HTTP/1.1\r\n\r\nGET /a.txt HTTP/1.1\r\n\r\n");
    c.session.on_eof(&mut c.out);
    assert!(!c.closing());
    c.sent();
    c.session.on_drained(&mut c.out);
    assert_eq!(parse_responses(&c.sent(), &[false])[0].status, 200);
    assert!(c.closing());
}

#[test]
fn too_much_input_while_paused_drops_the_connection() {
    let (dir, _) = big_site();
    let mut c = client(dir.path());
    c.send(b"GET /big.bin HTTP/1.1\r\n\r\n");
    c.send(b"GET /a.txt HTTP/1.1\r\n\r\n");
    let flood = b"GET /a.txt HTTP/1.1\r\n\r\n".repeat(1000);
    for _ in 0..session::MAX_INPUT / flood.len() + 1 {
        c.send(&flood);
    }
    assert!(c.closing());
    assert!(c.session.input.len() <= session::MAX_INPUT);
}

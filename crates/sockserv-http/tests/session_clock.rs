//! One connection's clock and goodbye, in memory with InMemory's clock: the header
//! timeout (408 for a head left half-sent or trickled) and the drain (idle connections
//! close at once, a request in flight is answered with `Connection: close`).

mod util;

use std::time::Duration;

use sockserv_http::Http;

use util::{client, file_server, parse_responses, site, Client};

const LIMIT: Duration = Duration::from_secs(5);
const SECOND: Duration = Duration::from_secs(1);
const GET: &[u8] = b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n";

/// A connection to the file server on `root` with a header timeout of [`LIMIT`].
fn timed(root: &std::path::Path) -> Client<sockserv_http::FileServer> {
    Client::new(Http::new(file_server(root)).header_timeout(Some(LIMIT)))
}

/// Asserts `sent` is exactly one 408 that closes the connection.
fn assert_timed_out(c: &Client<sockserv_http::FileServer>, sent: &[u8]) {
    let responses = parse_responses(sent, &[false]);
    assert_eq!(responses.len(), 1, "{responses:?}");
    assert_eq!(responses[0].status, 408);
    assert_eq!(responses[0].header("Connection"), Some("close"));
    assert!(c.closing());
}

#[test]
fn header_timeout_answers_a_silent_half_head_with_408() {
    let dir = site();
    let mut c = timed(dir.path());
    assert_eq!(c.conn.timer(), None, "no head has begun");
    c.send(b"GET /a.txt HT");
    assert_eq!(c.conn.timer(), Some(LIMIT));
    assert!(!c.conn.advance(LIMIT - SECOND));
    assert!(c.sent().is_empty());
    assert!(c.conn.advance(SECOND));
    let sent = c.sent();
    assert_timed_out(&c, &sent);
    assert!(c.conn.is_closed());
}

#[test]
fn header_timeout_answers_a_trickled_head_with_408() {
    let dir = site();
    let mut c = timed(dir.path());
    // One byte a second: each is progress, none restarts the head's clock.
    for b in b"GET /a.txt HTTP/1.1\r\nHost" {
        if c.conn.advance(SECOND) {
            break;
        }
        c.send(&[*b]);
    }
    let sent = c.sent();
    assert_timed_out(&c, &sent);
}

#[test]
fn header_timeout_runs_per_head_and_stops_when_it_is_complete() {
    let dir = site();
    let mut c = timed(dir.path());
    c.send(&GET[..10]);
    assert!(!c.conn.advance(LIMIT - SECOND));
    c.send(&GET[10..]);
    assert_eq!(c.conn.timer(), None, "the head is complete");
    assert_eq!(parse_responses(&c.sent(), &[false])[0].status, 200);
    // A keep-alive connection idle for long is the idle timeout's business, not this.
    assert!(!c.conn.advance(LIMIT * 10));
    // A complete request and the start of the next in one read: a fresh clock for it.
    let mut two = GET.to_vec();
    two.extend_from_slice(b"GET /a");
    c.send(&two);
    assert_eq!(c.conn.timer(), Some(LIMIT));
    assert!(!c.closing());
    assert!(c.conn.advance(LIMIT));
    let responses = parse_responses(&c.sent(), &[false, false]);
    assert_eq!(
        responses.iter().map(|r| r.status).collect::<Vec<_>>(),
        [200, 408]
    );
    assert!(c.closing());
}

#[test]
fn without_a_header_timeout_no_timer_is_set() {
    let dir = site();
    let mut c = client(dir.path());
    c.send(b"GET /a.txt HT");
    assert_eq!(c.conn.timer(), None);
    c.send(b"TP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(parse_responses(&c.sent(), &[false])[0].status, 200);
}

#[test]
fn a_drain_closes_an_idle_keep_alive_connection_at_once() {
    let dir = site();
    let mut c = client(dir.path());
    c.send(GET);
    assert_eq!(parse_responses(&c.sent(), &[false])[0].status, 200);
    assert!(!c.closing());
    assert!(c.conn.shutdown());
    assert!(c.closing());
    assert!(c.sent().is_empty());
    assert!(c.conn.is_closed());
}

#[test]
fn a_drain_sends_a_queued_response_whole_then_closes() {
    let dir = site();
    let mut c = client(dir.path());
    c.send(GET);
    assert!(c.conn.shutdown());
    assert!(c.closing());
    let responses = parse_responses(&c.sent(), &[false]);
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0].status, 200);
    assert_eq!(responses[0].body, b"abcdefghijklmnopqrstuvwxyz");
    assert!(c.conn.is_closed());
}

#[test]
fn a_drain_answers_a_request_in_flight_with_connection_close() {
    let dir = site();
    let mut c = timed(dir.path());
    c.send(&GET[..10]);
    assert!(c.conn.shutdown());
    assert!(!c.closing(), "half a request is in flight");
    c.send(&GET[10..]);
    let sent = c.sent();
    let responses = parse_responses(&sent, &[false]);
    assert_eq!(responses.len(), 1, "{responses:?}");
    assert_eq!(responses[0].status, 200);
    assert_eq!(responses[0].header("Connection"), Some("close"));
    assert!(c.conn.is_closed());
}

#[test]
fn a_drain_answers_pipelined_requests_waiting_then_closes() {
    let dir = site();
    let mut c = client(dir.path());
    // A big answer backs the output up: the second request waits, unparsed.
    let big = vec![b'x'; (sockserv_http::session::PAUSE_ABOVE + 1) as usize];
    std::fs::write(dir.path().join("big.bin"), &big).unwrap();
    let mut two = b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n".to_vec();
    two.extend_from_slice(GET);
    two.extend_from_slice(GET);
    c.send(&two);
    assert!(c.session().buffered() > 0, "the pipelined requests wait");
    assert!(c.conn.shutdown());
    assert!(!c.closing(), "requests are in flight");
    let mut sent = c.sent();
    sent.extend(c.sent());
    let responses = parse_responses(&sent, &[false, false]);
    assert_eq!(responses.len(), 2, "the next is answered, with close");
    assert_eq!(responses[0].body.len(), big.len());
    assert_eq!(responses[1].header("Connection"), Some("close"));
    assert!(c.conn.is_closed());
}

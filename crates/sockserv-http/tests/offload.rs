//! Responses decided on an [`Offload`] pool: the connection's thread never waits for the
//! handler, answers still come in order, and EOF, pipelining and closing responses work
//! as without a pool.

mod util;

use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use sockserv_http::offload::Offload;
use sockserv_http::{Http, Response, Status};

use util::{client, file_server, parse_responses, site, Client};

const LIMIT: Duration = Duration::from_secs(10);

/// Delivers wake-ups until `c` has sent something (bounded), and returns it.
fn answered<H: sockserv_http::Handler>(c: &mut Client<H>) -> Vec<u8> {
    let mut sent = Vec::new();
    testkit::wait_until(LIMIT, "the offloaded answer", || {
        c.conn.wake();
        sent.extend(c.sent());
        (!sent.is_empty(), String::new())
    });
    sent
}

#[test]
fn a_slow_handler_does_not_hold_the_connections_thread() {
    let (release, gate) = mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let http = Http::from_fn(move |request, _peer| {
        if request.target == "/slow" {
            gate.lock().unwrap().recv_timeout(LIMIT).expect("released");
        }
        Response::new(Status::OK).with_body(request.target.to_owned())
    })
    .offload(Offload::new(2, 8).unwrap());
    let mut c = Client::new(http);
    // Three pipelined requests: the first blocks its worker until released.
    c.send(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\nGET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    // `send` returned while the handler waits: the thread was not held.
    assert!(c.sent().is_empty());
    assert!(!c.conn.wake(), "nothing is ready yet");
    release.send(()).unwrap();
    let mut sent = Vec::new();
    testkit::wait_until(LIMIT, "three answers", || {
        c.conn.wake();
        sent.extend(c.sent());
        let n = parse_responses(&sent, &[false; 3]).len();
        (c.closing() && n == 3, format!("{n} answers"))
    });
    let bodies: Vec<Vec<u8>> = parse_responses(&sent, &[false; 3])
        .into_iter()
        .map(|r| r.body)
        .collect();
    assert_eq!(bodies, [&b"/slow"[..], b"/a", b"/b"], "in the order asked");
}

#[test]
fn the_file_server_on_a_pool_answers_as_without_one() {
    let dir = site();
    let pooled = || Http::new(file_server(dir.path())).offload(Offload::new(1, 1).unwrap());
    for request in [
        &b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n"[..],
        b"GET /list-dir/ HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /long.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-1,1038-\r\n\r\n",
        b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n",
    ] {
        let mut plain = client(dir.path());
        plain.send(request);
        let expected = parse_responses(&plain.sent(), &[false]);
        let mut c = Client::new(pooled());
        c.send(request);
        let got = parse_responses(&answered(&mut c), &[false]);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].status, expected[0].status);
        assert_eq!(got[0].body, expected[0].body);
        assert!(!c.closing());
    }
}

#[test]
fn eof_while_a_worker_answers_still_gets_the_answer_then_closes() {
    let dir = site();
    let mut c =
        Client::new(Http::new(file_server(dir.path())).offload(Offload::new(1, 1).unwrap()));
    c.send(b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    c.eof();
    let sent = answered(&mut c);
    let responses = parse_responses(&sent, &[false]);
    assert_eq!(responses[0].body, b"abcdefghijklmnopqrstuvwxyz");
    assert!(c.closing(), "closed after the answer");
}

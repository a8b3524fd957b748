//! `TlsSession` in memory: a rustls client and the wrapped Session pump bytes through
//! `Output`s, no sockets, no timing.
#![cfg(feature = "tls")]

mod tls_pair;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rcgen::KeyPair;
use sockserv::driver::OutputExt;
use sockserv::tls::{TlsAcceptor, TlsError};
use sockserv::{Output, PeerAddr, Session, SessionFactory, SessionWaker};
use testkit::Certs;
use tls_pair::Pair;

/// Echoes every byte back; closes at EOF (the default).
struct Echo;

impl Session for Echo {
    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        out.write(data);
    }
}

fn echo_factory() -> impl SessionFactory<Session = Echo> {
    |_: &PeerAddr| Echo
}

#[test]
fn handshake_then_echo_of_a_large_payload() {
    let certs = Certs::generate();
    let mut pair = Pair::open(&certs, echo_factory());
    pair.pump().unwrap();
    assert!(!pair.client.is_handshaking());
    let payload: Vec<u8> = (0..200_000).map(|i| (i % 251) as u8).collect();
    pair.send(&payload);
    pair.pump().unwrap();
    let (echo, closed) = pair.received();
    assert!(echo == payload, "the echo differs ({} bytes)", echo.len());
    assert!(!closed);
    assert!(!pair.server.is_closing());
}

#[test]
fn data_sent_with_the_handshake_is_echoed_once_it_completes() {
    let certs = Certs::generate();
    let mut pair = Pair::open(&certs, echo_factory());
    pair.send(b"early words\n");
    pair.pump().unwrap();
    assert_eq!(pair.received(), (b"early words\n".to_vec(), false));
}

#[test]
fn client_close_notify_is_the_inner_eof_and_the_server_answers_with_its_own() {
    let certs = Certs::generate();
    let mut pair = Pair::open(&certs, echo_factory());
    pair.pump().unwrap();
    pair.send(b"last words\n");
    pair.client.send_close_notify();
    pair.pump().unwrap();
    assert_eq!(pair.received(), (b"last words\n".to_vec(), true));
    assert!(pair.server.is_closing());
}

#[test]
fn transport_eof_without_close_notify_still_ends_the_inner_session() {
    let certs = Certs::generate();
    let mut pair = Pair::open(&certs, echo_factory());
    pair.pump().unwrap();
    pair.server.eof();
    assert!(pair.server.is_closing());
    pair.pump().unwrap();
    assert_eq!(pair.received(), (Vec::new(), true));
}

#[test]
fn eof_in_the_middle_of_the_handshake_closes() {
    let certs = Certs::generate();
    let mut pair = Pair::open(&certs, echo_factory());
    pair.server.eof();
    assert!(pair.server.is_closing());
}

#[test]
fn a_plaintext_client_gets_an_alert_and_is_closed() {
    let certs = Certs::generate();
    for garbage in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"hello\n",
        &[0xff; 64],
    ] {
        let mut pair = Pair::open(&certs, echo_factory());
        assert!(pair.server.feed(garbage));
        assert!(pair.server.is_closing(), "{garbage:?} did not close");
        // A TLS alert record (content type 21), if anything.
        let sent = pair.server.transmit().unwrap();
        assert!(
            sent.is_empty() || sent[0] == 21,
            "{garbage:?}: sent {sent:?}"
        );
        // The connection is over: nothing more is read.
        assert!(pair.server.is_closed());
        assert!(!pair.server.feed(b"more"));
    }
}

/// Says hello on open, and closes after the first line it receives.
struct Greeter;

impl Session for Greeter {
    fn on_open(&mut self, out: &mut Output) {
        out.write(b"hello\n");
    }

    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        out.write(b"bye ");
        out.write(data);
        out.close();
    }
}

#[test]
fn a_greeting_waits_for_the_handshake_and_an_inner_close_sends_close_notify() {
    let certs = Certs::generate();
    let mut pair = Pair::open(&certs, |_: &PeerAddr| Greeter);
    // The greeting is held back: the client has not said hello yet.
    assert!(pair.server.output().pending().is_empty());
    pair.pump().unwrap();
    assert_eq!(pair.received(), (b"hello\n".to_vec(), false));
    pair.send(b"x\n");
    pair.pump().unwrap();
    assert_eq!(pair.received(), (b"bye x\n".to_vec(), true));
    assert!(pair.server.is_closing());
}

/// Hands its waker out; writes `woken` on every wake-up.
struct Wakeable {
    waker: Arc<Mutex<Option<SessionWaker>>>,
    closed: Arc<AtomicUsize>,
}

impl Session for Wakeable {
    fn on_open(&mut self, out: &mut Output) {
        *self.waker.lock().unwrap() = Some(out.waker());
    }

    fn on_data(&mut self, _data: &[u8], _out: &mut Output) {}

    fn on_wake(&mut self, out: &mut Output) {
        out.write(b"woken\n");
    }

    fn on_close(&mut self) {
        self.closed.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn an_inner_wake_up_wakes_the_connection_and_its_output_is_encrypted() {
    let certs = Certs::generate();
    let slot = Arc::new(Mutex::new(None));
    let closed = Arc::new(AtomicUsize::new(0));
    let (s, c) = (Arc::clone(&slot), Arc::clone(&closed));
    let mut pair = Pair::open(&certs, move |_: &PeerAddr| Wakeable {
        waker: Arc::clone(&s),
        closed: Arc::clone(&c),
    });
    let source = pair
        .server
        .output()
        .wake_source()
        .expect("the wrapper asks for a waker");
    let notified = Arc::new(AtomicUsize::new(0));
    let n = Arc::clone(&notified);
    source.set_notify(move || {
        n.fetch_add(1, Ordering::SeqCst);
    });
    pair.pump().unwrap();
    assert_eq!(notified.load(Ordering::SeqCst), 0);

    let inner_waker = slot.lock().unwrap().clone().expect("on_open ran");
    inner_waker.wake();
    assert_eq!(
        notified.load(Ordering::SeqCst),
        1,
        "the driver was notified"
    );
    assert!(pair.server.wake(), "the wake-up was pending");
    pair.pump().unwrap();
    assert_eq!(pair.received(), (b"woken\n".to_vec(), false));

    // A second wake-up is delivered too (the inner wake-up was taken).
    inner_waker.wake();
    assert_eq!(notified.load(Ordering::SeqCst), 2);
    assert!(pair.server.wake(), "the second wake-up was pending");
    assert!(!pair.server.wake(), "delivered once");
    pair.pump().unwrap();
    assert_eq!(pair.received(), (b"woken\n".to_vec(), false));

    pair.server.close();
    assert_eq!(closed.load(Ordering::SeqCst), 1);
}

#[test]
fn an_inner_session_without_a_waker_costs_no_waker() {
    let certs = Certs::generate();
    let pair = Pair::open(&certs, echo_factory());
    assert!(pair.server.output().wake_source().is_none());
}

#[test]
fn pem_errors_name_the_file() {
    let certs = Certs::generate();
    let missing = certs.path("missing.pem");
    let err = TlsAcceptor::from_pem_files(&missing, &certs.path("key.pem")).unwrap_err();
    assert!(matches!(err, TlsError::Pem { .. }), "{err:?}");
    assert!(err.to_string().contains("missing.pem"), "{err}");

    // A certificate file given as the key holds no private key.
    let cert = certs.path("cert.pem");
    let err = TlsAcceptor::from_pem_files(&cert, &cert).unwrap_err();
    assert!(err.to_string().contains("private key"), "{err}");
    assert!(err.to_string().contains("cert.pem"), "{err}");

    let other_key = certs.path("other-key.pem");
    std::fs::write(&other_key, KeyPair::generate().unwrap().serialize_pem()).unwrap();
    let err = TlsAcceptor::from_pem_files(&cert, &other_key).unwrap_err();
    assert!(matches!(err, TlsError::Config { .. }), "{err:?}");

    let empty = certs.path("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let err = TlsAcceptor::from_pem_files(&empty, &certs.path("key.pem")).unwrap_err();
    assert!(err.to_string().contains("empty.pem"), "{err}");
    assert!(!err.to_string().contains('\n'), "one line: {err}");
}

/// Echoes, and records how much of its output was still unsent when data came.
struct Backlog(Arc<AtomicUsize>);

impl Session for Backlog {
    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        self.0.store(out.pending().len(), Ordering::SeqCst);
        out.write(data);
    }
}

/// The chat room disconnects a reader whose backlog grows too long: over TLS the inner
/// Session must still see what the driver has not sent.
#[test]
fn the_inner_output_shows_plaintext_the_driver_has_not_sent() {
    let certs = Certs::generate();
    let backlog = Arc::new(AtomicUsize::new(usize::MAX));
    let b = Arc::clone(&backlog);
    let mut pair = Pair::open(&certs, move |_: &PeerAddr| Backlog(Arc::clone(&b)));
    pair.pump().unwrap();
    let send_raw = |pair: &mut Pair<Backlog>, data: &[u8]| {
        pair.send(data);
        pair.send_records();
    };
    send_raw(&mut pair, b"aaaa");
    assert_eq!(backlog.load(Ordering::SeqCst), 0);
    // The driver has not sent the echo: the inner Session sees it waiting.
    send_raw(&mut pair, b"bb");
    assert_eq!(backlog.load(Ordering::SeqCst), 4);
    // The driver sends everything; the next call sees no backlog.
    pair.pump().unwrap();
    send_raw(&mut pair, b"c");
    assert_eq!(backlog.load(Ordering::SeqCst), 0);
    pair.pump().unwrap();
    assert_eq!(pair.received(), (b"aaaabbc".to_vec(), false));
}

//! Server counters and the close hook: every served connection is counted once, with
//! its traffic, under every strategy; rejected peers are counted apart.

mod util;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sockserv::report::Closed;
use sockserv::{Output, PeerAddr, Server, Session, Strategy};
use util::{Client, Serving};

/// What the close hook saw: bytes in, bytes out, reason.
type CloseRecord = (u64, u64, &'static str);

struct Echo;

impl Session for Echo {
    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        out.write(data);
    }
}

#[test]
fn every_connection_is_counted_once_with_its_traffic() {
    for strategy in [
        Strategy::Sequential,
        Strategy::Threads,
        Strategy::Pool { workers: 2 },
        Strategy::Fork { max_children: 2 },
        Strategy::Events { loops: 2 },
    ] {
        let closes: Arc<Mutex<Vec<CloseRecord>>> = Arc::default();
        let log = Arc::clone(&closes);
        let server = Server::builder("127.0.0.1:0")
            .strategy(strategy)
            .session(|_: &PeerAddr| Echo)
            // The clients connect one at a time; the second one is refused.
            .verify({
                let seen = AtomicUsize::new(0);
                move |_: &PeerAddr| seen.fetch_add(1, Ordering::SeqCst) != 1
            })
            .on_close(move |c: &Closed<'_>| {
                log.lock()
                    .unwrap()
                    .push((c.bytes_in, c.bytes_out, c.reason()))
            })
            .bind()
            .unwrap();
        let stats = server.stats();
        let serving = Serving::start(server);

        let (mut served, mut refused) = (0u64, 0u64);
        for i in 0..4 {
            let mut client = Client::connect(&serving.endpoint);
            if i != 1 {
                let back = client.echo_half_close(b"hello".to_vec());
                assert_eq!(back, b"hello", "{strategy}");
                served += 1;
            } else {
                // Refused: EOF (or a reset) within the bound, never data.
                util::expect_closed(&mut client, util::WAIT, &format!("{strategy}: refused"));
                refused += 1;
            }
        }
        let report = serving.stop().close().unwrap();
        assert_eq!(report.left, 0, "{strategy}");

        let snap = stats.snapshot();
        assert_eq!(snap.accepted, served + refused, "{strategy}: {snap:?}");
        assert_eq!(snap.rejected, refused, "{strategy}: {snap:?}");
        assert_eq!(snap.closed, served, "{strategy}: {snap:?}");
        assert_eq!(snap.active, 0, "{strategy}: {snap:?}");
        if let Strategy::Fork { .. } = strategy {
            // Served in children: their traffic and their close hooks are out of sight.
            assert!(closes.lock().unwrap().is_empty(), "{strategy}");
            continue;
        }
        assert_eq!(snap.bytes_in, 5 * served, "{strategy}: {snap:?}");
        assert_eq!(snap.bytes_out, 5 * served, "{strategy}: {snap:?}");
        let closes = closes.lock().unwrap();
        assert_eq!(closes.len() as u64, served, "{strategy}");
        assert!(
            closes.iter().all(|&c| c == (5, 5, "closed")),
            "{strategy}: {closes:?}"
        );
    }
}

/// Regression: a blocking handler writing to a client that left got EPIPE/ECONNRESET,
/// which was reported to the error hook and counted as a handler error.
#[test]
fn a_peer_leaving_mid_write_is_a_close_reason_not_a_handler_error() {
    for strategy in [Strategy::Threads, Strategy::Pool { workers: 2 }] {
        let (closed_tx, closed) = std::sync::mpsc::channel();
        let errors = Arc::new(AtomicUsize::new(0));
        let reported = Arc::clone(&errors);
        let server = Server::builder("127.0.0.1:0")
            .strategy(strategy)
            .handler(|conn| {
                let chunk = vec![b'x'; 64 * 1024];
                loop {
                    std::io::Write::write_all(conn, &chunk)?;
                }
            })
            .on_error(move |_| {
                reported.fetch_add(1, Ordering::SeqCst);
            })
            .on_close(move |c: &Closed<'_>| {
                let _ = closed_tx.send(c.reason());
            })
            .bind()
            .unwrap();
        let stats = server.stats();
        let serving = Serving::start(server);
        let mut client = Client::connect(&serving.endpoint);
        let mut first = [0u8; 1024];
        client.read_exact(&mut first).unwrap();
        drop(client); // unread data: the kernel resets the connection
        let reason = closed.recv_timeout(util::WAIT).expect("the handler ends");
        serving.stop().close().unwrap();
        assert_eq!(reason, "disconnected", "{strategy}");
        assert_eq!(errors.load(Ordering::SeqCst), 0, "{strategy}: reported");
        let snap = stats.snapshot();
        assert_eq!(snap.handler_errors, 0, "{strategy}: {snap:?}");
        assert_eq!(snap.closed, 1, "{strategy}: {snap:?}");
    }
}

/// A Session that fails in each way a Session can: `panic` panics in `on_data`; `short`
/// queues 100 bytes of a 10-byte file, which fails when it is sent (a handler error);
/// anything else is echoed. A silent client runs into the read timeout.
struct Failing(std::path::PathBuf);

impl Session for Failing {
    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        match data {
            b"panic" => panic!("asked to panic"),
            b"short" => out.send_file(std::fs::File::open(&self.0).unwrap(), 0, 100),
            _ => out.write(data),
        }
    }
}

/// One connection that panics, one that fails, one that times out, one served: the
/// counters say so apart (a counter wired to nothing would stay at zero), under every
/// strategy whose workers share the server's memory (a forked child's are out of sight).
#[test]
fn errors_panics_and_timeouts_are_counted_apart() {
    let dir = util::temp_dir();
    let ten_bytes = dir.path().join("ten");
    std::fs::write(&ten_bytes, b"0123456789").unwrap();
    for strategy in util::STRATEGIES {
        if matches!(strategy, Strategy::Fork { .. }) {
            continue;
        }
        let file = ten_bytes.clone();
        let server = Server::builder("127.0.0.1:0")
            .strategy(strategy)
            .read_timeout(Some(std::time::Duration::from_millis(200)))
            .session(move |_: &PeerAddr| Failing(file.clone()))
            .on_error(|_: &sockserv::report::ConnError| {})
            .bind()
            .unwrap();
        let stats = server.stats();
        let serving = Serving::start(server);
        for (send, want) in [
            (&b"panic"[..], &b""[..]),
            (b"short", b"0123456789"),
            (b"", b""),
            (b"fine", b"fine"),
        ] {
            let mut client = Client::connect(&serving.endpoint);
            client.write_all(send).unwrap();
            if send == b"fine" {
                assert_eq!(client.echo_half_close(Vec::new()), want, "{strategy}");
                continue;
            }
            // The server ends each failing connection itself, within the bound.
            let got = util::read_until_closed(&mut client, util::WAIT, &format!("{strategy}"));
            assert_eq!(got, want, "{strategy}: after {send:?}");
        }
        testkit::wait_until(util::WAIT, "the four connections closed", || {
            let closed = stats.snapshot().closed;
            (closed == 4, format!("{closed} closed"))
        });
        let snap = stats.snapshot();
        assert_eq!(
            (snap.panics, snap.handler_errors, snap.timeouts),
            (1, 1, 1),
            "{strategy}: {snap:?}"
        );
        serving.stop().close().unwrap();
    }
}

//! `Session::on_shutdown` in every strategy: a drain tells the Sessions being served, so a
//! drain of idle connections ends at once instead of at its deadline; a stop that names
//! another close policy tells nobody. Under the sequential strategy the drain begins at
//! the stop (the connection holds `serve`) and its deadline counts from there; forked
//! children hear it from their parent.

mod util;

use std::io::{self, Read, Write};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use sockserv::report::CloseReport;
use sockserv::{ClosePolicy, Conn, Output, PeerAddr, Server, Session, Strategy};
use util::{Client, Serving, WAIT};

/// Greets, echoes; on a drain says `bye` and closes.
struct Polite;

impl Session for Polite {
    fn on_open(&mut self, out: &mut Output) {
        out.write(b"hi\n");
    }

    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        out.write(data);
    }

    fn on_shutdown(&mut self, out: &mut Output) {
        out.write(b"bye\n");
        out.close();
    }
}

/// Greets, echoes, and ignores the drain.
struct Deaf;

impl Session for Deaf {
    fn on_open(&mut self, out: &mut Output) {
        out.write(b"hi\n");
    }

    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        out.write(data);
    }
}

fn polite_server(strategy: Strategy, policy: ClosePolicy) -> Server {
    Server::builder(util::tcp_any())
        .strategy(strategy)
        .close_policy(policy)
        .session(|_: &PeerAddr| Polite)
        .bind()
        .unwrap()
}

/// Clients that were greeted, so are being served (no more than the smallest pool of
/// the strategy list serves at once). The sequential strategy serves one.
fn greeted(strategy: Strategy, serving: &Serving, clients: usize) -> Vec<Client> {
    let count = if strategy == Strategy::Sequential {
        1
    } else {
        clients
    };
    (0..count)
        .map(|_| {
            let mut client = Client::connect(&serving.endpoint);
            client.set_timeout(Some(WAIT));
            let greeting = client
                .read_line()
                .unwrap_or_else(|e| panic!("{strategy}: {e}"));
            assert_eq!(greeting, b"hi\n", "{strategy}");
            client
        })
        .collect()
}

/// Everything the client reads until the server closes (within the client's timeout).
fn rest(client: &mut Client, what: impl std::fmt::Display) -> Vec<u8> {
    let mut rest = Vec::new();
    client
        .read_to_end(&mut rest)
        .unwrap_or_else(|e| panic!("{what}: {e} after {rest:?}"));
    rest
}

// Idle connections told the drain began close at once: the stop and the close return
// long before the drain's deadline, every client read `bye`, and (where requests run
// beside the serve loop) all count as finished, none as cut.
#[test]
fn idle_sessions_told_of_the_drain_close_at_once_under_every_strategy() {
    let deadline = Duration::from_secs(30);
    for strategy in util::STRATEGIES {
        let _isolation = util::isolate_for(strategy);
        let serving = Serving::start(polite_server(strategy, ClosePolicy::Drain(deadline)));
        let mut clients = greeted(strategy, &serving, 3);
        let started = Instant::now();
        let (done, report) = mpsc::channel();
        let closing = thread::spawn(move || {
            // Under the sequential strategy the stop itself tells the one being served.
            let server = serving.stop();
            let _ = done.send(server.close().unwrap());
        });
        for client in &mut clients {
            assert_eq!(rest(client, strategy), b"bye\n", "{strategy}");
        }
        let report: CloseReport = report.recv_timeout(WAIT).expect("close returns");
        closing.join().unwrap();
        assert!(
            started.elapsed() < WAIT,
            "{strategy}: the drain waited {:?}",
            started.elapsed()
        );
        let expected = CloseReport {
            finished: clients.len(),
            cut: 0,
            left: 0,
        };
        assert_eq!(report, expected, "{strategy}");
    }
}

/// The blocking twin of [`Deaf`]: greets, echoes lines, knows nothing of drains.
fn deaf_handler(conn: &mut Conn) -> io::Result<()> {
    conn.write_all(b"hi\n")?;
    while let Some(line) = conn.next_line(64)? {
        writeln!(conn, "{line}")?;
    }
    Ok(())
}

// The sequential drain's deadline counts from the stop: a Session that ignores the
// notice, or a blocking handler, is closed at it, so `serve` returns then, not when the
// client leaves; the close reports it cut.
#[test]
fn a_sequential_drain_cuts_a_deaf_client_at_the_deadline_counted_from_the_stop() {
    const DRAIN: Duration = Duration::from_millis(500);
    let builders = [
        (
            "session",
            Server::builder(util::tcp_any()).session(|_: &PeerAddr| Deaf),
        ),
        (
            "handler",
            Server::builder(util::tcp_any()).handler(deaf_handler),
        ),
    ];
    for (kind, builder) in builders {
        let server = builder
            .strategy(Strategy::Sequential)
            .close_policy(ClosePolicy::Drain(DRAIN))
            .bind()
            .unwrap();
        let serving = Serving::start(server);
        let mut client = greeted(Strategy::Sequential, &serving, 1).remove(0);
        let started = Instant::now();
        serving.stop.shutdown();
        // Repeated, the stop keeps its deadline.
        serving.stop.shutdown();
        // Served on until the deadline.
        client.write_all(b"still here\n").unwrap();
        assert_eq!(client.read_line().unwrap(), b"still here\n", "{kind}");
        util::expect_closed(&mut client, WAIT, kind);
        let server = serving.join();
        let took = started.elapsed();
        assert!(
            took >= DRAIN,
            "{kind}: closed before the deadline ({took:?})"
        );
        assert!(took < DRAIN + util::NO_HANG, "{kind}: {took:?}");
        let expected = CloseReport {
            finished: 0,
            cut: 1,
            left: 0,
        };
        assert_eq!(server.close().unwrap(), expected, "{kind}");
    }
}

// `shutdown_with(JoinTimeout)` — what a process that handed its listener over does: the
// clients are served on, untold, until they leave, under every strategy.
#[test]
fn a_stop_that_names_join_timeout_tells_nobody_under_every_strategy() {
    let drain = ClosePolicy::Drain(Duration::from_secs(30));
    for strategy in util::STRATEGIES {
        let _isolation = util::isolate_for(strategy);
        let serving = Serving::start(polite_server(strategy, drain));
        let mut clients = greeted(strategy, &serving, 3);
        serving.stop.shutdown_with(ClosePolicy::JoinTimeout(WAIT));
        let (done, report) = mpsc::channel();
        let closing = thread::spawn(move || {
            let _ = done.send(serving.join().close().unwrap());
        });
        for client in &mut clients {
            client.write_all(b"served on\n").unwrap();
            assert_eq!(client.read_line().unwrap(), b"served on\n", "{strategy}");
            client.shutdown_write();
            // The default on_eof closes: nothing else (no `bye`) comes.
            assert_eq!(rest(client, strategy), b"", "{strategy}");
        }
        let report = report.recv_timeout(WAIT).expect("close returns");
        closing.join().unwrap();
        assert_eq!(report.cut + report.left, 0, "{strategy}: {report:?}");
    }
}

// A sequential server that serves again after a drained stop does not tell its new
// clients at once; the next stop tells them again.
#[test]
fn a_sequential_server_serving_again_after_a_drain_tells_only_at_the_next_stop() {
    let mut server = polite_server(Strategy::Sequential, ClosePolicy::Drain(WAIT));
    for round in 0..3 {
        let serving = Serving::start(server);
        let mut client = greeted(Strategy::Sequential, &serving, 1).remove(0);
        client.write_all(b"ping\n").unwrap();
        assert_eq!(client.read_line().unwrap(), b"ping\n", "round {round}");
        server = serving.stop();
        assert_eq!(rest(&mut client, round), b"bye\n", "round {round}");
    }
    server.close().unwrap();
}

// A forked child hears the drain only from its parent's broadcast: a parent that closes
// without a drain (here it detaches) leaves its children serving, untold.
#[test]
fn forked_children_are_not_told_when_the_parent_detaches() {
    let _isolation = util::isolate(true);
    let strategy = Strategy::Fork { max_children: 4 };
    let serving = Serving::start(polite_server(strategy, ClosePolicy::Detach));
    let mut clients = greeted(strategy, &serving, 2);
    let report = serving.stop().close().unwrap();
    assert_eq!(report.left, 2, "{report:?}");
    for client in &mut clients {
        client.write_all(b"served on\n").unwrap();
        assert_eq!(client.read_line().unwrap(), b"served on\n");
        client.shutdown_write();
        assert_eq!(rest(client, "fork"), b"");
    }
}

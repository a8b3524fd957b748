//! `ClosePolicy::Drain`: a close with a deadline finishes what it can, then closes the
//! rest, and reports both — under every strategy that runs requests beside the serve loop.

mod util;

use std::io::{self, Write};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use sockserv::report::CloseReport;
use sockserv::{Builder, ClosePolicy, Conn, LineSession, Lines, Output, Server, Strategy};
use util::{Client, WAIT};

/// Greets, answers `bye` with `bye` and closes; stays silent otherwise.
struct ByeOnly;

impl LineSession for ByeOnly {
    fn on_open(&mut self, out: &mut Output) {
        out.write(b"hi\n");
    }

    fn on_line(&mut self, line: &str, out: &mut Output) {
        if line == "bye" {
            out.write(b"bye\n");
            out.close();
        }
    }
}

const DRAIN: Duration = Duration::from_millis(500);

/// The blocking twin of [`ByeOnly`].
fn bye_only(conn: &mut Conn) -> io::Result<()> {
    conn.write_all(b"hi\n")?;
    while let Some(line) = conn.next_line(64)? {
        if line == "bye" {
            return conn.write_all(b"bye\n");
        }
    }
    Ok(())
}

#[test]
fn drain_finishes_the_willing_and_cuts_the_rest_in_every_strategy() {
    let strategies = [
        Strategy::Threads,
        Strategy::Pool { workers: 4 },
        Strategy::Events { loops: 2 },
        Strategy::Fork { max_children: 4 },
    ];
    for strategy in strategies {
        let _isolation = util::isolate_for(strategy);
        let builder = Server::builder(util::tcp_any()).session(|_peer| Lines::new(64, ByeOnly));
        drain_one_willing_one_idle(strategy, builder);
    }
}

#[test]
fn drain_cuts_a_blocking_handler_stuck_in_a_read() {
    let strategies = [
        Strategy::Threads,
        Strategy::Pool { workers: 4 },
        Strategy::Fork { max_children: 4 },
    ];
    for strategy in strategies {
        let _isolation = util::isolate_for(strategy);
        drain_one_willing_one_idle(strategy, Server::builder(util::tcp_any()).handler(bye_only));
    }
}

/// Two clients are being served when the drain begins: one says `bye` and finishes, the
/// other stays idle and is cut at the deadline.
fn drain_one_willing_one_idle(strategy: Strategy, builder: Builder) {
    {
        let server = builder
            .strategy(strategy)
            .close_policy(ClosePolicy::Drain(DRAIN))
            .bind()
            .unwrap();
        let endpoint = server.local_endpoint().clone();
        let addr = endpoint.socket_addr().unwrap();
        let serving = util::Serving::start(server);
        let mut willing = Client::connect(&endpoint);
        let mut idle = Client::connect(&endpoint);
        // Greeted: being served (by a worker, a loop or a child).
        for client in [&mut willing, &mut idle] {
            assert_eq!(client.read_line().unwrap(), b"hi\n", "{strategy}");
        }
        let server = serving.stop();

        let (done, report) = mpsc::channel();
        let started = Instant::now();
        let closing = thread::spawn(move || {
            let _ = done.send(server.close().unwrap());
        });
        // The listener goes first: once connecting is refused, the drain has begun.
        testkit::wait_until(WAIT, "the listener closed", || {
            (
                std::net::TcpStream::connect(addr).is_err(),
                "still accepting".into(),
            )
        });
        willing.write_all(b"bye\n").unwrap();
        assert_eq!(willing.read_line().unwrap(), b"bye\n", "{strategy}");

        // EOF, or a reset: either way, cut, within the bound and without data.
        util::expect_closed(&mut idle, WAIT, &format!("{strategy}: the idle client"));
        let report = report.recv_timeout(WAIT).expect("close returns");
        let took = started.elapsed();
        closing.join().unwrap();
        assert_eq!(
            report,
            CloseReport {
                finished: 1,
                cut: 1,
                left: 0
            },
            "{strategy}"
        );
        assert!(
            took >= DRAIN,
            "{strategy}: cut before the deadline ({took:?})"
        );
        // Not stuck past the deadline (how promptly is for the benchmarks).
        assert!(took < DRAIN + util::NO_HANG, "{strategy}: {took:?}");
    }
}

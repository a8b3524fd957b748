//! A Session's clock and goodbye on real sockets: its timer fires (and can be replaced)
//! under every strategy, and a drain tells it `on_shutdown`, so a drain of idle
//! connections ends at once instead of at its deadline.

mod util;

use std::io::{Read, Write};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use sockserv::report::CloseReport;
use sockserv::{ClosePolicy, Output, PeerAddr, Server, Session, Strategy};
use util::{Client, Serving, Transport, WAIT};

/// Every strategy: the blocking ones of the matrix and the event loops.
fn all_strategies() -> Vec<Strategy> {
    let mut all = util::STRATEGIES.to_vec();
    all.push(Strategy::Events { loops: 2 });
    all
}

/// Greets; sets a timer far past the test's bound on open, `soon` replaces it with a
/// short one; each firing writes `tick N`, and the third closes.
struct Ticker {
    ticks: usize,
}

impl Session for Ticker {
    fn on_open(&mut self, out: &mut Output) {
        out.write(b"hi\n");
        out.set_timer(Duration::from_secs(3600));
    }

    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        if data == b"soon\n" {
            out.set_timer(Duration::from_millis(20));
        }
    }

    fn on_timer(&mut self, out: &mut Output) {
        self.ticks += 1;
        out.write(format!("tick {}\n", self.ticks).as_bytes());
        if self.ticks == 3 {
            out.close();
        } else {
            out.set_timer(Duration::from_millis(20));
        }
    }
}

// A silent peer still hears the Session's timer: nothing but the clock wakes it.
#[test]
fn a_session_timer_fires_while_the_peer_is_silent_under_every_strategy() {
    for strategy in all_strategies() {
        let _isolation = util::isolate_for(strategy);
        let dir = util::temp_dir();
        for transport in [Transport::Tcp4, Transport::Unix] {
            let server = Server::builder(transport.endpoint(dir.path()))
                .strategy(strategy)
                .session(|_: &PeerAddr| Ticker { ticks: 0 })
                .bind()
                .unwrap();
            let serving = Serving::start(server);
            let mut client = Client::connect(&serving.endpoint);
            client.set_timeout(Some(WAIT));
            assert_eq!(client.read_line().unwrap(), b"hi\n", "{strategy}");
            client.write_all(b"soon\n").unwrap();
            let mut rest = Vec::new();
            client.read_to_end(&mut rest).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&rest),
                "tick 1\ntick 2\ntick 3\n",
                "{strategy} {transport:?}"
            );
            serving.stop().close().unwrap();
        }
    }
}

/// Greets; on a drain says `bye` and closes.
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

// Idle connections told the drain began close at once: the close returns long before
// its deadline, every client read `bye`, and all count as finished, none as cut.
#[test]
fn a_drain_of_idle_sessions_that_close_on_shutdown_ends_at_once() {
    const CLIENTS: usize = 5;
    let deadline = Duration::from_secs(30);
    let strategies = [
        Strategy::Threads,
        Strategy::Pool { workers: 8 },
        Strategy::Events { loops: 2 },
    ];
    for strategy in strategies {
        let _isolation = util::isolate_for(strategy);
        let server = Server::builder(util::tcp_any())
            .strategy(strategy)
            .close_policy(ClosePolicy::Drain(deadline))
            .session(|_: &PeerAddr| Polite)
            .bind()
            .unwrap();
        let serving = Serving::start(server);
        let mut clients: Vec<Client> = (0..CLIENTS)
            .map(|_| Client::connect(&serving.endpoint))
            .collect();
        for client in &mut clients {
            client.set_timeout(Some(WAIT));
            assert_eq!(client.read_line().unwrap(), b"hi\n", "{strategy}");
        }
        let server = serving.stop();
        let (done, report) = mpsc::channel();
        let started = Instant::now();
        let closing = thread::spawn(move || {
            let _ = done.send(server.close().unwrap());
        });
        for client in &mut clients {
            let mut rest = Vec::new();
            client.read_to_end(&mut rest).unwrap();
            assert_eq!(rest, b"bye\n", "{strategy}");
        }
        let report: CloseReport = report.recv_timeout(WAIT).expect("close returns");
        closing.join().unwrap();
        assert!(
            started.elapsed() < WAIT,
            "{strategy}: the drain waited {:?}",
            started.elapsed()
        );
        assert_eq!(
            report,
            CloseReport {
                finished: CLIENTS,
                cut: 0,
                left: 0
            },
            "{strategy}"
        );
    }
}

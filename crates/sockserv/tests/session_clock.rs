//! A Session's clock on real sockets: its timer fires (and can be replaced) under every
//! strategy. (Its goodbye, `on_shutdown`, is tested in drain_notice.rs.)

mod util;

use std::io::{Read, Write};
use std::time::Duration;

use sockserv::{Output, PeerAddr, Server, Session, Strategy};
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

/// Replaces a long timer on every line it reads; `now` replaces it with a short one.
struct Restless;

impl Session for Restless {
    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        for line in data.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            if line == b"now" {
                out.set_timer(Duration::from_millis(10));
            } else {
                out.set_timer(Duration::from_secs(3600));
                out.write(b".");
            }
        }
    }

    fn on_timer(&mut self, out: &mut Output) {
        out.write(b"fired\n");
        out.close();
    }
}

// An event loop keeps one entry per timer a Session set; replacing a timer thousands of
// times (a header timeout per request) leaves stale entries it must drop, and the timer
// set last still fires.
#[test]
fn a_timer_replaced_thousands_of_times_still_fires_under_the_event_loops() {
    const ROUNDS: usize = 3000;
    for strategy in [Strategy::Events { loops: 1 }, Strategy::Events { loops: 2 }] {
        let server = Server::builder(util::tcp_any())
            .strategy(strategy)
            .session(|_: &PeerAddr| Restless)
            .bind()
            .unwrap();
        let serving = Serving::start(server);
        let mut client = Client::connect(&serving.endpoint);
        client.set_timeout(Some(WAIT));
        let mut dots = vec![0; ROUNDS];
        for round in 0..ROUNDS {
            // One line per step: each one replaces the timer.
            client.write_all(b"later\n").unwrap();
            client.read_exact(&mut dots[round..=round]).unwrap();
        }
        assert!(dots.iter().all(|&b| b == b'.'), "{strategy}");
        client.write_all(b"now\n").unwrap();
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"fired\n", "{strategy}");
        serving.stop().close().unwrap();
    }
}

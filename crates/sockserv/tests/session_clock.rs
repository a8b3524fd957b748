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

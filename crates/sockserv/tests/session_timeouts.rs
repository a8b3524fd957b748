//! Timeouts of Sessions that take wake-ups, under a blocking strategy (a per-connection
//! poller) and an event loop: one rule for both — the idle timeout counts traffic either
//! way, the read timeout counts input only.

mod util;

use std::sync::mpsc::{self, Sender};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use sockserv::{Output, PeerAddr, Server, Session, SessionWaker, Strategy};
use util::{Serving, Transport, WAIT};

/// The strategies whose drivers keep a waking Session's timeouts themselves.
const STRATEGIES: [Strategy; 2] = [Strategy::Threads, Strategy::Events { loops: 1 }];

/// Hands its waker out; writes `tick\n` on each wake-up; ignores input.
struct Ticker {
    wakers: Sender<SessionWaker>,
}

impl Session for Ticker {
    fn on_open(&mut self, out: &mut Output) {
        let _ = self.wakers.send(out.waker());
    }

    fn on_data(&mut self, _data: &[u8], _out: &mut Output) {}

    fn on_wake(&mut self, out: &mut Output) {
        out.write(b"tick\n");
    }
}

/// A server of [`Ticker`]s with `configure`d timeouts, its error log, and the channel
/// the wakers come out of.
fn serve(
    strategy: Strategy,
    dir: &std::path::Path,
    configure: impl FnOnce(sockserv::Builder) -> sockserv::Builder,
) -> (Serving, std::path::PathBuf, mpsc::Receiver<SessionWaker>) {
    let log = util::unique_path(dir, "errors");
    let (tx, wakers) = mpsc::channel();
    let tx = Mutex::new(tx);
    let builder = Server::builder(Transport::Unix.endpoint(dir))
        .strategy(strategy)
        .on_error(util::log_errors_to(log.clone()));
    let server = configure(builder)
        .session(move |_: &PeerAddr| Ticker {
            wakers: tx.lock().unwrap().clone(),
        })
        .bind()
        .unwrap();
    (Serving::start(server), log, wakers)
}

/// The server must close within the bound, sending nothing more.
fn assert_closed(client: &mut util::Client, what: &str) {
    util::expect_closed(client, WAIT, what);
}

// Regression: the blocking strategies' poller counted only input against the idle
// timeout, so a peer that only listens was cut off while output flowed to it.
#[test]
fn a_peer_that_only_listens_is_not_idle_while_output_flows_to_it() {
    // Long enough that a loaded machine's scheduling gaps between ticks stay far inside
    // it: a gap past it would cut the peer off and fail the test for the wrong reason.
    const IDLE: Duration = Duration::from_millis(2000);
    for strategy in STRATEGIES {
        let _isolation = util::isolate(false);
        let dir = util::temp_dir();
        let (serving, log, wakers) = serve(strategy, dir.path(), |b| b.idle_timeout(Some(IDLE)));
        let mut client = util::Client::connect(&serving.endpoint);
        let waker = wakers.recv_timeout(WAIT).expect("the session's waker");
        // Ticks paced well inside the idle timeout, for twice its length; the peer
        // never sends a byte.
        let started = Instant::now();
        while started.elapsed() < 2 * IDLE {
            waker.wake();
            let line = client.read_line().unwrap();
            assert_eq!(
                line,
                b"tick\n",
                "{strategy}: cut off after {:?} while output flowed",
                started.elapsed()
            );
            thread::sleep(IDLE / 10);
        }
        // Silence both ways: now the idle timeout ends it.
        assert_closed(&mut client, &format!("{strategy}: after going quiet"));
        serving.stop().close().unwrap();
        let errors = util::read_log(&log);
        assert!(errors.contains("idle timeout"), "{strategy}: {errors:?}");
    }
}

#[test]
fn a_silent_peer_of_a_waking_session_is_cut_off_by_the_read_timeout() {
    const READ: Duration = Duration::from_millis(300);
    for strategy in STRATEGIES {
        let _isolation = util::isolate(false);
        let dir = util::temp_dir();
        let (serving, log, wakers) = serve(strategy, dir.path(), |b| b.read_timeout(Some(READ)));
        let started = Instant::now();
        let mut client = util::Client::connect(&serving.endpoint);
        let _waker = wakers.recv_timeout(WAIT).expect("the session's waker");
        assert_closed(&mut client, &format!("{strategy}: silent peer"));
        assert!(
            started.elapsed() >= READ,
            "{strategy}: closed after {:?}, before the read timeout",
            started.elapsed()
        );
        serving.stop().close().unwrap();
        let errors = util::read_log(&log);
        assert!(errors.contains("read timeout"), "{strategy}: {errors:?}");
    }
}

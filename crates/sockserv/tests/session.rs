//! Sans-IO sessions on real sockets under every strategy: echo with half-close, wake-ups
//! from other threads, `on_close` exactly once, and sessions on datagram endpoints.

mod util;

use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc::{self, Sender};
use std::sync::Mutex;
use std::thread;

use sockserv::{Output, PeerAddr, Server, Session, SessionWaker, Strategy};
use util::{Client, Serving, Transport, WAIT};

/// Echoes everything; logs `close` to a file (visible from forked children too).
struct Echo {
    closes: PathBuf,
}

impl Session for Echo {
    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        out.write(data);
    }

    fn on_close(&mut self) {
        util::append_line(&self.closes, "close");
    }
}

// A client writes 1 MiB while reading, half-closes, and gets every byte back, then EOF;
// each session's on_close runs exactly once.
#[test]
fn echo_session_with_half_close_under_every_strategy() {
    const CONNECTIONS: usize = 3;
    let data = util::payload(1024 * 1024);
    util::for_each_strategy(&[Transport::Tcp4, Transport::Unix], |case| {
        let closes = util::unique_path(case.dir, "closes");
        let factory_log = closes.clone();
        let server = case
            .builder()
            .read_timeout(Some(util::HANDLER_READ_TIMEOUT))
            .session(move |_: &PeerAddr| Echo {
                closes: factory_log.clone(),
            })
            .bind()
            .unwrap();
        let serving = Serving::start(server);
        for i in 0..CONNECTIONS {
            // Written from a thread of its own while the echo is read: writing 1 MiB
            // while nobody reads the echo would deadlock.
            let echoed = Client::connect(&serving.endpoint).echo_half_close(data.clone());
            assert!(
                echoed == data,
                "{case} #{i}: {} of {} bytes",
                echoed.len(),
                data.len()
            );
        }
        let report = serving.stop().close().unwrap();
        assert_eq!(report.left, 0);
        assert_eq!(
            util::read_log(&closes),
            "close\n".repeat(CONNECTIONS),
            "{case}: on_close calls"
        );
    });
}

/// Answers each wake-up with `woken\n`; on `wake\n` from the peer it wakes itself from a
/// new thread. Hands its waker to `waker_out` when there is one.
struct Wakeable {
    waker: Option<SessionWaker>,
    waker_out: Option<Sender<SessionWaker>>,
    closes: PathBuf,
}

impl Session for Wakeable {
    fn on_open(&mut self, out: &mut Output) {
        let waker = out.waker();
        if let Some(tx) = self.waker_out.take() {
            tx.send(waker.clone()).unwrap();
        }
        self.waker = Some(waker);
    }

    fn on_data(&mut self, data: &[u8], _out: &mut Output) {
        if data == b"wake\n" {
            let waker = self.waker.clone().expect("asked in on_open");
            thread::spawn(move || waker.wake());
        }
    }

    fn on_wake(&mut self, out: &mut Output) {
        out.write(b"woken\n");
    }

    fn on_close(&mut self) {
        util::append_line(&self.closes, "close");
    }
}

// A session woken from a thread of its own gets on_wake, under every strategy.
#[test]
fn session_woken_from_another_thread_under_every_strategy() {
    util::for_each_strategy(&[Transport::Tcp4], |case| {
        let closes = util::unique_path(case.dir, "closes");
        let factory_log = closes.clone();
        let server = case
            .builder()
            .read_timeout(Some(util::HANDLER_READ_TIMEOUT))
            .session(move |_: &PeerAddr| Wakeable {
                waker: None,
                waker_out: None,
                closes: factory_log.clone(),
            })
            .bind()
            .unwrap();
        let serving = Serving::start(server);
        let mut client = Client::connect(&serving.endpoint);
        for round in 0..3 {
            client.write_all(b"wake\n").unwrap();
            assert_eq!(
                client.read_line().unwrap(),
                b"woken\n",
                "{case}: round {round}"
            );
        }
        assert_eq!(client.half_close_and_read_rest(), b"", "{case}");
        serving.stop().close().unwrap();
        assert_eq!(util::read_log(&closes), "close\n", "{case}");
    });
}

// The waker works from the test's own thread too (strategies sharing the test's memory).
#[test]
fn session_woken_by_the_test_thread() {
    for strategy in [
        Strategy::Sequential,
        Strategy::Threads,
        Strategy::Pool { workers: 2 },
    ] {
        let _isolation = util::isolate(false);
        let dir = util::temp_dir();
        let closes = util::unique_path(dir.path(), "closes");
        let (tx, wakers) = mpsc::channel();
        let tx = Mutex::new(tx);
        let factory_log = closes.clone();
        let server = Server::builder(Transport::Unix.endpoint(dir.path()))
            .strategy(strategy)
            .session(move |_: &PeerAddr| Wakeable {
                waker: None,
                waker_out: Some(tx.lock().unwrap().clone()),
                closes: factory_log.clone(),
            })
            .bind()
            .unwrap();
        let serving = Serving::start(server);
        let mut client = Client::connect(&serving.endpoint);
        let waker = wakers.recv_timeout(WAIT).expect("the session's waker");
        for round in 0..3 {
            waker.wake();
            assert_eq!(
                client.read_line().unwrap(),
                b"woken\n",
                "{strategy}: round {round}"
            );
        }
        assert_eq!(client.half_close_and_read_rest(), b"", "{strategy}");
        serving.stop().close().unwrap();
        // Waking a finished session is harmless.
        waker.wake();
        assert_eq!(util::read_log(&closes), "close\n", "{strategy}");
    }
}

/// Greets, upper-cases what it gets, says bye at EOF.
struct Shout;

impl Session for Shout {
    fn on_open(&mut self, out: &mut Output) {
        out.write(b"<");
    }

    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        out.write(&data.to_ascii_uppercase());
    }

    fn on_eof(&mut self, out: &mut Output) {
        out.write(b">");
        out.close();
    }
}

// One datagram is one session: its whole output is the reply.
#[test]
fn datagram_session_under_every_strategy() {
    util::for_each_strategy(&[Transport::Udp, Transport::UnixGram], |case| {
        let server = case.builder().session(|_: &PeerAddr| Shout).bind().unwrap();
        let serving = Serving::start(server);
        let reply = util::hello(&serving.endpoint, case.dir).unwrap();
        assert_eq!(reply, b"<HELLO WORLD\n>", "{case}");
        serving.stop().close().unwrap();
    });
}

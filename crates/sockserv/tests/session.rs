//! Sans-IO sessions on real sockets under every strategy: echo with half-close, wake-ups
//! from other threads, `on_close` exactly once, and sessions on datagram endpoints.

mod util;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::mpsc::{self, Sender};
use std::sync::Mutex;
use std::thread;

use sockserv::{Endpoint, Output, PeerAddr, Server, Session, SessionWaker, Strategy};
use util::{Serving, Transport, WAIT};

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

/// Sends everything, then half-closes.
type SendAll = Box<dyn FnOnce(&[u8]) + Send>;

/// A raw std stream pair (reader, writer) with timeouts.
fn connect_split(endpoint: &Endpoint) -> (Box<dyn Read + Send>, SendAll) {
    match endpoint {
        Endpoint::Tcp(addr) => {
            let s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(WAIT)).unwrap();
            s.set_write_timeout(Some(WAIT)).unwrap();
            let mut w = s.try_clone().unwrap();
            let send = move |data: &[u8]| {
                w.write_all(data).unwrap();
                w.shutdown(Shutdown::Write).unwrap();
            };
            (Box::new(s), Box::new(send))
        }
        Endpoint::Unix(path) => {
            let s = UnixStream::connect(path).unwrap();
            s.set_read_timeout(Some(WAIT)).unwrap();
            s.set_write_timeout(Some(WAIT)).unwrap();
            let mut w = s.try_clone().unwrap();
            let send = move |data: &[u8]| {
                w.write_all(data).unwrap();
                w.shutdown(Shutdown::Write).unwrap();
            };
            (Box::new(s), Box::new(send))
        }
        other => panic!("not a stream endpoint: {other}"),
    }
}

// A client writes 1 MiB while reading, half-closes, and gets every byte back, then EOF;
// each session's on_close runs exactly once.
#[test]
fn echo_session_with_half_close_under_every_strategy() {
    const CONNECTIONS: usize = 3;
    let data: Vec<u8> = (0..1024 * 1024u32).map(|i| (i % 241) as u8).collect();
    for strategy in util::STRATEGIES {
        let _isolation = util::isolate_for(strategy);
        let dir = util::temp_dir();
        for transport in [Transport::Tcp4, Transport::Unix] {
            let closes = util::unique_path(dir.path(), "closes");
            let factory_log = closes.clone();
            let server = Server::builder(transport.endpoint(dir.path()))
                .strategy(strategy)
                .read_timeout(Some(util::HANDLER_READ_TIMEOUT))
                .session(move |_: &PeerAddr| Echo {
                    closes: factory_log.clone(),
                })
                .bind()
                .unwrap();
            let serving = Serving::start(server);
            for i in 0..CONNECTIONS {
                let (mut reader, send) = connect_split(&serving.endpoint);
                // Writing 1 MiB while nobody reads the echo would deadlock: write from
                // another thread.
                let payload = data.clone();
                let writer = thread::spawn(move || send(&payload));
                let mut echoed = Vec::new();
                reader.read_to_end(&mut echoed).unwrap();
                writer.join().unwrap();
                assert!(
                    echoed == data,
                    "{strategy} {transport:?} #{i}: {} of {} bytes",
                    echoed.len(),
                    data.len()
                );
            }
            let report = serving.stop().close().unwrap();
            assert_eq!(report.left, 0);
            assert_eq!(
                util::read_log(&closes),
                "close\n".repeat(CONNECTIONS),
                "{strategy} {transport:?}: on_close calls"
            );
        }
    }
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
    for strategy in util::STRATEGIES {
        let _isolation = util::isolate_for(strategy);
        let dir = util::temp_dir();
        let closes = util::unique_path(dir.path(), "closes");
        let factory_log = closes.clone();
        let server = Server::builder(Transport::Tcp4.endpoint(dir.path()))
            .strategy(strategy)
            .read_timeout(Some(util::HANDLER_READ_TIMEOUT))
            .session(move |_: &PeerAddr| Wakeable {
                waker: None,
                waker_out: None,
                closes: factory_log.clone(),
            })
            .bind()
            .unwrap();
        let serving = Serving::start(server);
        let mut client = util::Client::connect(&serving.endpoint).unwrap();
        for round in 0..3 {
            client.write_all(b"wake\n").unwrap();
            assert_eq!(
                client.read_line().unwrap(),
                b"woken\n",
                "{strategy}: round {round}"
            );
        }
        client.shutdown_write().unwrap();
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"", "{strategy}");
        serving.stop().close().unwrap();
        assert_eq!(util::read_log(&closes), "close\n", "{strategy}");
    }
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
        let mut client = util::Client::connect(&serving.endpoint).unwrap();
        let waker = wakers.recv_timeout(WAIT).expect("the session's waker");
        for round in 0..3 {
            waker.wake();
            assert_eq!(
                client.read_line().unwrap(),
                b"woken\n",
                "{strategy}: round {round}"
            );
        }
        client.shutdown_write().unwrap();
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"", "{strategy}");
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
    for strategy in util::STRATEGIES {
        let _isolation = util::isolate_for(strategy);
        let dir = util::temp_dir();
        for transport in [Transport::Udp, Transport::UnixGram] {
            let server = Server::builder(transport.endpoint(dir.path()))
                .strategy(strategy)
                .session(|_: &PeerAddr| Shout)
                .bind()
                .unwrap();
            let serving = Serving::start(server);
            let reply = util::hello(&serving.endpoint, dir.path()).unwrap();
            assert_eq!(reply, b"<HELLO WORLD\n>", "{strategy} {transport:?}");
            serving.stop().close().unwrap();
        }
    }
}

//! A peer that sends without pause to a Session slower than it (the socket always holds a
//! full buffer) must not monopolise its driver: its own replies still go out (the
//! blocking strategies' polled driver, used by Sessions that take wake-ups), and the
//! other connections of its event loop are still served (`Events`). Found by the CLI
//! torture test of a chat member flooding an endless line.

mod util;

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use sockserv::{Output, PeerAddr, Server, Session, Strategy};
use util::Serving;

/// Bound on every wait.
const WAIT: Duration = Duration::from_secs(10);
/// A reply must come within this while the flood goes on: generous for a loaded machine,
/// and a third of how long the flood may last, so a reply held back until the flood
/// ends fails it.
const PROMPT: Duration = Duration::from_secs(5);
/// The flood's own bound.
const FLOOD_LIMIT: Duration = Duration::from_secs(15);

/// Answers its first line with `pong`; every read costs it 1 ms (a Session slower than
/// the network). It asks for a waker, as a broadcast member does, so the blocking
/// strategies drive it with their polled loop.
#[derive(Default)]
struct Slow {
    replied: bool,
}

impl Session for Slow {
    fn on_open(&mut self, out: &mut Output) {
        let _waker = out.waker();
    }

    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        // The Session's cost per chunk: what makes the peer faster than the server.
        thread::sleep(Duration::from_millis(1));
        if !self.replied && data.contains(&b'\n') {
            self.replied = true;
            out.write(b"pong\n");
        }
    }
}

/// Unix stream sockets: the peer's send buffer (~200 KiB) keeps more than one 64 KiB read
/// waiting at all times, so the server always finds a full buffer (TCP's receive window
/// on loopback sometimes leaves a short read, which hides the starvation).
fn connect(path: &Path) -> UnixStream {
    let stream = UnixStream::connect(path).expect("connect");
    stream.set_read_timeout(Some(PROMPT)).unwrap();
    stream.set_write_timeout(Some(WAIT)).unwrap();
    stream
}

fn expect_pong(stream: &mut UnixStream, what: &str) {
    let start = Instant::now();
    let mut reply = [0; 5];
    stream
        .read_exact(&mut reply)
        .unwrap_or_else(|e| panic!("{what}: no reply within {PROMPT:?} during the flood: {e}"));
    assert_eq!(&reply, b"pong\n", "{what}");
    assert!(start.elapsed() < PROMPT, "{what}");
}

#[test]
fn a_flooding_peer_does_not_starve_its_replies_or_its_loop() {
    for strategy in [Strategy::Threads, Strategy::Events { loops: 1 }] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flood.sock");
        let server = Server::builder(sockserv::Endpoint::Unix(path.clone()))
            .strategy(strategy)
            .session(|_: &PeerAddr| Slow::default())
            .bind()
            .expect("bind");
        let serving = Serving::start(server);

        let mut flooder = connect(&path);
        flooder.write_all(b"ping\n").unwrap();
        let mut writer = flooder.try_clone().unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let flood = {
            let done = Arc::clone(&done);
            thread::spawn(move || {
                let chunk = vec![b'x'; 64 * 1024];
                let started = Instant::now();
                // Bounded: until the test is done, at most FLOOD_LIMIT.
                while !done.load(Ordering::Acquire) && started.elapsed() < FLOOD_LIMIT {
                    match writer.write_all(&chunk) {
                        Ok(()) => {}
                        Err(e)
                            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                        Err(e) => panic!("flood: {e}"),
                    }
                }
            })
        };
        expect_pong(
            &mut flooder,
            &format!("{strategy}: the flooder's own reply"),
        );
        // Under Events { loops: 1 } this client shares the flooder's loop.
        let mut other = connect(&path);
        other.write_all(b"ping\n").unwrap();
        expect_pong(&mut other, &format!("{strategy}: another client"));
        assert!(!flood.is_finished(), "{strategy}: the flood ended early");

        done.store(true, Ordering::Release);
        flood.join().expect("flood thread");
        drop((flooder, other));
        serving.stop().close().expect("close");
    }
}

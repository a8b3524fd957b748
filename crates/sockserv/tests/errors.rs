//! Error and panic semantics: CPython `ErrorHandlerTest` #17–#22, #26 (verify), A15
//! (failed and rejected connections still get every written byte, then EOF) and A16
//! (setup/handle/finish order).
//!
//! Where sockserv differs from CPython: a handler panic (the `SystemExit` analogue) is
//! contained and reported to the error hook as [`Failure::Panic`], distinct from
//! [`Failure::Handler`], instead of bypassing the hook; the server goes on.

mod util;

use std::io::{self, BufRead, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};

use sockserv::report::{ConnError, Failure, Outcome};
use sockserv::{Conn, Endpoint, PeerAddr, Server, Strategy};
use util::{Client, Serving, Transport, WAIT};

/// A line handler: `fail\n` returns an error, `panic\n` panics, anything else is echoed.
fn failing_handler(log: Option<Arc<Mutex<Vec<String>>>>) -> impl Fn(&mut Conn) -> io::Result<()> {
    move |conn: &mut Conn| {
        if let Some(log) = &log {
            log.lock().unwrap().push("Handler called".into());
        }
        let mut line = String::new();
        conn.read_line(&mut line)?;
        match line.as_str() {
            "fail\n" => Err(io::Error::other("handler boom")),
            "panic\n" => panic!("handler boom"),
            _ => conn.write_all(line.as_bytes()),
        }
    }
}

/// An error hook that sends a one-line summary of each report.
fn summarising(tx: Sender<(PeerAddr, String)>) -> impl Fn(&ConnError) + Send + Sync {
    let tx = Mutex::new(tx);
    move |err: &ConnError| {
        let summary = match &err.failure {
            Failure::Handler(e) => format!("handler: {e}"),
            Failure::Panic(msg) => format!("panic: {msg}"),
            Failure::VerifyPanic(msg) => format!("verify panic: {msg}"),
            Failure::Spawn(e) => format!("spawn: {e}"),
            other => format!("other: {other}"),
        };
        let _ = tx.lock().unwrap().send((err.peer.clone(), summary));
    }
}

/// Sends `line` and reads to EOF.
fn request(endpoint: &Endpoint, line: &[u8]) -> (Vec<u8>, PeerAddr) {
    let mut client = Client::connect(endpoint);
    let peer = match client.tcp() {
        Some(s) => PeerAddr::Inet(s.local_addr().unwrap()),
        None => PeerAddr::Unix(None),
    };
    client.write_all(line).unwrap();
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).expect("EOF, not a reset");
    (reply, peer)
}

const IN_PROCESS: [Strategy; 3] = [
    Strategy::Sequential,
    Strategy::Threads,
    Strategy::Pool { workers: 2 },
];

// #17 test_sync_handled, #19 test_threading_handled: an error is reported exactly once,
// the connection is closed, the server goes on.
#[test]
fn handler_error_is_reported_once_and_the_server_goes_on() {
    let _isolation = util::isolate(false);
    for strategy in IN_PROCESS {
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, reports) = mpsc::channel();
        let hook_log = Arc::clone(&log);
        let report = summarising(tx);
        let server = Server::builder("127.0.0.1:0")
            .strategy(strategy)
            .handler(failing_handler(Some(Arc::clone(&log))))
            .on_error(move |err| {
                hook_log.lock().unwrap().push("Error handled".into());
                report(err);
            })
            .bind()
            .unwrap();
        let serving = Serving::start(server);
        let (reply, peer) = request(&serving.endpoint, b"fail\n");
        assert_eq!(reply, b"", "{strategy}");
        let (reported_peer, summary) = reports.recv_timeout(WAIT).expect("a report");
        assert_eq!(summary, "handler: handler boom", "{strategy}");
        assert_eq!(reported_peer, peer, "{strategy}");
        assert_eq!(*log.lock().unwrap(), ["Handler called", "Error handled"]);

        // Still serving, and nothing more was reported.
        let (reply, _) = request(&serving.endpoint, util::HELLO);
        assert_eq!(reply, util::HELLO, "{strategy}");
        serving.stop().close().unwrap();
        assert!(reports.try_recv().is_err(), "{strategy}: reported twice");
    }
}

// #18 test_sync_not_handled, #20 test_threading_not_handled: a panic ends the
// connection (the client reads EOF), is reported as a panic, and the server goes on.
#[test]
fn handler_panic_is_contained_and_reported_as_a_panic() {
    let _isolation = util::isolate(false);
    for strategy in IN_PROCESS {
        let (tx, reports) = mpsc::channel();
        let mut server = Server::builder("127.0.0.1:0")
            .strategy(strategy)
            .handler(failing_handler(None))
            .on_error(summarising(tx))
            .bind()
            .unwrap();
        let endpoint = server.local_endpoint().clone();
        let mut client = Client::connect(&endpoint);
        client.write_all(b"panic\n").unwrap();
        assert_eq!(server.handle_one(Some(WAIT)).unwrap(), Outcome::Handled);
        let mut reply = Vec::new();
        client.read_to_end(&mut reply).unwrap();
        assert_eq!(reply, b"", "{strategy}");
        let (_, summary) = reports.recv_timeout(WAIT).expect("a report");
        assert_eq!(summary, "panic: handler boom", "{strategy}");

        let serving = Serving::start(server);
        let (reply, _) = request(&endpoint, util::HELLO);
        assert_eq!(reply, util::HELLO, "{strategy}");
        serving.stop().close().unwrap();
        assert!(reports.try_recv().is_err(), "{strategy}: reported twice");
    }
}

// #21 test_forking_handled, #22 test_forking_not_handled: the hook runs in the child;
// a file shows what happened there.
#[test]
fn fork_child_reports_errors_and_panics() {
    let _isolation = util::isolate(true);
    let dir = util::temp_dir();
    for (line, expected) in [
        (&b"fail\n"[..], "Handler called\nError handled\n"),
        (b"panic\n", "Handler called\nPanic handled\n"),
    ] {
        let log = util::unique_path(dir.path(), "log");
        let handler_log = log.clone();
        let hook_log = log.clone();
        let server = Server::builder("127.0.0.1:0")
            .strategy(Strategy::Fork { max_children: 2 })
            .handler(move |conn: &mut Conn| {
                util::append_line(&handler_log, "Handler called");
                failing_handler(None)(conn)
            })
            .on_error(move |err: &ConnError| {
                let what = match err.failure {
                    Failure::Panic(_) => "Panic handled",
                    _ => "Error handled",
                };
                util::append_line(&hook_log, what);
            })
            .bind()
            .unwrap();
        let serving = Serving::start(server);
        let (reply, _) = request(&serving.endpoint, line);
        assert_eq!(reply, b"");
        // Join waits for (and reaps) the child, so its report is on disk.
        let report = serving.stop().close().unwrap();
        assert_eq!(report.left, 0);
        assert_eq!(util::read_log(&log), expected);
        assert_eq!(util::zombie_children(), Vec::<u32>::new());
    }
}

// #26 (bpo-26309): a rejected connection is closed at once and never handled.
#[test]
fn verify_false_closes_and_never_handles() {
    let _isolation = util::isolate(false);
    for strategy in IN_PROCESS {
        let calls = Arc::new(AtomicUsize::new(0));
        let verified = Arc::new(Mutex::new(Vec::new()));
        let handler_calls = Arc::clone(&calls);
        let seen = Arc::clone(&verified);
        let mut server = Server::builder("127.0.0.1:0")
            .strategy(strategy)
            .handler(move |conn: &mut Conn| {
                handler_calls.fetch_add(1, Ordering::SeqCst);
                util::echo_line(conn)
            })
            .verify(move |peer: &PeerAddr| {
                seen.lock().unwrap().push(peer.clone());
                false
            })
            .bind()
            .unwrap();
        let mut client = Client::connect(server.local_endpoint());
        let local = PeerAddr::Inet(client.tcp().unwrap().local_addr().unwrap());
        client.write_all(util::HELLO).unwrap();
        assert_eq!(server.handle_one(Some(WAIT)).unwrap(), Outcome::Rejected);
        // EOF or a reset (the request was never read): either way, no data and no hang.
        util::expect_closed(&mut client, WAIT, &format!("{strategy}: rejected"));
        assert_eq!(*verified.lock().unwrap(), [local], "{strategy}");
        server.close().unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 0, "{strategy}: handler ran");
    }
}

// A15: a panicking verify hook rejects the connection and is reported.
#[test]
fn verify_panic_rejects_and_is_reported() {
    let _isolation = util::isolate(false);
    let (tx, reports) = mpsc::channel();
    let verifications = AtomicUsize::new(0);
    let mut server = Server::builder("127.0.0.1:0")
        .strategy(Strategy::Threads)
        .handler(util::echo_line)
        .verify(move |_: &PeerAddr| {
            assert!(
                verifications.fetch_add(1, Ordering::SeqCst) > 0,
                "verify boom"
            );
            true
        })
        .on_error(summarising(tx))
        .bind()
        .unwrap();
    let endpoint = server.local_endpoint().clone();
    let mut client = Client::connect(&endpoint);
    assert_eq!(server.handle_one(Some(WAIT)).unwrap(), Outcome::Rejected);
    let mut reply = Vec::new();
    assert_eq!(client.read_to_end(&mut reply).unwrap(), 0, "EOF at once");
    let (_, summary) = reports.recv_timeout(WAIT).expect("a report");
    assert_eq!(summary, "verify panic: verify boom");

    let serving = Serving::start(server);
    let (reply, _) = request(&endpoint, util::HELLO);
    assert_eq!(reply, util::HELLO, "the next client is verified and served");
    serving.stop().close().unwrap();
}

/// Writes a large reply, then fails: the peer must still get every byte, then EOF.
fn write_then_fail(conn: &mut Conn) -> io::Result<()> {
    let mut line = String::new();
    conn.read_line(&mut line)?;
    conn.write_all(&payload())?;
    Err(io::Error::other("failed after writing"))
}

fn payload() -> Vec<u8> {
    util::payload(256 * 1024)
}

// A15: FIN after all written data, under every strategy and stream transport.
#[test]
fn data_written_before_an_error_arrives_before_eof() {
    util::for_each_blocking_strategy(&[Transport::Tcp4, Transport::Unix], |case| {
        let errors = util::unique_path(case.dir, "err");
        let server = case
            .builder()
            .handler(write_then_fail)
            .on_error(util::log_errors_to(errors.clone()))
            .bind()
            .unwrap();
        let serving = Serving::start(server);
        let (reply, _) = request(&serving.endpoint, util::HELLO);
        assert!(reply == payload(), "{case}: {} bytes", reply.len());
        serving.stop().close().unwrap();
        assert!(
            util::read_log(&errors).contains("failed after writing"),
            "{case}: not reported"
        );
    });
}

/// A handler that logs its lifecycle; `mode` picks what fails.
struct Lifecycle {
    log: Arc<Mutex<Vec<&'static str>>>,
    mode: &'static str,
}

impl sockserv::StreamHandler for Lifecycle {
    fn setup(&self, _conn: &mut Conn) -> io::Result<()> {
        self.log.lock().unwrap().push("setup");
        match self.mode {
            "setup" => Err(io::Error::other("setup failed")),
            _ => Ok(()),
        }
    }

    fn handle(&self, conn: &mut Conn) -> io::Result<()> {
        self.log.lock().unwrap().push("handle");
        conn.write_all(b"handled\n")?;
        match self.mode {
            "handle" => Err(io::Error::other("handle failed")),
            "panic" => panic!("handle panicked"),
            _ => Ok(()),
        }
    }

    fn finish(&self, conn: &mut Conn) -> io::Result<()> {
        self.log.lock().unwrap().push("finish");
        conn.write_all(b"finished\n")?;
        match self.mode {
            "finish" => Err(io::Error::other("finish failed")),
            _ => Ok(()),
        }
    }
}

// A16: finish runs after a failed or panicking handle; a failed setup skips both.
#[test]
fn finish_runs_after_handle_fails_and_setup_failure_skips_it() {
    let _isolation = util::isolate(false);
    for (mode, steps, reply, report) in [
        (
            "ok",
            &["setup", "handle", "finish"][..],
            &b"handled\nfinished\n"[..],
            None,
        ),
        (
            "handle",
            &["setup", "handle", "finish"],
            b"handled\nfinished\n",
            Some("handler: handle failed"),
        ),
        (
            "panic",
            &["setup", "handle", "finish"],
            b"handled\nfinished\n",
            Some("panic: handle panicked"),
        ),
        (
            "finish",
            &["setup", "handle", "finish"],
            b"handled\nfinished\n",
            Some("handler: finish failed"),
        ),
        ("setup", &["setup"], b"", Some("handler: setup failed")),
    ] {
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, reports) = mpsc::channel();
        let mut server = Server::builder("127.0.0.1:0")
            .strategy(Strategy::Sequential)
            .stream_handler(Lifecycle {
                log: Arc::clone(&log),
                mode,
            })
            .on_error(summarising(tx))
            .bind()
            .unwrap();
        let mut client = Client::connect(server.local_endpoint());
        assert_eq!(server.handle_one(Some(WAIT)).unwrap(), Outcome::Handled);
        let mut got = Vec::new();
        client.read_to_end(&mut got).unwrap();
        assert_eq!(got, reply, "{mode}: the peer's bytes");
        assert_eq!(*log.lock().unwrap(), steps, "{mode}");
        let reported: Vec<String> = reports.try_iter().map(|(_, s)| s).collect();
        assert_eq!(reported, report.into_iter().collect::<Vec<_>>(), "{mode}");
        server.close().unwrap();
    }
}

// A15: the client sent more than the handler read. Closing a socket with unread input
// makes the kernel send RST, which can destroy the reply still in flight to the peer.
#[test]
fn reply_survives_unread_client_data() {
    util::for_each_blocking_strategy(&[Transport::Tcp4, Transport::Unix], |case| {
        let server = case
            .builder()
            .handler(write_then_fail)
            .on_error(|_: &ConnError| {})
            .bind()
            .unwrap();
        let serving = Serving::start(server);
        let mut client = Client::connect(&serving.endpoint);
        let mut request = util::HELLO.to_vec();
        request.extend(std::iter::repeat_n(b'x', 64 * 1024));
        client.write_all(&request).unwrap();
        let mut reply = Vec::new();
        let read = client.read_to_end(&mut reply);
        assert!(
            read.is_ok() && reply == payload(),
            "{case}: {read:?} after {} of {} bytes",
            reply.len(),
            payload().len()
        );
        serving.stop().close().unwrap();
    });
}

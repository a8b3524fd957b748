//! A handler that panics on one input, under every strategy: the panicking connection is
//! closed, the error hook gets `Failure::Panic` with that connection's peer address, and
//! the other connections — open at the same time, on the same event loop under `Events`
//! — go on unaffected, as does the next client.
//!
//! The hook appends one line per report to a temp file: under `Fork` it runs in the
//! child, so shared memory would not reach the test; a file does, for every strategy.
//! A blocking `StreamHandler` is tested under every strategy that runs one (`Events`
//! runs Sessions only; the builder refuses a blocking handler there).

mod util;

use std::io::{self, BufRead, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sockserv::report::{ConnError, Failure};
use sockserv::{ClosePolicy, Conn, Output, Server, Session, Strategy};
use util::{serial, Client, Serving};

/// Bound on every wait in this file.
const WAIT: Duration = Duration::from_secs(10);

/// Echoes; panics on data containing `boom`.
struct Touchy;

impl Session for Touchy {
    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        if data.windows(4).any(|w| w == b"boom") {
            panic!("boom in the session");
        }
        out.write(data);
    }
}

/// The blocking equivalent: echoes lines; panics on a line containing `boom`.
fn touchy_handler(conn: &mut Conn) -> io::Result<()> {
    let mut line = Vec::new();
    loop {
        line.clear();
        if conn.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        if line.windows(4).any(|w| w == b"boom") {
            panic!("boom in the handler");
        }
        conn.write_all(&line)?;
    }
}

/// The error hook: appends `PEER<TAB>KIND<TAB>MESSAGE` to `log` (one write with
/// O_APPEND: reports never interleave).
fn hook(log: PathBuf) -> impl Fn(&ConnError) + Send + Sync + 'static {
    move |err: &ConnError| {
        let (kind, message) = match &err.failure {
            Failure::Panic(m) => ("panic", m.clone()),
            other => ("other", other.to_string()),
        };
        util::append_line(&log, &format!("{}\t{kind}\t{message}", err.peer));
    }
}

/// Sends `line` and expects exactly it back.
fn round_trip(client: &mut Client, line: &[u8], what: &str) {
    assert_eq!(client.round_trip(line), line, "{what}");
}

/// The hook log's lines, waiting (bounded) until there are at least `n`: the hook
/// writes a file (possibly from a forked child), which nothing can signal.
fn hook_lines(log: &Path, n: usize, what: &str) -> Vec<String> {
    let read = || -> Vec<String> {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        text.lines().map(str::to_owned).collect()
    };
    testkit::wait_until(WAIT, &format!("{what}: {n} hook line(s)"), || {
        let lines = read();
        (lines.len() >= n, format!("{lines:?}"))
    });
    read()
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Session,
    Handler,
}

fn run_case(strategy: Strategy, kind: Kind) {
    let what = format!("{kind:?} under {strategy}");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("hook.log");
    let builder = Server::builder("tcp://127.0.0.1:0")
        .strategy(strategy)
        .close_policy(ClosePolicy::JoinTimeout(WAIT))
        .on_error(hook(log.clone()));
    let builder = match kind {
        Kind::Session => builder.session(|_: &sockserv::PeerAddr| Touchy),
        Kind::Handler => builder.handler(touchy_handler),
    };
    let serving = Serving::start(builder.bind().expect("bind"));
    let endpoint = serving.endpoint.clone();

    // Others, open throughout (not under Sequential: it serves one client at a time).
    // Under Events { loops: 2 } connections go to the loops in turn, so with three
    // others open first the panicking one shares its loop with one of them.
    let concurrent = strategy != Strategy::Sequential;
    let mut others: Vec<Client> = if concurrent {
        (0..3).map(|_| Client::connect(&endpoint)).collect()
    } else {
        Vec::new()
    };
    for (i, other) in others.iter_mut().enumerate() {
        round_trip(other, b"hello\n", &format!("{what}: other {i} before"));
    }

    let mut bad = Client::connect(&endpoint);
    let bad_addr = bad.tcp().unwrap().local_addr().unwrap();
    round_trip(
        &mut bad,
        b"fine so far\n",
        &format!("{what}: before the panic"),
    );
    bad.write_all(b"boom\n").unwrap();
    let mut buf = [0; 64];
    match bad.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!(
            "{what}: the panicking connection sent {:?} instead of closing",
            &buf[..n]
        ),
        Err(e) => assert!(
            matches!(
                e.kind(),
                ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
            ),
            "{what}: the panicking connection was not closed: {e}"
        ),
    }

    let lines = hook_lines(&log, 1, &what);
    assert_eq!(lines.len(), 1, "{what}: {lines:?}");
    let fields: Vec<&str> = lines[0].split('\t').collect();
    assert_eq!(fields[0], bad_addr.to_string(), "{what}: hook peer");
    assert_eq!(fields[1], "panic", "{what}: hook failure: {lines:?}");
    assert!(fields[2].contains("boom in the"), "{what}: {lines:?}");

    for (i, other) in others.iter_mut().enumerate() {
        round_trip(other, b"still here\n", &format!("{what}: other {i} after"));
    }
    let mut next = Client::connect(&endpoint);
    round_trip(&mut next, b"next client\n", &format!("{what}: next client"));
    // Dropped, which shuts them down: under Fork the children are forks of this very
    // process and hold copies of these client sockets, so a close would not reach the
    // server.
    drop((others, next));

    let server = serving.stop();
    server.close().expect("close");
    let lines = hook_lines(&log, 1, &what);
    assert_eq!(lines.len(), 1, "{what}: only the one panic: {lines:?}");
}

#[test]
fn a_panicking_session_is_contained_under_every_strategy() {
    let _serial = serial();
    for strategy in util::STRATEGIES {
        run_case(strategy, Kind::Session);
    }
}

#[test]
fn a_panicking_blocking_handler_is_contained_under_every_strategy_that_runs_one() {
    let _serial = serial();
    for strategy in util::STRATEGIES {
        if matches!(strategy, Strategy::Events { .. }) {
            continue; // Events runs Sessions only.
        }
        run_case(strategy, Kind::Handler);
    }
}

/// Panics on its first data; its `on_close` appends `closed` to a file (under `Fork` it
/// runs in the child).
struct PanicsThenCloses(PathBuf);

impl Session for PanicsThenCloses {
    fn on_data(&mut self, _data: &[u8], _out: &mut Output) {
        panic!("boom in the session");
    }

    fn on_close(&mut self) {
        util::append_line(&self.0, "closed");
    }
}

/// Regression: the blocking strategies' driver dropped a Session that panicked without
/// `on_close`, which an event loop calls (and the trait promises: exactly once, last).
#[test]
fn a_session_that_panics_still_hears_on_close_once_under_every_strategy() {
    let _serial = serial();
    for strategy in util::STRATEGIES {
        let what = format!("on_close after a panic under {strategy}");
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("closed.log");
        let session_log = log.clone();
        let server = Server::builder("tcp://127.0.0.1:0")
            .strategy(strategy)
            .close_policy(ClosePolicy::JoinTimeout(WAIT))
            .on_error(|_: &ConnError| {})
            .session(move |_: &sockserv::PeerAddr| PanicsThenCloses(session_log.clone()))
            .bind()
            .expect("bind");
        let serving = Serving::start(server);
        let mut client = Client::connect(&serving.endpoint);
        client.write_all(b"boom\n").unwrap();
        // EOF or a reset, within the bound: either way the connection is over.
        util::expect_closed(&mut client, WAIT, &what);
        assert_eq!(hook_lines(&log, 1, &what), ["closed"], "{what}");
        drop(client);
        serving.stop().close().expect("close");
        assert_eq!(hook_lines(&log, 1, &what), ["closed"], "{what}: only once");
    }
}

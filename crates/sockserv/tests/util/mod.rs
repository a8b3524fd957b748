//! Shared test helpers: transports, echo handlers, a serving thread with a bounded join,
//! a watchdog, fd counting and fork isolation. The clients, shared with the binary's
//! tests, come from `testkit`.

// Each test binary uses a different subset, of this module and of what it re-exports.
#![allow(dead_code, unused_imports)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use sockserv::{Conn, Datagram, Endpoint, Output, Server, Session, ShutdownHandle, Strategy};
pub use testkit::{expect_closed, payload, read_until_closed, serial, Client, DatagramClient};

/// The bound on every blocking wait in the tests: a bug fails in seconds, not hangs.
pub const WAIT: Duration = Duration::from_secs(5);

/// The bound of a "did not hang" check (close returns, shutdown wakes the loop, serve
/// returns at once): generous for a loaded 2-core machine running a debug build, yet
/// well under [`HANDLER_READ_TIMEOUT`], which a server stuck on a running request would
/// wait out. How fast these are is for the benchmarks, not for a timed assertion.
pub const NO_HANG: Duration = Duration::from_secs(10);

/// The message every echo client sends.
pub const HELLO: &[u8] = b"hello world\n";

/// The strategies that run blocking handlers (every one but the event loops), with the
/// worker counts the matrix uses.
pub const BLOCKING_STRATEGIES: [Strategy; 4] = [
    Strategy::Sequential,
    Strategy::Threads,
    Strategy::Pool { workers: 4 },
    Strategy::Fork { max_children: 4 },
];

/// Every strategy: [`BLOCKING_STRATEGIES`] and the event loops (one, and two so that
/// connections are spread over loops), which run Sessions and datagram handlers.
pub const STRATEGIES: [Strategy; 6] = [
    Strategy::Sequential,
    Strategy::Threads,
    Strategy::Pool { workers: 4 },
    Strategy::Fork { max_children: 4 },
    Strategy::Events { loops: 1 },
    Strategy::Events { loops: 2 },
];

/// The transports a server can listen on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Tcp4,
    Tcp6,
    Udp,
    Unix,
    UnixGram,
}

impl Transport {
    pub const ALL: [Transport; 5] = [
        Transport::Tcp4,
        Transport::Tcp6,
        Transport::Udp,
        Transport::Unix,
        Transport::UnixGram,
    ];

    pub fn is_datagram(self) -> bool {
        matches!(self, Transport::Udp | Transport::UnixGram)
    }

    /// A fresh endpoint: port 0 on loopback, or a new path in `dir`.
    pub fn endpoint(self, dir: &Path) -> Endpoint {
        match self {
            Transport::Tcp4 => Endpoint::Tcp("127.0.0.1:0".parse().unwrap()),
            Transport::Tcp6 => Endpoint::Tcp("[::1]:0".parse().unwrap()),
            Transport::Udp => Endpoint::Udp("127.0.0.1:0".parse().unwrap()),
            Transport::Unix => Endpoint::Unix(unique_path(dir, "s")),
            Transport::UnixGram => Endpoint::UnixDatagram(unique_path(dir, "g")),
        }
    }
}

/// Port 0 on the IPv4 loopback.
pub fn tcp_any() -> Endpoint {
    Endpoint::Tcp("127.0.0.1:0".parse().unwrap())
}

/// One run of a test body: a strategy, a transport, and the temp dir of the run's
/// endpoints and files. Displays as `STRATEGY TRANSPORT` for assertion messages.
pub struct Case<'a> {
    pub strategy: Strategy,
    pub transport: Transport,
    pub dir: &'a Path,
}

impl Case<'_> {
    /// A builder for a fresh endpoint of the transport, under the strategy.
    pub fn builder(&self) -> sockserv::Builder {
        Server::builder(self.transport.endpoint(self.dir)).strategy(self.strategy)
    }
}

impl std::fmt::Display for Case<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:?}", self.strategy, self.transport)
    }
}

/// Runs `body` under every strategy of [`STRATEGIES`], the event loops included (for
/// Sessions and datagram handlers), and every transport of `transports`.
pub fn for_each_strategy(transports: &[Transport], body: impl FnMut(&Case<'_>)) {
    for_each_of(&STRATEGIES, transports, body);
}

/// Runs `body` under every strategy of [`BLOCKING_STRATEGIES`] (for blocking stream
/// handlers, which the event loops refuse) and every transport of `transports`.
pub fn for_each_blocking_strategy(transports: &[Transport], body: impl FnMut(&Case<'_>)) {
    for_each_of(&BLOCKING_STRATEGIES, transports, body);
}

/// Runs `body` under each of `strategies` and `transports`: each strategy isolated as it
/// needs ([`isolate_for`]), with a temp dir of its own.
fn for_each_of(strategies: &[Strategy], transports: &[Transport], mut body: impl FnMut(&Case<'_>)) {
    for &strategy in strategies {
        let _isolation = isolate_for(strategy);
        let dir = temp_dir();
        for &transport in transports {
            body(&Case {
                strategy,
                transport,
                dir: dir.path(),
            });
        }
    }
}

/// Whether this host can bind `[::1]` (containers without IPv6 cannot): a skip with a
/// message locally, a failure under `SOCKSERV_REQUIRE_TOOLS=1`.
pub fn ipv6_available() -> bool {
    testkit::tool_ready(
        "the IPv6 loopback [::1]",
        std::net::TcpListener::bind("[::1]:0").is_ok(),
    )
}

/// A path in `dir` no other call returned.
pub fn unique_path(dir: &Path, prefix: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    dir.join(format!(
        "{prefix}{}.sock",
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

/// A short temp dir (Unix socket paths are limited to 107 bytes).
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("ss")
        .tempdir_in("/tmp")
        .expect("temp dir")
}

/// Reads one line and writes it back: CPython's `MyHandler`.
pub fn echo_line(conn: &mut Conn) -> io::Result<()> {
    let mut line = Vec::new();
    conn.read_until(b'\n', &mut line)?;
    conn.write_all(&line)
}

/// Echoes lines until the peer half-closes.
pub fn echo_lines(conn: &mut Conn) -> io::Result<()> {
    let mut line = Vec::new();
    while conn.read_until(b'\n', &mut line)? > 0 {
        conn.write_all(&line)?;
        line.clear();
    }
    Ok(())
}

/// Replies with the datagram's payload: CPython's datagram `MyHandler`.
pub fn echo_datagram(request: &Datagram<'_>, reply: &mut Vec<u8>) -> io::Result<()> {
    reply.extend_from_slice(request.data());
    Ok(())
}

/// How long a test server's handler waits for a silent client: long enough never to
/// matter to a passing test, short enough that a failed test's forked children end.
pub const HANDLER_READ_TIMEOUT: Duration = Duration::from_secs(15);

/// The Session twin of [`echo_line`]: echoes the first line, then closes. The event
/// loops, which cannot run a blocking handler, run it in the echo matrix.
#[derive(Default)]
pub struct EchoLine(Vec<u8>);

impl Session for EchoLine {
    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        self.0.extend_from_slice(data);
        if let Some(end) = self.0.iter().position(|&b| b == b'\n') {
            out.write(&self.0[..=end]);
            out.close();
        }
    }
}

/// [`echo_builder`] under `strategy`: under the event loops the echo is [`EchoLine`].
pub fn echo_builder_under(endpoint: Endpoint, strategy: Strategy) -> sockserv::Builder {
    let builder = echo_builder(endpoint).strategy(strategy);
    match strategy {
        Strategy::Events { .. } => builder.session(|_: &sockserv::PeerAddr| EchoLine::default()),
        _ => builder,
    }
}

/// A server that echoes on any transport (line echo for streams, datagram echo otherwise).
pub fn echo_builder(endpoint: Endpoint) -> sockserv::Builder {
    let datagram = endpoint.is_datagram();
    let builder = Server::builder(endpoint).read_timeout(Some(HANDLER_READ_TIMEOUT));
    if datagram {
        builder.datagram_handler(echo_datagram)
    } else {
        builder.handler(echo_line)
    }
}

/// A server serving in its own thread; [`Serving::stop`] shuts it down and joins it
/// within [`WAIT`].
pub struct Serving {
    pub endpoint: Endpoint,
    pub stop: ShutdownHandle,
    done: Receiver<Server>,
    thread: JoinHandle<()>,
}

impl Serving {
    /// Starts `server.serve()` in a thread.
    pub fn start(mut server: Server) -> Serving {
        let endpoint = server.local_endpoint().clone();
        let stop = server.shutdown_handle();
        let (tx, done) = mpsc::channel();
        let thread = thread::spawn(move || {
            server.serve().expect("serve failed");
            let _ = tx.send(server);
        });
        Serving {
            endpoint,
            stop,
            done,
            thread,
        }
    }

    /// Shuts down, waits (bounded) for `serve` to return, and hands the server back.
    pub fn stop(self) -> Server {
        self.stop.shutdown();
        self.join()
    }

    /// Waits (bounded) for `serve` to return without asking it to stop.
    pub fn join(self) -> Server {
        let server = match self.done.recv_timeout(WAIT) {
            Ok(server) => server,
            Err(RecvTimeoutError::Timeout) => panic!("serve did not return within {WAIT:?}"),
            Err(RecvTimeoutError::Disconnected) => {
                let _ = self.thread.join();
                panic!("the serving thread died");
            }
        };
        self.thread.join().expect("serving thread");
        server
    }
}

/// One CPython-style client: sends `hello world\n`, returns what came back (for streams,
/// everything up to EOF; for datagrams, one reply). `dir` holds the Unix datagram
/// client's own path.
pub fn hello(endpoint: &Endpoint, dir: &Path) -> io::Result<Vec<u8>> {
    if endpoint.is_datagram() {
        return DatagramClient::new(endpoint, dir).round_trip(HELLO);
    }
    let mut client = Client::try_connect(endpoint)?;
    client.write_all(HELLO)?;
    let mut reply = Vec::new();
    client.read_to_end(&mut reply)?;
    Ok(reply)
}

/// Asserts nothing listens on a stream endpoint any more.
pub fn assert_refused(endpoint: &Endpoint) {
    match endpoint {
        Endpoint::Tcp(addr) => {
            let err = TcpStream::connect(addr).expect_err("connected after close");
            assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
        }
        Endpoint::Unix(path) => {
            assert!(UnixStream::connect(path).is_err(), "connected after close");
        }
        Endpoint::Udp(_) | Endpoint::UnixDatagram(_) => {}
    }
}

/// Open file descriptors of this process.
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").expect("/proc").count()
}

/// Fails the whole test binary (with `what` on stderr) unless dropped within `limit`:
/// a hang in code under test becomes a failure in bounded time.
pub struct Watchdog(Option<mpsc::Sender<()>>);

pub fn watchdog(what: &'static str, limit: Duration) -> Watchdog {
    let (tx, rx) = mpsc::channel::<()>();
    thread::spawn(move || {
        if let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
            eprintln!("watchdog: {what} did not finish within {limit:?}");
            std::process::exit(101);
        }
    });
    Watchdog(Some(tx))
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // Dropping the sender disconnects the channel: the watchdog thread ends.
        self.0.take();
    }
}

/// Serialises tests that fork or count descriptors against all others of the binary.
///
/// A forked child is a copy of the whole process: it inherits every socket the other
/// tests have open at that moment and keeps them until it exits, so a "connect is refused
/// after close" or "the peer sees EOF" check elsewhere could be defeated by a child of an
/// unrelated test. Counting `/proc/self/fd` likewise needs no other test opening sockets.
pub enum Isolation {
    Shared(RwLockReadGuard<'static, ()>),
    Exclusive(RwLockWriteGuard<'static, ()>),
}

static ISOLATION: RwLock<()> = RwLock::new(());

/// Every test of a binary that forks takes this first; `exclusive` for the ones that
/// fork or count descriptors.
pub fn isolate(exclusive: bool) -> Isolation {
    if exclusive {
        Isolation::Exclusive(ISOLATION.write().unwrap_or_else(PoisonError::into_inner))
    } else {
        Isolation::Shared(ISOLATION.read().unwrap_or_else(PoisonError::into_inner))
    }
}

/// [`isolate`] as the strategy needs it.
pub fn isolate_for(strategy: Strategy) -> Isolation {
    isolate(matches!(strategy, Strategy::Fork { .. }))
}

/// Reads a whole line from a buffered reader with the given timeout already set.
pub fn read_line_from<R: Read>(reader: &mut BufReader<R>) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line)?;
    Ok(line)
}

/// Children of this process that exited and were never reaped.
pub fn zombie_children() -> Vec<u32> {
    let me = std::process::id();
    let mut zombies = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may contain spaces, so split after ')'.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next();
        let ppid = fields.next().and_then(|p| p.parse::<u32>().ok());
        if state == Some("Z") && ppid == Some(me) {
            zombies.push(pid);
        }
    }
    zombies
}

/// An error hook that appends each report to `path`: it works in forked children too,
/// where a hook's changes to memory are lost.
pub fn log_errors_to(
    path: PathBuf,
) -> impl Fn(&sockserv::report::ConnError) + Send + Sync + 'static {
    move |err| append_line(&path, &err.to_string())
}

/// Appends one line to a file (O_APPEND: safe from many processes).
pub fn append_line(path: &Path, line: &str) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("log file");
    file.write_all(format!("{line}\n").as_bytes())
        .expect("log write");
}

/// A log file's contents; empty if it was never written.
pub fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

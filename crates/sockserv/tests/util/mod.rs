//! Shared test helpers: transports, echo handlers and clients, a serving thread with a
//! bounded join, a watchdog, fd counting and fork isolation.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use sockserv::{Conn, Datagram, Endpoint, Server, ShutdownHandle, Strategy};

/// The bound on every blocking wait in the tests: a bug fails in seconds, not hangs.
pub const WAIT: Duration = Duration::from_secs(5);

/// The message every echo client sends.
pub const HELLO: &[u8] = b"hello world\n";

/// Every strategy, with the worker counts the matrix uses.
pub const STRATEGIES: [Strategy; 4] = [
    Strategy::Sequential,
    Strategy::Threads,
    Strategy::Pool { workers: 4 },
    Strategy::Fork { max_children: 4 },
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

/// Whether this host can bind `[::1]` (containers without IPv6 cannot).
pub fn ipv6_available() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
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

/// A stream client with read/write timeouts.
pub enum Client {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Client {
    pub fn connect(endpoint: &Endpoint) -> io::Result<Client> {
        let client = match endpoint {
            Endpoint::Tcp(addr) => Client::Tcp(TcpStream::connect(addr)?),
            Endpoint::Unix(path) => Client::Unix(UnixStream::connect(path)?),
            other => panic!("not a stream endpoint: {other}"),
        };
        client.set_timeout(Some(WAIT))?;
        Ok(client)
    }

    pub fn set_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Client::Tcp(s) => {
                s.set_read_timeout(t)?;
                s.set_write_timeout(t)
            }
            Client::Unix(s) => {
                s.set_read_timeout(t)?;
                s.set_write_timeout(t)
            }
        }
    }

    pub fn shutdown_write(&self) -> io::Result<()> {
        match self {
            Client::Tcp(s) => s.shutdown(Shutdown::Write),
            Client::Unix(s) => s.shutdown(Shutdown::Write),
        }
    }

    /// Reads exactly one line (byte by byte, so nothing after it is consumed).
    pub fn read_line(&mut self) -> io::Result<Vec<u8>> {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while line.last() != Some(&b'\n') {
            if self.read(&mut byte)? == 0 {
                break;
            }
            line.push(byte[0]);
        }
        Ok(line)
    }
}

impl Drop for Client {
    /// Shuts the connection down rather than only closing this descriptor: a forked
    /// server child may hold an inherited copy of it (the clients live in the server's
    /// process here), and would otherwise never see EOF.
    fn drop(&mut self) {
        let _ = match self {
            Client::Tcp(s) => s.shutdown(Shutdown::Both),
            Client::Unix(s) => s.shutdown(Shutdown::Both),
        };
    }
}

impl Read for Client {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Client::Tcp(s) => s.read(buf),
            Client::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Client {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Client::Tcp(s) => s.write(buf),
            Client::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One CPython-style client: sends `hello world\n`, returns what came back (for streams,
/// everything up to EOF; for datagrams, one reply). `dir` holds the Unix datagram
/// client's own path.
pub fn hello(endpoint: &Endpoint, dir: &Path) -> io::Result<Vec<u8>> {
    match endpoint {
        Endpoint::Tcp(_) | Endpoint::Unix(_) => {
            let mut client = Client::connect(endpoint)?;
            client.write_all(HELLO)?;
            let mut reply = Vec::new();
            client.read_to_end(&mut reply)?;
            Ok(reply)
        }
        Endpoint::Udp(addr) => {
            let client = udp_client(addr);
            client.send_to(HELLO, addr)?;
            let mut buf = [0u8; 1024];
            let (n, from) = client.recv_from(&mut buf)?;
            assert_eq!(from, *addr, "reply from the server's address");
            Ok(buf[..n].to_vec())
        }
        Endpoint::UnixDatagram(path) => {
            // The client binds its own path, or the server has nowhere to reply.
            let client = unixgram_client(dir);
            client.send_to(HELLO, path)?;
            let mut buf = [0u8; 1024];
            let n = client.recv(&mut buf)?;
            Ok(buf[..n].to_vec())
        }
    }
}

/// A UDP socket on the server's address family with a read timeout.
pub fn udp_client(server: &SocketAddr) -> UdpSocket {
    let any: SocketAddr = if server.is_ipv4() {
        "127.0.0.1:0".parse().unwrap()
    } else {
        "[::1]:0".parse().unwrap()
    };
    let client = UdpSocket::bind(any).expect("udp client");
    client.set_read_timeout(Some(WAIT)).unwrap();
    client
}

/// A Unix datagram socket bound to a fresh path in `dir`, with a read timeout.
pub fn unixgram_client(dir: &Path) -> UnixDatagram {
    let client = UnixDatagram::bind(unique_path(dir, "c")).expect("unixgram client");
    client.set_read_timeout(Some(WAIT)).unwrap();
    client
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

/// Waits (bounded) until `condition` holds, checking every millisecond: for server
/// state the test cannot be told about (a worker finishing after its client saw EOF).
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(1));
    }
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
pub fn log_errors_to(path: PathBuf) -> impl Fn(&sockserv::ConnError) + Send + Sync + 'static {
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

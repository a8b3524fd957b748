//! Runs the real `sockserv` binary for end-to-end tests: spawn, read `listening on` lines
//! from stderr, signal, wait — every wait bounded, the process killed on drop.

#![allow(dead_code)] // each test file uses a different part of this module

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use sockserv::Endpoint;

/// The bound on every wait for the server: generous, so a loaded CI machine passes, yet
/// a hang fails the test instead of stalling the run.
pub const WAIT: Duration = Duration::from_secs(20);

/// The modes every transport is tested under.
pub const MODES: [&str; 6] = [
    "sequential",
    "threads",
    "pool:4",
    "fork:4",
    "events:1",
    "events:2",
];

/// The built binary under test.
pub fn sockserv() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sockserv"))
}

/// Runs `sockserv ARGS` to completion (it must end by itself within [`WAIT`]).
pub fn run(args: &[&str]) -> Output {
    let mut child = sockserv()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sockserv");
    let status = wait_for_exit(&mut child, WAIT);
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    Output {
        status,
        stdout,
        stderr,
    }
}

/// Runs `sockserv ARGS` with `stdin` as its input (closed after it is written) to
/// completion within [`WAIT`]; stdout and stderr are read on their own threads, so a
/// large output cannot stall it.
pub fn run_with_stdin(args: &[&str], stdin: Vec<u8>) -> Output {
    let mut child = sockserv()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sockserv");
    let mut input = child.stdin.take().unwrap();
    let writer = thread::spawn(move || {
        // The child may exit before reading it all (it cannot connect): not our failure.
        let _ = input.write_all(&stdin);
    });
    let stdout = read_all_in_background(child.stdout.take().unwrap());
    let stderr = read_all_in_background(child.stderr.take().unwrap());
    let status = wait_for_exit(&mut child, WAIT);
    writer.join().expect("stdin writer");
    Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// Reads `source` to its end on a thread of its own.
pub fn read_all_in_background(
    mut source: impl Read + Send + 'static,
) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut all = Vec::new();
        let _ = source.read_to_end(&mut all);
        all
    })
}

/// The lines of `source`, read on a thread of their own, so a pipe (which has no read
/// timeout) can be waited on with a bound: `recv_timeout` on the receiver.
pub fn lines_in_background(source: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(source).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits up to `limit` for `child` to exit; kills it and panics if it does not.
pub fn wait_for_exit(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "sockserv (pid {}) did not exit within {limit:?}",
                child.id()
            );
        }
        // Polling the exit status: the bound is the deadline, not this pause.
        thread::sleep(Duration::from_millis(5));
    }
}

/// A running `sockserv` server. Dropping it kills the process, so a failed assertion
/// never leaks one.
pub struct Server {
    child: Child,
    lines: Receiver<String>,
    /// Every stderr line read so far.
    pub stderr: Vec<String>,
    /// The endpoints from the `listening on` lines, in order.
    pub endpoints: Vec<Endpoint>,
}

impl Server {
    /// Starts `sockserv ARGS` and waits for `expected` `listening on URL` lines.
    pub fn start(args: &[&str], expected: usize) -> Server {
        let mut command = sockserv();
        command.args(args);
        Server::start_command(command, expected)
    }

    /// Starts `command` (the binary, possibly behind a wrapper such as `sh -c 'ulimit
    /// ...; exec ...'`) and waits for `expected` `listening on URL` lines.
    pub fn start_command(mut command: Command, expected: usize) -> Server {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sockserv");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child,
            lines,
            stderr: Vec::new(),
            endpoints: Vec::new(),
        };
        while server.endpoints.len() < expected {
            let line = server.next_line();
            if let Some(url) = line.strip_prefix("listening on ") {
                let endpoint = url
                    .parse()
                    .unwrap_or_else(|e| panic!("bad URL in {line:?}: {e}"));
                server.endpoints.push(endpoint);
            }
        }
        server
    }

    /// The next stderr line, waiting at most [`WAIT`].
    pub fn next_line(&mut self) -> String {
        match self.lines.recv_timeout(WAIT) {
            Ok(line) => {
                self.stderr.push(line.clone());
                line
            }
            Err(RecvTimeoutError::Timeout) => {
                panic!("no stderr line within {WAIT:?}; so far: {:?}", self.stderr)
            }
            Err(RecvTimeoutError::Disconnected) => {
                panic!("sockserv closed stderr; so far: {:?}", self.stderr)
            }
        }
    }

    /// Every stderr line that arrives within `window` (it always waits the whole window:
    /// use it to observe the server over a stretch of time, not to synchronise).
    pub fn lines_within(&mut self, window: Duration) -> Vec<String> {
        let deadline = Instant::now() + window;
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.stderr.push(line.clone());
                    lines.push(line);
                }
                Err(RecvTimeoutError::Timeout) => return lines,
                Err(RecvTimeoutError::Disconnected) => {
                    // stderr closed (the process ended): nothing more will come.
                    return lines;
                }
            }
        }
    }

    /// Reads stderr lines until one contains `text`.
    pub fn wait_for_line(&mut self, text: &str) -> String {
        loop {
            let line = self.next_line();
            if line.contains(text) {
                return line;
            }
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`TERM`, `INT`) with kill(1): no unsafe code needed.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {} failed", self.pid());
    }

    /// Whether the process has exited already.
    pub fn has_exited(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_some()
    }

    /// Waits up to `limit` for the process to exit.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        wait_for_exit(&mut self.child, limit)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGKILL and reap: harmless when it has exited already.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `n` bytes that are not all alike, so a reordering or a lost chunk shows.
pub fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// A connected stream client (TCP or Unix) with bounded reads and writes.
pub enum Client {
    /// TCP.
    Tcp(TcpStream),
    /// Unix stream.
    Unix(UnixStream),
}

impl Client {
    /// Connects to a stream endpoint.
    pub fn connect(endpoint: &Endpoint) -> Client {
        let client = match endpoint {
            Endpoint::Tcp(addr) => Client::Tcp(TcpStream::connect(addr).expect("connect tcp")),
            Endpoint::Unix(path) => Client::Unix(UnixStream::connect(path).expect("connect unix")),
            other => panic!("{other} is not a stream endpoint"),
        };
        client.set_timeout(Some(WAIT));
        client
    }

    /// Bounds reads and writes (`None`: unbounded).
    pub fn set_timeout(&self, timeout: Option<Duration>) {
        match self {
            Client::Tcp(s) => {
                s.set_read_timeout(timeout).unwrap();
                s.set_write_timeout(timeout).unwrap();
            }
            Client::Unix(s) => {
                s.set_read_timeout(timeout).unwrap();
                s.set_write_timeout(timeout).unwrap();
            }
        }
    }

    /// A second handle on the same connection (one thread reads, another writes).
    pub fn duplicate(&self) -> Client {
        self.try_clone()
    }

    fn try_clone(&self) -> Client {
        match self {
            Client::Tcp(s) => Client::Tcp(s.try_clone().unwrap()),
            Client::Unix(s) => Client::Unix(s.try_clone().unwrap()),
        }
    }

    /// Half-closes: the server reads EOF.
    pub fn shutdown_write(&self) {
        match self {
            Client::Tcp(s) => s.shutdown(Shutdown::Write).unwrap(),
            Client::Unix(s) => s.shutdown(Shutdown::Write).unwrap(),
        }
    }

    /// Sends `data`, half-closes, and returns everything read until EOF. The writes run
    /// on their own thread, so a large payload cannot deadlock on full socket buffers.
    pub fn echo_half_close(self, data: Vec<u8>) -> Vec<u8> {
        let mut writer = self.try_clone();
        let sender = thread::spawn(move || {
            writer.write_all(&data).expect("send the payload");
            writer.shutdown_write();
        });
        let mut reader = self;
        let mut received = Vec::new();
        reader
            .read_to_end(&mut received)
            .expect("read the echo until EOF");
        sender.join().expect("sender thread");
        received
    }

    /// Sends one line and reads exactly its echo.
    pub fn round_trip(&mut self, line: &[u8]) -> Vec<u8> {
        self.write_all(line).expect("send");
        let mut reply = vec![0; line.len()];
        self.read_exact(&mut reply).expect("read the echo");
        reply
    }
}

impl Read for Client {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Client::Tcp(s) => s.read(buf),
            Client::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Client {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Client::Tcp(s) => s.write(buf),
            Client::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sends one datagram to a datagram endpoint and returns the reply. A Unix datagram
/// client binds its own path (in `dir`) so the server has somewhere to reply to.
pub fn datagram_round_trip(endpoint: &Endpoint, dir: &Path, data: &[u8]) -> Vec<u8> {
    let mut buf = vec![0; 65536];
    match endpoint {
        Endpoint::Udp(addr) => {
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            socket.set_read_timeout(Some(WAIT)).unwrap();
            socket.send_to(data, addr).unwrap();
            let (n, from) = socket.recv_from(&mut buf).expect("UDP reply");
            assert_eq!(from, *addr, "the reply comes from the server's address");
            buf.truncate(n);
        }
        Endpoint::UnixDatagram(path) => {
            let client_path = dir.join(format!("client-{}.sock", unique()));
            let socket = UnixDatagram::bind(&client_path).unwrap();
            socket.set_read_timeout(Some(WAIT)).unwrap();
            socket.send_to(data, path).unwrap();
            let n = socket.recv(&mut buf).expect("unixgram reply");
            buf.truncate(n);
            drop(socket);
            std::fs::remove_file(&client_path).unwrap();
        }
        other => panic!("{other} is not a datagram endpoint"),
    }
    buf
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

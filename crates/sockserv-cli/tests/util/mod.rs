//! Runs the real `sockserv` binary for end-to-end tests: spawn, read `listening on` lines
//! from stderr, signal, wait — every wait bounded, the process killed on drop. The
//! clients and process helpers shared with the library's tests come from `testkit`.

// Each test file uses a different part of this module, and of what it re-exports: the
// clients and process helpers stay reachable as `util::X` for every test file.
#![allow(dead_code, unused_imports)]

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use sockserv::Endpoint;
pub use testkit::{
    exit_within, expect_closed, lines_in_background, payload, read_all_in_background,
    read_until_closed, serial, wait_for_exit, Client, DatagramClient, WAIT,
};

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
    run_within(args, WAIT)
}

/// The JSON report a run printed on stdout (`sockserv bench --json`); panics with its
/// stdout and stderr when it is not one.
pub fn json_report(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Runs `sockserv ARGS` to completion; it must end by itself within `limit`.
pub fn run_within(args: &[&str], limit: Duration) -> Output {
    let child = sockserv()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sockserv");
    collect(child, limit)
}

/// Runs `sockserv ARGS` with `stdin` as its input (closed after it is written) to
/// completion within [`WAIT`].
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
    let output = collect(child, WAIT);
    writer.join().expect("stdin writer");
    output
}

/// Waits (within `limit`) for `child` to exit and returns its output. Stdout and stderr
/// are read on their own threads, so a large output cannot stall it.
fn collect(mut child: Child, limit: Duration) -> Output {
    let stdout = read_all_in_background(child.stdout.take().unwrap());
    let stderr = read_all_in_background(child.stderr.take().unwrap());
    let status = wait_for_exit(&mut child, limit);
    Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
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
    /// The `listening on http://...` (or `https://`) URLs of web endpoints, in order.
    pub web: Vec<String>,
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
        let lines = lines_in_background(child.stderr.take().unwrap());
        let mut server = Server {
            child,
            lines,
            stderr: Vec::new(),
            endpoints: Vec::new(),
            web: Vec::new(),
        };
        while server.endpoints.len() + server.web.len() < expected {
            let line = server.next_line();
            let Some(url) = line.strip_prefix("listening on ") else {
                continue;
            };
            if url.starts_with("http://") || url.starts_with("https://") {
                server.web.push(url.to_owned());
            } else {
                let endpoint = url
                    .parse()
                    .unwrap_or_else(|e| panic!("bad URL in {line:?}: {e}"));
                server.endpoints.push(endpoint);
            }
        }
        server
    }

    /// Starts `sockserv SUBCOMMAND --mode MODE --listen tcp://127.0.0.1:0 EXTRA...` and
    /// waits for its `listening on` line.
    pub fn start_mode(subcommand: &str, mode: &str, extra: &[&str]) -> Server {
        Server::start_mode_on(subcommand, mode, "tcp://127.0.0.1:0", extra)
    }

    /// [`Server::start_mode`] listening on `url` instead.
    pub fn start_mode_on(subcommand: &str, mode: &str, url: &str, extra: &[&str]) -> Server {
        let mut args = vec![subcommand, "--mode", mode, "--listen", url];
        args.extend_from_slice(extra);
        Server::start(&args, 1)
    }

    /// The address of the first endpoint, which must be TCP.
    pub fn tcp_addr(&self) -> SocketAddr {
        match &self.endpoints[0] {
            Endpoint::Tcp(addr) => *addr,
            other => panic!("{other} is not tcp://"),
        }
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

    /// Reads stderr until every process holding it has exited (the server and any it
    /// started, e.g. the new process of an upgrade), at most `limit`. Panics if one is
    /// still running then.
    pub fn wait_for_stderr_close(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.stderr.push(line),
                Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => panic!(
                    "stderr still open after {limit:?}: a process runs on; so far: {:?}",
                    self.stderr
                ),
            }
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`TERM`, `INT`) with kill(1): no unsafe code needed.
    pub fn signal(&self, signal: &str) {
        testkit::send_signal(self.pid(), signal);
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

/// Sends one datagram to a datagram endpoint and returns the reply. A Unix datagram
/// client binds its own path (in `dir`) so the server has somewhere to reply to.
pub fn datagram_round_trip(endpoint: &Endpoint, dir: &Path, data: &[u8]) -> Vec<u8> {
    DatagramClient::new(endpoint, dir)
        .round_trip(data)
        .unwrap_or_else(|e| panic!("no reply from {endpoint}: {e}"))
}

/// A helper program (a Python script driving a browser or a foreign client) run in a
/// process group of its own, so that ending it ends what it started too; its stdout
/// read line by line, every wait bounded. Dropping it kills the group.
pub struct Script {
    child: Child,
    stdout: Receiver<String>,
    stderr: Option<thread::JoinHandle<Vec<u8>>>,
    /// Every stdout line read so far.
    pub lines: Vec<String>,
}

impl Script {
    /// Starts `command` (its stdin closed, stdout and stderr captured).
    pub fn start(mut command: Command) -> Script {
        use std::os::unix::process::CommandExt;
        let mut child = command
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the script");
        let stdout = lines_in_background(child.stdout.take().unwrap());
        let stderr = Some(read_all_in_background(child.stderr.take().unwrap()));
        Script {
            child,
            stdout,
            stderr,
            lines: Vec::new(),
        }
    }

    /// The next stdout line, waiting at most `limit`; `None` once stdout is closed.
    pub fn next_line(&mut self, limit: Duration) -> Option<String> {
        match self.stdout.recv_timeout(limit) {
            Ok(line) => {
                self.lines.push(line.clone());
                Some(line)
            }
            Err(RecvTimeoutError::Timeout) => {
                let stderr = self.stop();
                panic!(
                    "the script printed nothing within {limit:?}; so far {:?}\n{stderr}",
                    self.lines
                )
            }
            Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Waits (within `limit`) for the script to exit successfully and returns its last
    /// stdout line (the report).
    pub fn report(&mut self, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        while self
            .next_line(deadline.saturating_duration_since(Instant::now()))
            .is_some()
        {}
        let status = exit_within(
            &mut self.child,
            deadline.saturating_duration_since(Instant::now()),
        );
        let stderr = self.stop();
        let last = self.lines.last().cloned().unwrap_or_default();
        match status {
            Some(status) if status.success() => last,
            Some(status) => panic!("the script failed ({status}): {last}\n{stderr}"),
            None => panic!("the script took over {limit:?}: {last}\n{stderr}"),
        }
    }

    /// Kills what is left of the group and returns the script's stderr.
    fn stop(&mut self) -> String {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
        self.stderr
            .take()
            .map(|reader| String::from_utf8_lossy(&reader.join().unwrap_or_default()).into_owned())
            .unwrap_or_default()
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        self.stop();
    }
}

//! Runs the built example binaries: found next to the test binary, started with piped
//! output, killed if a test fails before they exit, stopped with a signal.
//!
//! `cargo test` builds the examples into `target/<profile>/examples/` before it runs the
//! tests; the test binaries live in `target/<profile>/deps/`.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use sockserv::Endpoint;
use testkit::{lines_in_background, wait_for_exit};

/// How long an example may take to start, or to stop after a signal.
pub const LIMIT: Duration = Duration::from_secs(30);

/// The command for example `name`, with piped stdout and stderr.
pub fn example(name: &str) -> Command {
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir: PathBuf = exe
        .parent() // deps/
        .and_then(|deps| deps.parent()) // target/<profile>/
        .expect("the test binary lives in target/<profile>/deps")
        .join("examples");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run the tests with `cargo test` (which builds the examples)",
        path.display()
    );
    let mut command = Command::new(path);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Kills the example if the test fails before it exits.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A serving example: its process, its stdout lines, the endpoint it announced.
pub struct Server {
    pub running: Running,
    pub lines: Receiver<String>,
    pub endpoint: Endpoint,
}

impl Server {
    /// Starts `command` and waits for its `listening on URL` line.
    pub fn start(command: &mut Command) -> Server {
        let mut running = Running(command.spawn().expect("spawn the example"));
        let lines = lines_in_background(running.0.stdout.take().unwrap());
        let first = lines.recv_timeout(LIMIT).expect("a `listening on` line");
        let url = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
        let endpoint = url.parse().expect("an endpoint");
        Server {
            running,
            lines,
            endpoint,
        }
    }

    pub fn pid(&self) -> u32 {
        self.running.0.id()
    }

    /// Sends `signal` (`INT`, `TERM`, `KILL`).
    pub fn signal(&self, signal: &str) {
        testkit::send_signal(self.pid(), signal);
    }

    /// Waits (bounded) for the process to exit; returns its status and the rest of its
    /// stdout.
    pub fn wait(mut self) -> (ExitStatus, Vec<String>) {
        let status = wait_for_exit(&mut self.running.0, LIMIT);
        let rest = self.lines.iter().collect(); // the pipe is closed: no wait
        (status, rest)
    }

    /// A figure from `/proc/PID/status`, in KiB (`VmHWM`: the peak resident set).
    pub fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc/PID/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/PID/status"))
    }
}

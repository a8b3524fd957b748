//! A real `redis-server` for the `--bus` tests: its own free port and temporary
//! directory, started and stopped by the test, killed on drop.

#![allow(dead_code)] // each bus test file uses a different part

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use testkit::{lines_in_background, wait_for_exit, WAIT};

/// A `redis-server` child process.
pub struct Redis {
    binary: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    append_only: bool,
    child: Option<Child>,
}

impl Redis {
    /// Starts one on a free port, or `None` (with a message; a failure under
    /// `SOCKSERV_REQUIRE_TOOLS=1`) when `redis-server` is not installed. With
    /// `append_only`, every write is in the append-only file before it is answered, so a
    /// restart loses nothing.
    pub fn start(append_only: bool) -> Option<Redis> {
        let binary = testkit::require_program("redis-server", &["--version"])?;
        let mut redis = Redis {
            binary,
            dir: tempfile::tempdir().expect("temp dir"),
            port: 0,
            append_only,
            child: None,
        };
        // Another process may take the free port between our probe and redis's bind:
        // try a few.
        let mut said = Vec::new();
        for _ in 0..5 {
            redis.port = free_port();
            match redis.spawn() {
                Ok(()) => return Some(redis),
                Err(lines) => said = lines,
            }
        }
        panic!("redis-server did not start on any of 5 free ports; it said: {said:#?}");
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Runs `redis-cli -p PORT ARGS` (it comes with redis-server) and returns its output.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run redis-cli (it comes with redis-server)");
        assert!(out.status.success(), "redis-cli {args:?} failed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Stops it with SIGTERM (it writes its files first) and waits for the exit.
    pub fn stop(&mut self) {
        let mut child = self.child.take().expect("redis is running");
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM redis failed");
        wait_for_exit(&mut child, WAIT);
    }

    /// Starts it again on the same port and directory (the append-only file reloaded).
    pub fn restart(&mut self) {
        let deadline = Instant::now() + WAIT;
        // The old socket may linger a moment; redis sets SO_REUSEADDR, so this is rare.
        while let Err(said) = self.spawn() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not restart; it said: {said:#?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Starts the process: `Ok` once it says it accepts connections, or what it said
    /// before it exited (the port was taken, say).
    fn spawn(&mut self) -> Result<(), Vec<String>> {
        let mut child = Command::new(&self.binary)
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .arg("--dir")
            .arg(self.dir.path())
            .args(["--save", "", "--logfile", "", "--daemonize", "no"])
            .args(["--appendonly", if self.append_only { "yes" } else { "no" }])
            .args(["--appendfsync", "always"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let lines = lines_in_background(child.stdout.take().expect("stdout"));
        match wait_ready(&lines) {
            Ok(()) => {
                // Keep draining its log so it never blocks on a full pipe.
                std::thread::spawn(move || while lines.recv().is_ok() {});
                self.child = Some(child);
                Ok(())
            }
            Err(said) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(said)
            }
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits (bounded) for redis's "Ready to accept connections"; what it said if it
/// exited first.
fn wait_ready(lines: &Receiver<String>) -> Result<(), Vec<String>> {
    let deadline = Instant::now() + WAIT;
    let mut said = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains("Ready to accept connections") => return Ok(()),
            Ok(line) => said.push(line),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Err(said),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                panic!("redis-server not ready within {WAIT:?}")
            }
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

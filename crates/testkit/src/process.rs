//! Child processes waited on with a bound, their pipes read on threads of their own.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ExitStatus};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

/// Waits up to `limit` for `child` to exit; kills it and panics if it does not.
pub fn wait_for_exit(child: &mut Child, limit: Duration) -> ExitStatus {
    if let Some(status) = exit_within(child, limit) {
        return status;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("process {} did not exit within {limit:?}", child.id());
}

/// Waits up to `limit` for `child` to exit: its status, or `None` if it is still running
/// (the caller decides what to kill and what to report).
pub fn exit_within(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        // Polling the exit status: the bound is the deadline, not this pause.
        thread::sleep(Duration::from_millis(5));
    }
}

/// Reads `source` to its end on a thread of its own, so a full pipe cannot stall the
/// process writing it.
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

/// Sends `signal` (`INT`, `TERM`, `KILL`, ...) to process `pid` with kill(1) (procps; no
/// unsafe code needed), and panics if that fails.
pub fn send_signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill(1)");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

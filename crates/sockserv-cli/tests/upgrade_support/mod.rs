//! Support for the upgrade tests: the processes an upgrade chain makes (killed on drop),
//! signals by pid, the hand-over read off the shared stderr, and a load of echo
//! exchanges that counts every failure instead of panicking.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use sockserv::Endpoint;

use crate::util::{payload, Client, Server, WAIT};

/// Every process of an upgrade chain, SIGKILLed when dropped so a failed assertion
/// leaks none (the first is also the test's child, reaped by `Server`).
#[derive(Default)]
pub struct Chain(pub Vec<u32>);

impl Drop for Chain {
    fn drop(&mut self) {
        for &pid in &self.0 {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

/// The pid in the pid file.
pub fn pid_in(path: &Path) -> u32 {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read the pid file {}: {e}", path.display()));
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("not a pid in {}: {text:?}", path.display()))
}

/// How an upgrade ended, read off the shared stderr.
#[derive(Debug, PartialEq, Eq)]
pub enum Upgrade {
    /// The new process serves; its pid.
    To(u32),
    /// The old one keeps serving; the log line.
    Failed(String),
}

/// SIGUSR2 to `pid`, then waits for the outcome line.
pub fn upgrade(server: &mut Server, pid: u32) -> Upgrade {
    testkit::send_signal(pid, "USR2");
    loop {
        let line = server.next_line();
        if let Some(rest) = line.strip_prefix("upgrade: process ") {
            let new = rest.split(' ').next().unwrap().parse().unwrap();
            return Upgrade::To(new);
        }
        if line.contains("upgrade failed") {
            return Upgrade::Failed(line);
        }
    }
}

/// What the load saw.
#[derive(Debug, Default)]
pub struct Tally {
    /// Exchanges completed with every byte back.
    pub done: u64,
    /// Of those, 1 MiB ones.
    pub big: u64,
    /// Every failure: a refused or reset connect, an error, a short or wrong echo.
    pub failures: Vec<String>,
}

/// Clients that connect, echo a payload (mostly small, every fourth 1 MiB) and close,
/// over and over, until stopped: at most `MAX_EXCHANGES` each, and 120 s.
pub struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Tally>>,
    /// Exchanges finished (well or not) so far, for [`Load::wait_for`].
    progress: Arc<(Mutex<u64>, Condvar)>,
}

const MAX_EXCHANGES: u64 = 100_000;
const BIG: usize = 1 << 20;

impl Load {
    /// Starts `clients` client threads on `endpoint`.
    pub fn start(endpoint: &Endpoint, clients: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let progress = Arc::new((Mutex::new(0), Condvar::new()));
        let threads = (0..clients)
            .map(|_| {
                let (endpoint, stop) = (endpoint.clone(), Arc::clone(&stop));
                let progress = Arc::clone(&progress);
                thread::spawn(move || {
                    let started = Instant::now();
                    let mut tally = Tally::default();
                    let mut i = 0;
                    while !stop.load(Ordering::Acquire)
                        && i < MAX_EXCHANGES
                        && started.elapsed() < Duration::from_secs(120)
                    {
                        let size = if i % 4 == 3 { BIG } else { 100 };
                        match exchange(&endpoint, size) {
                            Ok(()) => {
                                tally.done += 1;
                                tally.big += u64::from(size == BIG);
                            }
                            Err(e) => tally.failures.push(e),
                        }
                        i += 1;
                        *progress.0.lock().unwrap() += 1;
                        progress.1.notify_all();
                    }
                    tally
                })
            })
            .collect();
        Load {
            stop,
            threads,
            progress,
        }
    }

    /// Waits (at most [`WAIT`]) until `more` exchanges have finished since the last call:
    /// the load keeps running between two upgrades instead of the upgrades racing ahead.
    pub fn wait_for(&self, more: u64, seen: &mut u64) {
        let (count, changed) = &*self.progress;
        let target = *seen + more;
        let (count, timeout) = changed
            .wait_timeout_while(count.lock().unwrap(), WAIT, |n| *n < target)
            .unwrap();
        assert!(
            !timeout.timed_out(),
            "the load stalled at {} exchanges",
            *count
        );
        *seen = *count;
    }

    /// Stops the clients (each finishes its exchange) and sums what they saw.
    pub fn finish(self) -> Tally {
        self.stop.store(true, Ordering::Release);
        let mut total = Tally::default();
        for thread in self.threads {
            let tally = thread.join().expect("a load thread");
            total.done += tally.done;
            total.big += tally.big;
            total.failures.extend(tally.failures);
        }
        total
    }
}

/// One connection: `size` bytes out (on a thread of their own), half-close, every byte
/// back.
fn exchange(endpoint: &Endpoint, size: usize) -> Result<(), String> {
    let client = Client::try_connect(endpoint).map_err(|e| format!("connect: {e}"))?;
    let data = payload(size);
    let mut writer = client.duplicate();
    let sent = data.clone();
    let sender = thread::spawn(move || -> std::io::Result<()> {
        writer.write_all(&sent)?;
        writer.shutdown_write();
        Ok(())
    });
    let mut reader = client;
    let mut back = Vec::with_capacity(size);
    let read = reader.read_to_end(&mut back);
    let wrote = sender.join().expect("sender thread");
    wrote.map_err(|e| format!("send {size}: {e}"))?;
    read.map_err(|e| format!("read {size}: {e}"))?;
    if back != data {
        return Err(format!("echo of {size} bytes came back as {}", back.len()));
    }
    Ok(())
}

/// An open connection that keeps echoing lines, to show which process serves it.
pub fn line_echo(client: &mut Client, line: &str) {
    assert_eq!(client.round_trip(line.as_bytes()), line.as_bytes());
}

//! Torture tests: the real `sockserv` binary under hostile clients. Every case attacks a
//! fresh server process, then checks that
//!
//! * a fresh client is still served promptly (an echo round trip within a stated bound),
//! * the server's memory (VmRSS from `/proc/PID/status`) stayed within a stated bound,
//! * the server's CPU time (utime + stime from `/proc/PID/stat`) over the attack stayed
//!   within a stated bound (no busy loop).
//!
//! The bounds are generous on purpose (a loaded 2-core CI machine, a debug build), yet far
//! below what the failure they guard against would cost: a busy accept loop burns a whole
//! core (1 s of CPU per second), an unbounded buffer grows with the attack (tens of MiB).
//!
//! Under `fork:N` the numbers are the parent's (each connection is served by a child).
//!
//! The cases share the machine's two cores, so they run one at a time ([`serial`]); every
//! load loop is bounded in count and in time, and every wait has a deadline. Sleeps appear
//! only as the pacing of an attacker (a slow client is slow by sleeping) or of a bounded
//! monitor loop sampling `/proc`; each is commented.

#![allow(dead_code, unused_imports)] // each torture file uses a different part of this module

pub use std::io::{ErrorKind, Read, Write};
pub use std::net::{SocketAddr, TcpStream, UdpSocket};
pub use std::process::Command;
pub use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
pub use std::sync::{mpsc, Arc};
pub use std::thread;
pub use std::time::{Duration, Instant};

pub use crate::util::{payload, serial, Client, Server, WAIT};
pub use sockserv::Endpoint;
pub use testkit::wait_until;

pub const MIB: u64 = 1024 * 1024;

/// A fresh client's echo round trip must finish within this while the server is attacked
/// by clients that do not hold a worker each (threads, events). It means "was not
/// starved", not "was fast": a starved client waits for the attack to end (seconds) or
/// forever, while a loaded 2-core machine running a debug build can stall a served one
/// for a second or more. How fast is measured in BENCHMARKS.md, not here.
pub const FRESH: Duration = Duration::from_secs(10);

/// Absolute bound on the server's resident memory in every case.
pub const RSS_LIMIT: u64 = 200 * MIB;

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

/// The server's resident memory in bytes.
pub fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS line");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("VmRSS value");
    kib * 1024
}

/// The server's CPU time so far (user + system), in seconds.
pub fn cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read stat");
    // Fields after the command name (which may contain spaces) start at field 3 (state);
    // utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / clock_ticks()
}

pub fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        let out = Command::new("getconf").arg("CLK_TCK").output();
        out.ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Open file descriptors of the server.
pub fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("read fd dir")
        .count()
}

/// Threads of the server.
pub fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("read task dir")
        .count()
}

/// Children of the server's main thread (forked workers, zombies included).
pub fn children(pid: u32) -> usize {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .map(|s| s.split_whitespace().count())
        .unwrap_or(0)
}

/// CPU seconds and wall time of the server over a stretch of the test.
pub struct CpuMeter {
    pid: u32,
    cpu: f64,
    start: Instant,
}

impl CpuMeter {
    pub fn start(pid: u32) -> Self {
        CpuMeter {
            pid,
            cpu: cpu(pid),
            start: Instant::now(),
        }
    }

    /// (CPU seconds used, wall seconds elapsed) since `start`.
    pub fn read(&self) -> (f64, f64) {
        (cpu(self.pid) - self.cpu, self.start.elapsed().as_secs_f64())
    }
}

/// A fresh client connects and gets one echo round trip within `bound`.
pub fn assert_fresh_client_served(server: &Server, bound: Duration, what: &str) -> Duration {
    let start = Instant::now();
    let stream = TcpStream::connect_timeout(&server.tcp_addr(), bound).expect("fresh connect");
    let mut client = Client::from(stream);
    // A read that would outlast the bound fails the test rather than hang it.
    client.set_timeout(Some(bound));
    let reply = client.round_trip(b"fresh client\n");
    let took = start.elapsed();
    assert_eq!(reply, b"fresh client\n", "{what}");
    assert!(
        took < bound,
        "{what}: a fresh client took {took:?} (bound {bound:?})"
    );
    took
}

pub fn assert_rss_below(pid: u32, limit: u64, what: &str) -> u64 {
    let now = rss(pid);
    assert!(
        now < limit,
        "{what}: server RSS {} MiB (bound {} MiB)",
        now / MIB,
        limit / MIB
    );
    now
}

/// Asserts the server's resident memory peaked at `peak`, less than `growth` above
/// `before`: the attack was not buffered.
pub fn assert_rss_growth_below(before: u64, peak: u64, growth: u64, what: &str) {
    assert!(
        peak < before + growth,
        "{what}: RSS grew from {} to {} MiB (bound: {} MiB more)",
        before / MIB,
        peak / MIB,
        growth / MIB
    );
}

pub fn connect_many(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|i| {
            TcpStream::connect_timeout(&addr, WAIT)
                .unwrap_or_else(|e| panic!("connection {i} of {n}: {e}"))
        })
        .collect()
}

/// Deterministic "random" bytes (xorshift): every byte value appears, NULs and invalid
/// UTF-8 included, and a failure is reproducible.
pub fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Connections that trickle one byte each every 250 ms until stopped (at most
/// [`Trickle::MAX_ROUNDS`] rounds): a slowloris. The attack goes on for as long as the test
/// checks the server, so a client served only once the attack ended fails its bound
/// instead of passing late.
pub struct Trickle {
    rounds: mpsc::Receiver<usize>,
    stop: Arc<AtomicBool>,
    thread: thread::JoinHandle<Vec<TcpStream>>,
}

impl Trickle {
    /// At most this many rounds (30 s): the attack is bounded even if the test is not.
    pub const MAX_ROUNDS: usize = 120;

    /// Starts trickling `byte` on every connection of `conns`.
    pub fn start(mut conns: Vec<TcpStream>, byte: u8) -> Trickle {
        let (round_tx, rounds) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            for round in 0..Trickle::MAX_ROUNDS {
                if stopped.load(Ordering::Acquire) {
                    break;
                }
                // Attacker pacing: a slowloris sends a byte now and then, never a request.
                thread::sleep(Duration::from_millis(250));
                for conn in &mut conns {
                    conn.write_all(&[byte])
                        .expect("a trickling client is not cut off");
                }
                let _ = round_tx.send(round);
            }
            conns
        });
        Trickle {
            rounds,
            stop,
            thread,
        }
    }

    /// Waits (bounded) until the attack has done round `wanted`.
    pub fn wait_round(&self, wanted: usize) {
        while self
            .rounds
            .recv_timeout(WAIT)
            .expect("the attacker's next round")
            < wanted
        {}
    }

    /// Ends the attack; its connections, still open, are handed back.
    pub fn stop(self) -> Vec<TcpStream> {
        self.stop.store(true, Ordering::Release);
        self.thread.join().expect("attacker")
    }
}

//! Connection churn for the accept path: THREADS blocking clients each connect, send 64
//! bytes, read the echo and close, again and again for SECONDS. Prints one JSON object:
//! completed rounds, the rate, failures (connects refused or reset apart), and latency
//! percentiles of `connect(2)` and of the whole round (connect, echo, close).
//!
//! Usage: connect-rate HOST:PORT THREADS SECONDS

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// What one client thread saw.
#[derive(Default)]
struct Seen {
    ok: u64,
    connect_errors: u64,
    other_errors: u64,
    /// Microseconds per successful connect, and per successful round.
    connect_us: Vec<u32>,
    round_us: Vec<u32>,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: connect-rate HOST:PORT THREADS SECONDS");
        std::process::exit(2);
    }
    let addr = args[1].clone();
    let threads: usize = args[2].parse().expect("THREADS is a number");
    let secs: f64 = args[3].parse().expect("SECONDS is a number");
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let msg = [7u8; 64];
                let mut back = [0u8; 64];
                let mut seen = Seen::default();
                while Instant::now() < deadline {
                    let start = Instant::now();
                    let mut s = match TcpStream::connect(&addr) {
                        Ok(s) => s,
                        Err(_) => {
                            seen.connect_errors += 1;
                            continue;
                        }
                    };
                    let connected = start.elapsed();
                    let round = (|| -> std::io::Result<()> {
                        s.set_nodelay(true)?;
                        s.set_read_timeout(Some(Duration::from_secs(2)))?;
                        s.write_all(&msg)?;
                        s.read_exact(&mut back)?;
                        if back != msg {
                            return Err(std::io::Error::other("echo mismatch"));
                        }
                        Ok(())
                    })();
                    drop(s);
                    match round {
                        Ok(()) => {
                            seen.ok += 1;
                            seen.connect_us.push(micros(connected));
                            seen.round_us.push(micros(start.elapsed()));
                        }
                        Err(_) => seen.other_errors += 1,
                    }
                }
                seen
            })
        })
        .collect();
    let mut all = Seen::default();
    for worker in workers {
        let seen = worker.join().expect("client thread");
        all.ok += seen.ok;
        all.connect_errors += seen.connect_errors;
        all.other_errors += seen.other_errors;
        all.connect_us.extend(seen.connect_us);
        all.round_us.extend(seen.round_us);
    }
    all.connect_us.sort_unstable();
    all.round_us.sort_unstable();
    println!(
        "{{\"conns\": {}, \"conns_per_sec\": {:.0}, \"failures\": {}, \"connect_errors\": {}, \
         \"connect_p50_us\": {}, \"connect_p99_us\": {}, \"connect_max_us\": {}, \
         \"round_p50_us\": {}, \"round_p99_us\": {}, \"round_max_us\": {}}}",
        all.ok,
        all.ok as f64 / secs,
        all.connect_errors + all.other_errors,
        all.connect_errors,
        percentile(&all.connect_us, 50.0),
        percentile(&all.connect_us, 99.0),
        all.connect_us.last().copied().unwrap_or(0),
        percentile(&all.round_us, 50.0),
        percentile(&all.round_us, 99.0),
        all.round_us.last().copied().unwrap_or(0),
    );
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

/// The `p`th percentile of sorted `values` (nearest rank); 0 when empty.
fn percentile(values: &[u32], p: f64) -> u32 {
    if values.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

//! Connection churn for the accept path: THREADS blocking clients each connect, send 64
//! bytes, read the echo and close, again and again for SECONDS. Prints one JSON object.
//!
//! Usage: connect-rate HOST:PORT THREADS SECONDS

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: connect-rate HOST:PORT THREADS SECONDS");
        std::process::exit(2);
    }
    let addr = args[1].clone();
    let threads: usize = args[2].parse().expect("THREADS is a number");
    let secs: f64 = args[3].parse().expect("SECONDS is a number");
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (addr, ok, failed) = (addr.clone(), Arc::clone(&ok), Arc::clone(&failed));
            std::thread::spawn(move || {
                let msg = [7u8; 64];
                let mut back = [0u8; 64];
                while Instant::now() < deadline {
                    let round = (|| -> std::io::Result<()> {
                        let mut s = TcpStream::connect(&addr)?;
                        s.set_nodelay(true)?;
                        s.set_read_timeout(Some(Duration::from_secs(2)))?;
                        s.write_all(&msg)?;
                        s.read_exact(&mut back)?;
                        if back != msg {
                            return Err(std::io::Error::other("echo mismatch"));
                        }
                        Ok(())
                    })();
                    let counter = if round.is_ok() { &ok } else { &failed };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("client thread");
    }
    let done = ok.load(Ordering::Relaxed);
    println!(
        "{{\"conns\": {done}, \"conns_per_sec\": {:.0}, \"failures\": {}}}",
        done as f64 / secs,
        failed.load(Ordering::Relaxed)
    );
}

//! `Group`'s bound holds on the whole path to the socket: in the `broadcast` example,
//! under threads, pool and events, a member that never reads, beside one that keeps up,
//! is evicted during a 50 MiB broadcast while the server stays within a few MiB; the
//! member that keeps up gets every byte, in order.

mod example_support;

use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use example_support::{example, Server};
use testkit::Client;

/// What is broadcast.
const TOTAL: u64 = 50 << 20;
/// The sender stays at most this far ahead of the fast reader ("keeps up"): well inside
/// the example's 1 MiB bound, whatever the group and the output hold between drains.
const WINDOW: u64 = 256 << 10;
const CHUNK: usize = 64 << 10;
/// The whole broadcast must be done within this, or the test fails (not hangs).
const LIMIT: Duration = Duration::from_secs(60);
/// The server's peak resident memory may not pass this. Without the bound on the
/// output, the slow member alone held ~50 MB.
const MAX_PEAK_KIB: u64 = 12 << 10;

/// Byte `i` of the broadcast: a pattern in which a lost, doubled or reordered chunk shows.
fn pattern(i: u64) -> u8 {
    (i % 251) as u8 ^ (i / 4096 % 7) as u8
}

fn joined(endpoint: &sockserv::Endpoint) -> Client {
    let mut client = Client::connect(endpoint);
    assert_eq!(client.read_line().unwrap(), b"joined\n");
    client
}

#[test]
fn a_member_that_never_reads_is_evicted_and_the_server_stays_small() {
    for strategy in ["threads", "pool:4", "events:2"] {
        let server = Server::start(example("broadcast").args(["tcp://127.0.0.1:0", strategy]));
        let endpoint = server.endpoint.clone();
        let mut fast = joined(&endpoint);
        let slow = joined(&endpoint);
        let mut sender = joined(&endpoint);

        let received = Arc::new(AtomicU64::new(0));
        let reader = {
            let received = Arc::clone(&received);
            thread::spawn(move || {
                let mut buf = vec![0u8; CHUNK];
                let mut at = 0u64;
                while at < TOTAL {
                    let n = fast.read(&mut buf).expect("the fast member reads");
                    assert!(n > 0, "{strategy}: the fast member was closed at {at}");
                    for (k, &byte) in buf[..n].iter().enumerate() {
                        let i = at + k as u64;
                        assert_eq!(byte, pattern(i), "{strategy}: byte {i}");
                    }
                    at += n as u64;
                    received.store(at, Ordering::Release);
                }
            })
        };

        let started = Instant::now();
        let mut chunk = vec![0u8; CHUNK];
        let mut sent = 0u64;
        while sent < TOTAL {
            while sent - received.load(Ordering::Acquire) > WINDOW {
                assert!(started.elapsed() < LIMIT, "{strategy}: stalled at {sent}");
                assert!(!reader.is_finished(), "{strategy}: the reader failed");
                thread::yield_now();
            }
            for (k, byte) in chunk.iter_mut().enumerate() {
                *byte = pattern(sent + k as u64);
            }
            sender.write_all(&chunk).unwrap();
            sent += CHUNK as u64;
        }
        reader
            .join()
            .expect("the fast member got every byte in order");
        let peak = server.status_kib("VmHWM");

        // The slow member was closed: it reads what the kernel buffered, then EOF.
        slow.set_timeout(Some(Duration::from_secs(10)));
        let mut got = 0u64;
        let mut slow = slow;
        let mut buf = vec![0u8; CHUNK];
        loop {
            match slow.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got += n as u64,
                Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
                Err(e) => panic!("{strategy}: the slow member was not closed: {e}"),
            }
        }
        assert!(
            got < TOTAL / 2,
            "{strategy}: the slow member got {got} bytes"
        );
        assert!(
            peak < MAX_PEAK_KIB,
            "{strategy}: the server peaked at {} MiB",
            peak >> 10
        );
        eprintln!(
            "{strategy}: 50 MiB in {:?}, server peak {} KiB, slow member got {} KiB before eviction",
            started.elapsed(),
            peak,
            got >> 10
        );
        drop(sender);
        server.signal("INT");
        let (status, rest) = server.wait();
        assert!(status.success(), "{strategy}: {status} {rest:?}");
    }
}

//! Shared by the access-rule and PROXY-protocol end-to-end tests.

#![allow(dead_code, unused_imports)] // each test file uses a different part

pub use std::io::{ErrorKind, Read, Write};
pub use std::net::TcpListener;
pub use std::thread;
pub use std::time::{Duration, Instant};

pub use crate::util::{run, Client, Server};
pub use sockserv::proxy::ProxyHeader;
pub use sockserv::Endpoint;

/// The modes the access rules are checked under (fork too: the verify hook runs in the
/// parent there, before the fork).
pub const ACL_MODES: [&str; 3] = ["threads", "events:2", "fork:4"];

/// The modes the PROXY protocol is checked under: blocking workers and event loops.
pub const PROXY_MODES: [&str; 3] = ["threads", "events:2", "fork:4"];

/// A refused client must be closed well before this: refusal is immediate, and this is
/// below the 5 s PROXY header timeout, so a refusal cannot pass for a timeout.
pub const AT_ONCE: Duration = Duration::from_secs(3);

/// The v1 header of the brief: client 198.51.100.7:5555, connected to 203.0.113.1:9000.
pub const V1_HEADER: &[u8] = b"PROXY TCP4 198.51.100.7 203.0.113.1 5555 9000\r\n";

pub fn proxied(source: &str) -> ProxyHeader {
    ProxyHeader::Proxied {
        source: source.parse().unwrap(),
        destination: "203.0.113.1:9000".parse().unwrap(),
    }
}

/// Connects, sends `prefix` then a line, half-closes, and expects exactly the line back
/// (never the prefix: a PROXY header is consumed by the server).
pub fn assert_served(endpoint: &Endpoint, prefix: &[u8], what: &str) {
    let data = b"hello through the rules\n".to_vec();
    let mut sent = prefix.to_vec();
    sent.extend_from_slice(&data);
    let echoed = Client::connect(endpoint).echo_half_close(sent);
    assert_eq!(
        String::from_utf8_lossy(&echoed),
        String::from_utf8_lossy(&data),
        "{what}: expected exactly the data echoed"
    );
}

/// Connects, sends `sent` (it may be empty), and expects the connection to be closed by
/// the server — EOF or a reset, never an echo — within `limit`. Returns how long it took.
pub fn assert_closed(endpoint: &Endpoint, sent: &[u8], limit: Duration, what: &str) -> Duration {
    let started = Instant::now();
    let mut client = Client::connect(endpoint);
    client.set_timeout(Some(limit));
    if !sent.is_empty() {
        // The server may have closed already: a failed write is a refusal too.
        let _ = client.write_all(sent);
    }
    let mut buf = [0; 256];
    let outcome = client.read(&mut buf);
    let elapsed = started.elapsed();
    match outcome {
        Ok(0) => {}
        Ok(n) => panic!(
            "{what}: expected the connection closed, got {:?}",
            String::from_utf8_lossy(&buf[..n])
        ),
        Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {}
        Err(e) => {
            panic!("{what}: expected EOF or a reset within {limit:?}, got {e} after {elapsed:?}")
        }
    }
    assert!(elapsed < limit, "{what}: closed only after {elapsed:?}");
    elapsed
}

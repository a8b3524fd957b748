//! The `--metrics` endpoint seen from a test: find it, scrape it, read samples off the
//! page. A test file includes it next to `util` as
//! `#[path = "util/metrics.rs"] mod metrics;` (only the tests that scrape compile it).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use crate::util::{Server, WAIT};

/// The metrics address from `server`'s `metrics on URL` line, which comes before its
/// `listening on` lines (so [`Server::start`] has read it already).
pub fn metrics_addr(server: &Server) -> SocketAddr {
    let line = server
        .stderr
        .iter()
        .find(|l| l.starts_with("metrics on "))
        .unwrap_or_else(|| {
            panic!(
                "no `metrics on` line before `listening on`: {:?}",
                server.stderr
            )
        });
    let url = line.trim_start_matches("metrics on ");
    let addr = url
        .strip_prefix("http://")
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("bad metrics URL in {line:?}"));
    let addr: SocketAddr = addr.parse().expect("a socket address in the metrics URL");
    assert_ne!(addr.port(), 0, "the printed URL has the real port: {line}");
    addr
}

/// Sends `request` raw and returns the whole response (the server closes after it).
pub fn http(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect to the metrics endpoint");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.set_write_timeout(Some(WAIT)).unwrap();
    stream.write_all(request).expect("send the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the response until the server closes");
    response
}

/// `GET /metrics`: checks the status and headers, returns the body.
pub fn scrape(addr: SocketAddr) -> String {
    let raw = http(addr, b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n");
    let responses = testkit::http::parse_responses(raw.as_bytes(), &[false]);
    let [response] = &responses[..] else {
        panic!("one response, then the close: {raw}");
    };
    assert_eq!((response.minor, response.status), (1, 200), "{raw}");
    assert_eq!(
        response.header("Content-Type"),
        Some("text/plain; version=0.0.4"),
        "{raw}"
    );
    assert_eq!(
        response.header("Content-Length"),
        Some(response.body.len().to_string().as_str()),
        "{raw}"
    );
    assert_eq!(response.header("Connection"), Some("close"), "{raw}");
    response.text()
}

/// The value of sample `name` (summed over its label sets); panics if it is absent.
pub fn sample(page: &str, name: &str) -> u64 {
    let values: Vec<u64> = page
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?;
            let value = match rest.strip_prefix('{') {
                Some(labelled) => labelled.split_once("} ")?.1,
                None => rest.strip_prefix(' ')?,
            };
            Some(value.parse::<u64>().expect("an integer sample"))
        })
        .collect();
    assert!(!values.is_empty(), "no sample {name} in\n{page}");
    values.iter().sum()
}

/// Asserts each `(name, value)` with [`sample`]; `what` names the case in a failure.
pub fn assert_samples(page: &str, expected: &[(&str, u64)], what: &str) {
    for &(name, value) in expected {
        assert_eq!(sample(page, name), value, "{what}: {name}");
    }
}

//! `examples/hello_http.rs`, run as a program: it says where it listens, answers
//! `GET /hello` with its JSON over a real socket, and stops cleanly on SIGINT.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sockserv::Endpoint;
use sockserv_http::client::ResponseHead;
use testkit::{lines_in_background, send_signal, wait_for_exit};

/// Bound on every wait: the example is ready and answers in milliseconds.
const WAIT: Duration = Duration::from_secs(20);

/// Kills the example when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `cargo test` builds the examples into `target/<profile>/examples/`, beside `deps/`
/// where this test binary lives.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test binary lives in target/<profile>/deps")
        .join("examples")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo test`",
        path.display()
    );
    path
}

/// Sends `request` and reads the one response (the request says `Connection: close`).
fn exchange(addr: std::net::SocketAddr, request: &str) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).unwrap();
    let head = ResponseHead::parse(&bytes)
        .unwrap()
        .expect("a complete head");
    let content_type = head.headers.get("Content-Type").unwrap_or("").to_owned();
    assert_eq!(head.content_length, Some((bytes.len() - head.len) as u64));
    (head.status, content_type, bytes[head.len..].to_vec())
}

#[test]
fn hello_http_answers_get_hello_with_json() {
    let mut child = Command::new(example("hello_http"))
        .arg("tcp://127.0.0.1:0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the example");
    let lines = lines_in_background(child.stderr.take().unwrap());
    let mut running = Running(child);
    let line = lines.recv_timeout(WAIT).expect("a `listening on` line");
    let url = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("not a `listening on` line: {line}"));
    let addr = match url.parse::<Endpoint>().expect("an endpoint URL") {
        Endpoint::Tcp(addr) => addr,
        other => panic!("listens on {other}, not TCP"),
    };
    assert_ne!(addr.port(), 0, "{line}");
    let (status, content_type, body) = exchange(
        addr,
        "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/json");
    assert_eq!(body, br#"{"hello": "world"}"#);
    let (status, _, body) = exchange(
        addr,
        "GET /other HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("Try /hello"));
    let (status, _, _) = exchange(
        addr,
        "PUT /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 501);
    // Ctrl-C: it stops, says so, and exits 0.
    send_signal(running.0.id(), "INT");
    assert!(wait_for_exit(&mut running.0, WAIT).success());
    let stopped = lines.recv_timeout(WAIT).expect("a `stopped` line");
    assert!(stopped.starts_with("stopped: "), "{stopped}");
}

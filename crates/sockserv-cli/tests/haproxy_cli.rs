//! sockserv behind a real HAProxy, configured by `docs/haproxy.cfg` (ports replaced):
//! clients are served through it, and the PROXY header carries their address to sockserv.
//!
//! Needs `haproxy` (on PATH or in /usr/sbin; Debian: `apt-get install -y haproxy`);
//! without it the test says why and passes.

mod haproxy_support;
mod util;

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::os::fd::AsRawFd;
use std::thread;
use std::time::{Duration, Instant};

use haproxy_support::{haproxy_binary, inheritable_listener, replace_once, Haproxy};
use socket2::{Domain, Socket, Type};
use util::{Server, WAIT};

/// The shipped configuration: the test runs exactly it, with its addresses replaced.
const CONFIG: &str = include_str!("../../../docs/haproxy.cfg");

/// Connects to `to` from the loopback address `from` (any of 127.0.0.0/8 works on Linux).
fn connect_from(from: Ipv4Addr, to: SocketAddr, timeout: Duration) -> std::io::Result<TcpStream> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.bind(&SocketAddr::V4(SocketAddrV4::new(from, 0)).into())?;
    socket.connect_timeout(&to.into(), timeout)?;
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(WAIT))?;
    stream.set_write_timeout(Some(WAIT))?;
    Ok(stream)
}

/// Sends a line and half-closes; returns everything received until EOF (or a reset).
fn exchange(mut stream: TcpStream, line: &[u8]) -> Vec<u8> {
    // A refused client may see its write fail: that is a refusal too.
    if stream.write_all(line).is_ok() {
        let _ = stream.shutdown(std::net::Shutdown::Write);
    }
    let mut received = Vec::new();
    match stream.read_to_end(&mut received) {
        Ok(_) => {}
        Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {}
        Err(e) => panic!("reading the reply: {e}"),
    }
    received
}

#[test]
fn clients_through_haproxy_are_served_and_sockserv_sees_their_address() {
    let Some(binary) = haproxy_binary() else {
        eprintln!(
            "skipped: haproxy is not on PATH nor in /usr/sbin (Debian: apt-get install -y haproxy)"
        );
        return;
    };
    let started = Instant::now();
    // Two backends, one of each kind of worker. Both deny 127.0.0.2: a client that
    // connects to HAProxy from 127.0.0.2 is refused only if the PROXY header carried
    // its address (HAProxy itself connects from 127.0.0.1, which is allowed).
    let backends: Vec<Server> = ["threads", "events:2"]
        .into_iter()
        .map(|mode| Server::start_mode("echo", mode, &["--proxy-protocol", "--deny", "127.0.0.2"]))
        .collect();
    let (front_socket, front) = inheritable_listener();
    let config = replace_once(
        CONFIG,
        "bind 127.0.0.1:9000",
        &format!("bind fd@{}", front_socket.as_raw_fd()),
    );
    let config = replace_once(
        &config,
        "server s1 127.0.0.1:9001",
        &format!("server s1 127.0.0.1:{}", backends[0].tcp_addr().port()),
    );
    let config = replace_once(
        &config,
        "server s2 127.0.0.1:9002",
        &format!("server s2 127.0.0.1:{}", backends[1].tcp_addr().port()),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("haproxy.cfg");
    std::fs::write(&path, config).unwrap();
    let mut haproxy = Haproxy::start(&binary, &path);
    // haproxy has its copy; ours goes, so that if haproxy dies, clients are refused
    // instead of waiting in a backlog nobody accepts from.
    drop(front_socket);

    // Ready once the frontend accepts: bounded connect attempts, short timeouts.
    let deadline = Instant::now() + WAIT;
    let mut first = loop {
        match connect_from(Ipv4Addr::LOCALHOST, front, Duration::from_millis(200)) {
            Ok(stream) => break stream,
            Err(e) => {
                if Instant::now() >= deadline || haproxy.child.try_wait().unwrap().is_some() {
                    let output = haproxy.stop();
                    panic!("haproxy does not accept on {front}: {e}; it said: {output}");
                }
            }
        }
    };
    first.write_all(b"first\n").unwrap();
    let mut reply = [0; 6];
    first.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"first\n");
    drop(first);

    // 20 clients at once, all served, each gets exactly its own bytes (no header).
    let clients: Vec<_> = (0..20)
        .map(|i| {
            thread::spawn(move || {
                let stream = connect_from(Ipv4Addr::LOCALHOST, front, WAIT).unwrap();
                let line = format!("client {i} through haproxy\n");
                let echoed = exchange(stream, line.as_bytes());
                assert_eq!(String::from_utf8_lossy(&echoed), line, "client {i}");
            })
        })
        .collect();
    for client in clients {
        if client.join().is_err() {
            panic!("a client was not served; haproxy said: {}", haproxy.stop());
        }
    }

    // The address traveled: from 127.0.0.2 every connection is closed unanswered,
    // whichever backend HAProxy picks; from 127.0.0.3, next to it, all are served.
    for i in 0..6 {
        let denied = connect_from(Ipv4Addr::new(127, 0, 0, 2), front, WAIT).unwrap();
        let echoed = exchange(denied, b"let me in\n");
        assert!(
            echoed.is_empty(),
            "denied client {i} got {:?}",
            String::from_utf8_lossy(&echoed)
        );
        let allowed = connect_from(Ipv4Addr::new(127, 0, 0, 3), front, WAIT).unwrap();
        assert_eq!(exchange(allowed, b"me too\n"), b"me too\n", "client {i}");
    }

    // Both backends still run (a refusal does not hurt them), and they really take
    // PROXY headers: a direct client that sends none is not echoed.
    for backend in &backends {
        let direct = connect_from(Ipv4Addr::LOCALHOST, backend.tcp_addr(), WAIT).unwrap();
        let echoed = exchange(direct, b"GET / HTTP/1.0\r\n\r\n");
        assert!(
            echoed.is_empty(),
            "a backend echoed a client without a header"
        );
    }
    drop(haproxy);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
}

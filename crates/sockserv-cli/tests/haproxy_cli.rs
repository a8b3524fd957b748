//! sockserv behind a real HAProxy, configured by `docs/haproxy.cfg` (ports replaced):
//! clients are served through it, and the PROXY header carries their address to sockserv,
//! also when HAProxy adds TLVs after the addresses.
//!
//! Needs `haproxy` (on PATH or in /usr/sbin; `.ci/run` installs it): without it the tests
//! say why and skip, and fail under `SOCKSERV_REQUIRE_TOOLS=1`.

mod haproxy_support;
mod util;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use haproxy_support::{inheritable_listener, replace_once, Haproxy};
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

/// Sends a line and half-closes; returns everything received until the server closed
/// (EOF or a reset), which it must within the bound.
fn exchange(mut stream: TcpStream, line: &[u8]) -> Vec<u8> {
    // A refused client may see its write fail: that is a refusal too.
    if stream.write_all(line).is_ok() {
        let _ = stream.shutdown(std::net::Shutdown::Write);
    }
    testkit::read_until_closed(&mut stream, WAIT, "a client through haproxy")
}

/// `docs/haproxy.cfg` listening on the inherited `front` descriptor, relaying to the
/// two `backends` ports, with `extra_server_options` added to every server line.
fn config_for(front: &Socket, backends: [u16; 2], extra_server_options: &str) -> String {
    let config = replace_once(
        CONFIG,
        "bind 127.0.0.1:9000",
        &format!("bind fd@{}", front.as_raw_fd()),
    );
    let config = replace_once(
        &config,
        "server s1 127.0.0.1:9001",
        &format!("server s1 127.0.0.1:{}", backends[0]),
    );
    let config = replace_once(
        &config,
        "server s2 127.0.0.1:9002",
        &format!("server s2 127.0.0.1:{}", backends[1]),
    );
    let default_server =
        "default-server send-proxy-v2 check check-send-proxy inter 2s fall 3 rise 2";
    replace_once(
        &config,
        default_server,
        &format!("{default_server} {extra_server_options}"),
    )
}

/// Writes `config` into `dir`, starts haproxy on it, and waits (bounded) until its
/// frontend `front` echoes a first line through a backend. `front_socket` is dropped
/// once haproxy has its copy, so that if haproxy dies, clients are refused instead of
/// waiting in a backlog nobody accepts from.
fn start_haproxy(
    binary: &Path,
    dir: &Path,
    config: String,
    front_socket: Socket,
    front: SocketAddr,
) -> Haproxy {
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, config).unwrap();
    let mut haproxy = Haproxy::start(binary, &path);
    drop(front_socket);
    // Ready once the frontend accepts: bounded connect attempts, short timeouts.
    let deadline = Instant::now() + WAIT;
    loop {
        match connect_from(Ipv4Addr::LOCALHOST, front, Duration::from_millis(200)) {
            Ok(stream) => return haproxy_with(haproxy, stream),
            Err(e) => {
                if Instant::now() >= deadline || haproxy.child.try_wait().unwrap().is_some() {
                    let output = haproxy.stop();
                    panic!("haproxy does not accept on {front}: {e}; it said: {output}");
                }
            }
        }
    }
}

/// Checks the first connection through `haproxy` is echoed, then hands haproxy back.
fn haproxy_with(mut haproxy: Haproxy, mut first: TcpStream) -> Haproxy {
    let echoed = first
        .write_all(b"first\n")
        .and_then(|()| {
            let mut reply = [0; 6];
            first.read_exact(&mut reply).map(|()| reply)
        })
        .unwrap_or_else(|e| {
            panic!(
                "the first client through haproxy: {e}; it said: {}",
                haproxy.stop()
            )
        });
    assert_eq!(&echoed, b"first\n");
    haproxy
}

/// The two backends every test runs: one of each kind of worker, both trusting PROXY
/// headers and denying 127.0.0.2. A client that connects to HAProxy from 127.0.0.2 is
/// refused only if the PROXY header carried its address (HAProxy itself connects from
/// 127.0.0.1, which is allowed).
fn backends() -> Vec<Server> {
    ["threads", "events:2"]
        .into_iter()
        .map(|mode| Server::start_mode("echo", mode, &["--proxy-protocol", "--deny", "127.0.0.2"]))
        .collect()
}

/// Through `front`: every connection from 127.0.0.2 is closed unanswered, whichever
/// backend HAProxy picks; from 127.0.0.3, next to it, all are served.
fn assert_the_address_travels(front: SocketAddr) {
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
}

#[test]
fn clients_through_haproxy_are_served_and_sockserv_sees_their_address() {
    let Some(binary) = haproxy_support::haproxy_binary() else {
        return;
    };
    let backends = backends();
    let (front_socket, front) = inheritable_listener();
    let ports = [backends[0].tcp_addr().port(), backends[1].tcp_addr().port()];
    let config = config_for(&front_socket, ports, "");
    let dir = tempfile::tempdir().unwrap();
    let mut haproxy = start_haproxy(&binary, dir.path(), config, front_socket, front);

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

    assert_the_address_travels(front);

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
}

/// The PROXY v2 TLVs HAProxy adds with `proxy-v2-options crc32c,unique-id`: a CRC32C of
/// the header (type 0x03) and the connection's unique id (type 0x05).
const TLV_OPTIONS: &str = "proxy-v2-options crc32c,unique-id";

/// The `unique-id-format` the frontend needs for HAProxy to send a unique id at all.
const UNIQUE_ID_FORMAT: &str = "    unique-id-format %{+X}o\\ %ci:%cp_%fi:%fp_%Ts_%rt\n";

/// The first PROXY (not LOCAL: health checks send those) v2 header a raw listener
/// receives, read up to its announced length; the connection is then closed unanswered.
fn first_proxied_header(listener: TcpListener) -> Vec<u8> {
    listener.set_nonblocking(false).unwrap();
    loop {
        let (mut conn, _) = listener.accept().expect("accept a connection from haproxy");
        conn.set_read_timeout(Some(WAIT)).unwrap();
        let mut fixed = [0u8; 16];
        if conn.read_exact(&mut fixed).is_err() {
            continue; // a bare TCP check
        }
        let mut rest = vec![0u8; usize::from(u16::from_be_bytes([fixed[14], fixed[15]]))];
        conn.read_exact(&mut rest)
            .expect("the header's address block");
        if fixed[12] == 0x21 {
            let mut header = fixed.to_vec();
            header.extend(rest);
            return header;
        }
    }
}

/// The TLV types after an IPv4 address block (12 bytes) in a v2 header.
fn tlv_types(header: &[u8]) -> Vec<u8> {
    assert_eq!(header[13], 0x11, "TCP over IPv4: {header:02x?}");
    let mut tlvs = &header[16 + 12..];
    let mut types = Vec::new();
    while let [kind, hi, lo, rest @ ..] = tlvs {
        types.push(*kind);
        let len = usize::from(u16::from_be_bytes([*hi, *lo]));
        assert!(
            len <= rest.len(),
            "a TLV past the header's end: {header:02x?}"
        );
        tlvs = &rest[len..];
    }
    types
}

#[test]
fn haproxy_tlvs_after_the_addresses_are_read_past() {
    let Some(binary) = haproxy_support::haproxy_binary() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let with_tlvs = |config: String| {
        replace_once(
            &config,
            "    default_backend sockserv\n",
            &format!("{UNIQUE_ID_FORMAT}    default_backend sockserv\n"),
        )
    };

    // First a raw backend that records what HAProxy sends: TLVs really are there.
    let recorder = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = recorder.local_addr().unwrap().port();
    let (tx, headers) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(first_proxied_header(recorder));
    });
    let (front_socket, front) = inheritable_listener();
    let config = with_tlvs(config_for(&front_socket, [port, port], TLV_OPTIONS));
    let path = dir.path().join("recording.cfg");
    std::fs::write(&path, config).unwrap();
    let mut haproxy = Haproxy::start(&binary, &path);
    drop(front_socket);
    let mut client = connect_from(Ipv4Addr::LOCALHOST, front, WAIT).unwrap();
    let _ = client.write_all(b"hello\n");
    let header = headers.recv_timeout(WAIT).unwrap_or_else(|_| {
        panic!(
            "no PROXY header reached the recorder; haproxy said: {}",
            haproxy.stop()
        )
    });
    drop(haproxy);
    let types = tlv_types(&header);
    assert!(
        types.contains(&0x03) && types.contains(&0x05),
        "expected CRC32C (0x03) and UNIQUE_ID (0x05) TLVs, got types {types:02x?}"
    );

    // Then the same options in front of sockserv: served, and the address still judged.
    let backends = backends();
    let (front_socket, front) = inheritable_listener();
    let ports = [backends[0].tcp_addr().port(), backends[1].tcp_addr().port()];
    let config = with_tlvs(config_for(&front_socket, ports, TLV_OPTIONS));
    let _haproxy = start_haproxy(&binary, dir.path(), config, front_socket, front);
    assert_the_address_travels(front);
}

//! `Builder::bind` checks before it binds: every refused combination is reported as a
//! typed error before any socket exists; an endpoint can be given as text; an inherited
//! descriptor is adopted as an `OwnedFd`.

use std::io::{self, BufRead, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use sockserv::acl::AccessList;
use sockserv::transport::Listener;
use sockserv::{
    Builder, Conn, Datagram, Endpoint, Error, Output, PeerAddr, Server, Session, Strategy,
    Unsupported,
};

fn echo_line(conn: &mut Conn) -> io::Result<()> {
    let mut line = String::new();
    conn.read_line(&mut line)?;
    conn.write_all(line.as_bytes())
}

fn echo_datagram(request: &Datagram<'_>, reply: &mut Vec<u8>) -> io::Result<()> {
    reply.extend_from_slice(request.data());
    Ok(())
}

struct Echo;

impl Session for Echo {
    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        out.write(data);
    }
}

/// One line through a TCP server, every wait bounded.
fn round_trip(server: Server) {
    let addr = server.local_endpoint().socket_addr().unwrap();
    let stop = server.shutdown_handle();
    let serving = std::thread::spawn(move || {
        let mut server = server;
        server.serve().unwrap();
        server.close().unwrap();
    });
    let mut client = TcpStream::connect(addr).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    client.write_all(b"hello\n").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut reply = String::new();
    client.read_to_string(&mut reply).unwrap();
    assert_eq!(reply, "hello\n");
    stop.shutdown();
    serving.join().unwrap();
}

#[test]
fn an_endpoint_given_as_text_needs_no_parse() {
    let server = Server::builder("tcp://127.0.0.1:0")
        .strategy(Strategy::Sequential)
        .handler(echo_line)
        .bind()
        .unwrap();
    assert_ne!(server.local_endpoint().socket_addr().unwrap().port(), 0);
    round_trip(server);
    let addr: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = Server::builder(addr).handler(echo_line).bind().unwrap();
    assert!(matches!(server.local_endpoint(), Endpoint::Tcp(_)));
    server.close().unwrap();
}

#[test]
fn an_invalid_endpoint_is_reported_by_bind_in_one_line() {
    match Server::builder("http://127.0.0.1:1")
        .handler(echo_line)
        .bind()
    {
        Err(e @ Error::InvalidEndpoint(_)) => {
            let message = e.to_string();
            assert!(message.contains("unknown scheme"), "{message}");
            assert!(!message.contains('\n'), "{message}");
        }
        Err(e) => panic!("expected InvalidEndpoint, got {e}"),
        Ok(_) => panic!("bound an invalid endpoint"),
    }
}

/// Each refused combination, on a Unix path in a directory that does not exist: binding
/// would fail with `Error::Bind`, so `Unsupported` proves the check came first.
#[test]
fn every_refusal_comes_before_a_socket_exists() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let stream = |dir: &Path| Endpoint::Unix(dir.join("stream.sock"));
    let datagram = |dir: &Path| Endpoint::UnixDatagram(dir.join("datagram.sock"));
    let session = |_: &PeerAddr| Echo;
    type Case = (Builder, fn(&Unsupported) -> bool);
    let cases: Vec<Case> = vec![
        (
            Server::builder(datagram(&missing))
                .session(session)
                .proxy_protocol(AccessList::loopback()),
            |u| matches!(u, Unsupported::ProxyProtocolOnDatagram { .. }),
        ),
        (
            Server::builder(datagram(&missing)).handler(echo_line),
            |u| matches!(u, Unsupported::StreamHandlerOnDatagram { .. }),
        ),
        (
            Server::builder(stream(&missing)).datagram_handler(echo_datagram),
            |u| matches!(u, Unsupported::DatagramHandlerOnStream { .. }),
        ),
        (
            Server::builder(stream(&missing))
                .strategy(Strategy::Events { loops: 1 })
                .handler(echo_line),
            |u| matches!(u, Unsupported::BlockingHandlerUnderEvents),
        ),
        (
            Server::builder(stream(&missing))
                .strategy(Strategy::Pool { workers: 0 })
                .handler(echo_line),
            |u| matches!(u, Unsupported::NoWorkers { .. }),
        ),
        (
            Server::builder(stream(&missing))
                .strategy(Strategy::Events { loops: 0 })
                .session(session),
            |u| matches!(u, Unsupported::NoWorkers { .. }),
        ),
        (
            Server::builder(stream(&missing))
                .strategy(Strategy::Fork { max_children: 2 })
                .session(session)
                .needs_shared_state(),
            |u| matches!(u, Unsupported::SharedStateUnderFork { .. }),
        ),
        (
            Server::builder(stream(&missing))
                .reuse_port(true)
                .handler(echo_line),
            |u| matches!(u, Unsupported::ReusePortOnUnix { .. }),
        ),
    ];
    for (builder, expected) in cases {
        let described = format!("{builder:?}");
        match builder.bind() {
            Err(Error::Unsupported(refused)) => {
                assert!(expected(&refused), "{described}: refused as {refused:?}");
                let message = refused.to_string();
                assert!(message.contains("is not supported: "), "{message}");
                assert!(!message.contains('\n'), "{message}");
            }
            Err(e) => panic!("{described}: expected Unsupported, got {e}"),
            Ok(_) => panic!("{described}: accepted"),
        }
        assert!(!missing.exists(), "{described}: a refused bind made a path");
    }
}

#[test]
fn an_inherited_descriptor_is_adopted_as_an_owned_fd() {
    let std_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_listener.local_addr().unwrap();
    let listener = Listener::from_inherited_fd(OwnedFd::from(std_listener)).unwrap();
    assert_eq!(listener.local_endpoint(), &Endpoint::Tcp(addr));
    let server = Server::from_listener(listener)
        .handler(echo_line)
        .bind()
        .unwrap();
    round_trip(server);

    let (connected, _peer) = UnixStream::pair().unwrap();
    let err = Listener::from_inherited_fd(OwnedFd::from(connected)).unwrap_err();
    assert!(err.to_string().contains("not listening"), "{err}");
}

//! Binding: CPython #15 (failed binds leak nothing) and A12–A14 (reuse options,
//! two-phase construction and adopted sockets, Unix socket file lifecycle).

mod util;

use std::io;
use std::net::{TcpListener, UdpSocket};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixListener;

use sockserv::transport::{Listener, SocketOptions, UnboundSocket};
use sockserv::{Endpoint, Error, Server, Strategy, Unsupported};
use util::{Serving, Transport};

// #15 test_tcpserver_bind_leak (bpo-22435): failed binds close their sockets.
#[test]
fn failed_binds_leak_no_descriptors() {
    let _isolation = util::isolate(true);
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dir = util::temp_dir();
    let cases = [
        (
            Endpoint::Tcp(taken.local_addr().unwrap()),
            io::ErrorKind::AddrInUse,
        ),
        (
            Endpoint::Udp(taken_udp.local_addr().unwrap()),
            io::ErrorKind::AddrInUse,
        ),
        // TEST-NET-1: not an address of this host.
        (
            Endpoint::Tcp("192.0.2.1:0".parse().unwrap()),
            io::ErrorKind::AddrNotAvailable,
        ),
        (
            Endpoint::Unix(dir.path().join("missing-dir").join("s.sock")),
            io::ErrorKind::NotFound,
        ),
    ];
    let before = util::fd_count();
    for (endpoint, kind) in &cases {
        for _ in 0..256 {
            match util::echo_builder(endpoint.clone()).bind() {
                Err(Error::Bind {
                    endpoint: named,
                    source,
                }) => {
                    assert_eq!(&named, endpoint);
                    assert_eq!(source.kind(), *kind, "{endpoint}: {source}");
                }
                Err(e) => panic!("{endpoint}: unexpected error {e}"),
                Ok(_) => panic!("{endpoint}: bind succeeded"),
            }
        }
    }
    assert_eq!(
        util::fd_count(),
        before,
        "descriptors leaked by failed binds"
    );
}

// A12: SO_REUSEADDR lets a restarted server bind while the old run's connection sits in
// TIME_WAIT; without it the bind fails.
#[test]
fn reuse_address_restart_after_time_wait() {
    let _isolation = util::isolate(false);
    let dir = util::temp_dir();
    let server = util::echo_builder(util::tcp_any())
        .strategy(Strategy::Sequential)
        .bind()
        .unwrap();
    let endpoint = server.local_endpoint().clone();
    let serving = Serving::start(server);
    // The server half-closes first, so its side of this connection enters TIME_WAIT.
    assert_eq!(util::hello(&endpoint, dir.path()).unwrap(), util::HELLO);
    serving.stop().close().unwrap();

    match util::echo_builder(endpoint.clone())
        .reuse_address(false)
        .bind()
    {
        Err(Error::Bind { source, .. }) => assert_eq!(source.kind(), io::ErrorKind::AddrInUse),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("no TIME_WAIT to test against: bind without SO_REUSEADDR succeeded"),
    }
    let server = util::echo_builder(endpoint.clone())
        .reuse_address(true)
        .bind()
        .expect("restart with reuse_address");
    let serving = Serving::start(server);
    assert_eq!(util::hello(&endpoint, dir.path()).unwrap(), util::HELLO);
    serving.stop().close().unwrap();
}

// A12: SO_REUSEPORT lets two servers share a port; Unix sockets refuse it up front.
#[test]
fn reuse_port_shares_inet_ports_and_is_refused_on_unix() {
    let _isolation = util::isolate(false);
    let dir = util::temp_dir();
    for any in [
        util::tcp_any(),
        Endpoint::Udp("127.0.0.1:0".parse().unwrap()),
    ] {
        let first = util::echo_builder(any).reuse_port(true).bind().unwrap();
        let endpoint = first.local_endpoint().clone();
        let second = util::echo_builder(endpoint.clone())
            .reuse_port(true)
            .bind()
            .unwrap_or_else(|e| panic!("second server on {endpoint}: {e}"));
        assert_eq!(second.local_endpoint(), &endpoint);
        assert!(
            util::echo_builder(endpoint.clone()).bind().is_err(),
            "{endpoint}: a third server without reuse_port bound the same port"
        );
        let (a, b) = (Serving::start(first), Serving::start(second));
        for _ in 0..4 {
            assert_eq!(util::hello(&endpoint, dir.path()).unwrap(), util::HELLO);
        }
        a.stop().close().unwrap();
        b.stop().close().unwrap();
    }
    for transport in [Transport::Unix, Transport::UnixGram] {
        let endpoint = transport.endpoint(dir.path());
        match util::echo_builder(endpoint.clone()).reuse_port(true).bind() {
            Err(Error::Unsupported(Unsupported::ReusePortOnUnix { endpoint: refused })) => {
                assert_eq!(refused, endpoint);
            }
            Err(e) => panic!("{endpoint}: expected Unsupported, got {e}"),
            Ok(_) => panic!("{endpoint}: reuse_port accepted on a Unix socket"),
        }
        assert!(
            !endpoint.path().unwrap().exists(),
            "refused bind left a file"
        );
    }
}

// A13: two-phase construction: configure, bind (real port known), listen, serve.
#[test]
fn two_phase_construction() {
    let _isolation = util::isolate(false);
    let dir = util::temp_dir();
    let mut socket = UnboundSocket::new(&util::tcp_any(), &SocketOptions::default()).unwrap();
    socket2::SockRef::from(&socket)
        .set_recv_buffer_size(1 << 16)
        .unwrap();
    socket.bind().unwrap();
    let bound = socket.local_endpoint().unwrap();
    assert_ne!(
        bound.socket_addr().unwrap().port(),
        0,
        "real port after bind"
    );
    // Bound but not listening yet: connecting is refused.
    util::assert_refused(&bound);
    let listener = socket.listen().unwrap();
    assert_eq!(listener.local_endpoint(), &bound);
    let server = Server::from_listener(listener)
        .handler(util::echo_line)
        .bind()
        .unwrap();
    assert_eq!(server.local_endpoint(), &bound);
    let serving = Serving::start(server);
    assert_eq!(util::hello(&bound, dir.path()).unwrap(), util::HELLO);
    serving.stop().close().unwrap();

    // Adopting already-bound std sockets (socket activation).
    let std_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    for listener in [
        Listener::try_from(std_listener).unwrap(),
        Listener::try_from(udp).unwrap(),
    ] {
        let endpoint = listener.local_endpoint().clone();
        let builder = Server::from_listener(listener);
        let server = if endpoint.is_datagram() {
            builder.datagram_handler(util::echo_datagram)
        } else {
            builder.handler(util::echo_line)
        }
        .bind()
        .unwrap();
        let serving = Serving::start(server);
        assert_eq!(util::hello(&endpoint, dir.path()).unwrap(), util::HELLO);
        serving.stop().close().unwrap();
    }

    // Dropping an unbound socket after bind releases the Unix path.
    let path = util::unique_path(dir.path(), "u");
    let mut socket =
        UnboundSocket::new(&Endpoint::Unix(path.clone()), &SocketOptions::default()).unwrap();
    socket.bind().unwrap();
    assert!(path.exists());
    drop(socket);
    assert!(!path.exists(), "dropped unbound socket left its file");
}

// A14: the Unix socket file exists while serving, is removed on close, and the path can
// be bound again.
#[test]
fn unix_path_lifecycle() {
    let _isolation = util::isolate(false);
    let dir = util::temp_dir();
    for transport in [Transport::Unix, Transport::UnixGram] {
        let endpoint = transport.endpoint(dir.path());
        let path = endpoint.path().unwrap().to_owned();
        for round in 0..2 {
            let server = util::echo_builder(endpoint.clone()).bind().unwrap();
            let serving = Serving::start(server);
            let kind = std::fs::metadata(&path).expect("socket file while serving");
            assert!(kind.file_type().is_socket(), "round {round}");
            assert_eq!(util::hello(&endpoint, dir.path()).unwrap(), util::HELLO);
            serving.stop().close().unwrap();
            assert!(!path.exists(), "round {round}: file left after close");
        }
        // unlink_on_close = false keeps the file.
        let mut keep = SocketOptions::default();
        keep.unlink_on_close = false;
        let server = util::echo_builder(endpoint.clone())
            .socket_options(keep)
            .bind()
            .unwrap();
        server.close().unwrap();
        assert!(path.exists(), "unlink_on_close = false removed the file");
        std::fs::remove_file(&path).unwrap();
    }
}

// A14: a crashed server's leftover file is replaced by default (and blocks bind with
// replace_stale_unix_socket = false); a live server's file is never replaced.
#[test]
fn stale_unix_socket_replacement() {
    let _isolation = util::isolate(false);
    let dir = util::temp_dir();
    let endpoint = Transport::Unix.endpoint(dir.path());
    let path = endpoint.path().unwrap().to_owned();
    drop(UnixListener::bind(&path).unwrap()); // std leaves the file behind
    assert!(path.exists());

    let mut keep = SocketOptions::default();
    keep.replace_stale_unix_socket = false;
    match util::echo_builder(endpoint.clone())
        .socket_options(keep)
        .bind()
    {
        Err(Error::Bind { source, .. }) => assert_eq!(source.kind(), io::ErrorKind::AddrInUse),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("bound over a stale socket when told not to"),
    }
    let replace = SocketOptions::default();
    assert!(replace.replace_stale_unix_socket, "the default");
    let server = util::echo_builder(endpoint.clone())
        .socket_options(replace.clone())
        .bind()
        .expect("stale socket replaced");
    let serving = Serving::start(server);

    // The live one is not stale: a second server must not steal its path.
    assert!(util::echo_builder(endpoint.clone())
        .socket_options(replace)
        .bind()
        .is_err());
    assert_eq!(util::hello(&endpoint, dir.path()).unwrap(), util::HELLO);
    serving.stop().close().unwrap();
    assert!(!path.exists());

    // A regular file in the way is never removed, whatever the option says.
    std::fs::write(&path, b"not a socket").unwrap();
    assert!(util::echo_builder(endpoint).bind().is_err());
    assert_eq!(std::fs::read(&path).unwrap(), b"not a socket");
}

// Regression: SO_REUSEADDR was set on UDP too, where Linux lets two live sockets that
// both set it share a port (the later one silently takes the datagrams).
#[test]
fn udp_port_is_not_shared_by_default() {
    let _isolation = util::isolate(false);
    let first = util::echo_builder(Endpoint::Udp("127.0.0.1:0".parse().unwrap()))
        .bind()
        .unwrap();
    let endpoint = first.local_endpoint().clone();
    match util::echo_builder(endpoint.clone()).bind() {
        Err(Error::Bind { source, .. }) => assert_eq!(source.kind(), io::ErrorKind::AddrInUse),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a second UDP server bound {endpoint} while the first was live"),
    }
    first.close().unwrap();
}

/// A handler that shares state between connections (a broadcast group) is refused under
/// fork at bind time, and accepted under every in-process strategy.
#[test]
fn shared_state_is_refused_under_fork_only() {
    let build = |strategy| {
        Server::builder("127.0.0.1:0")
            .strategy(strategy)
            .session(|_: &sockserv::PeerAddr| Echo)
            .needs_shared_state()
            .bind()
    };
    match build(Strategy::Fork { max_children: 2 }) {
        Err(e @ Error::Unsupported(Unsupported::SharedStateUnderFork { .. })) => {
            let message = e.to_string();
            assert!(message.contains("fork"), "{message}");
            assert!(message.contains("share no memory"), "{message}");
        }
        Err(e) => panic!("expected Unsupported, got {e}"),
        Ok(_) => panic!("fork with shared state was accepted"),
    }
    for strategy in [
        Strategy::Sequential,
        Strategy::Threads,
        Strategy::Pool { workers: 2 },
        Strategy::Events { loops: 1 },
    ] {
        let server = build(strategy).unwrap_or_else(|e| panic!("{strategy}: {e}"));
        server.close().unwrap();
    }
}

struct Echo;

impl sockserv::Session for Echo {
    fn on_data(&mut self, data: &[u8], out: &mut sockserv::Output) {
        out.write(data);
    }
}

//! CPython's `SocketServerTest` #1–#12: one echo body over every strategy × transport,
//! the event loops included (with the echo written as a Session).
//!
//! Each run: bind on a fresh endpoint, check the reported endpoint is the socket's own,
//! serve in a thread, three sequential clients send `hello world\n` and get it back,
//! shutdown, join, close. Afterwards nothing listens; under fork, a child the test
//! started itself is still the test's to reap (exit 72), and no child is left a zombie.

mod util;

use std::net::TcpListener;
use std::os::fd::AsFd;
use std::os::unix::net::UnixListener;
use std::process::Command;
use std::time::Duration;

use sockserv::{Endpoint, Server, Strategy};
use util::{Serving, Transport};

fn assert_endpoint_is_the_sockets(server: &Server, asked: &Endpoint) {
    let reported = server.local_endpoint().clone();
    let fd = server.as_fd().try_clone_to_owned().expect("dup");
    match (asked, &reported) {
        (Endpoint::Tcp(want), Endpoint::Tcp(got)) => {
            assert_eq!(got.ip(), want.ip());
            assert_ne!(got.port(), 0, "port 0 must be reported as the real port");
            assert_eq!(*got, TcpListener::from(fd).local_addr().unwrap());
        }
        (Endpoint::Udp(want), Endpoint::Udp(got)) => {
            assert_eq!(got.ip(), want.ip());
            assert_ne!(got.port(), 0);
            assert_eq!(
                *got,
                std::net::UdpSocket::from(fd).local_addr().unwrap(),
                "UDP endpoint"
            );
        }
        (Endpoint::Unix(want), Endpoint::Unix(got))
        | (Endpoint::UnixDatagram(want), Endpoint::UnixDatagram(got)) => {
            assert_eq!(got, want);
            let addr = UnixListener::from(fd).local_addr().unwrap();
            assert_eq!(addr.as_pathname(), Some(want.as_path()));
        }
        _ => panic!("endpoint kind changed: asked {asked}, got {reported}"),
    }
}

fn echo_three_clients(strategy: Strategy, transport: Transport) {
    if transport == Transport::Tcp6 && !util::ipv6_available() {
        return;
    }
    let forks = matches!(strategy, Strategy::Fork { .. });
    let _isolation = util::isolate(forks);
    let _dog = util::watchdog("echo matrix run", Duration::from_secs(20));
    let dir = util::temp_dir();
    let errors = dir.path().join("errors.log");

    // Issue 1540386: the forking server must not reap a child it did not create.
    let mut unrelated = forks.then(|| {
        Command::new("sh")
            .args(["-c", "exit 72"])
            .spawn()
            .expect("sh")
    });

    let asked = transport.endpoint(dir.path());
    let server = util::echo_builder_under(asked.clone(), strategy)
        .on_error(util::log_errors_to(errors.clone()))
        .bind()
        .unwrap_or_else(|e| panic!("bind {asked}: {e}"));
    assert_endpoint_is_the_sockets(&server, &asked);
    let serving = Serving::start(server);
    let endpoint = serving.endpoint.clone();

    for i in 0..3 {
        let reply = util::hello(&endpoint, dir.path())
            .unwrap_or_else(|e| panic!("client {i} on {endpoint}: {e}"));
        assert_eq!(reply, util::HELLO, "client {i} on {endpoint}");
    }

    let server = serving.stop();
    let report = server.close().expect("close");
    assert_eq!(report.left, 0, "{report:?}");
    assert_eq!(util::read_log(&errors), "", "the error hook was called");
    util::assert_refused(&endpoint);
    if let Some(path) = endpoint.path() {
        assert!(
            !path.exists(),
            "socket file left behind: {}",
            path.display()
        );
    }

    if let Some(child) = &mut unrelated {
        let status = child
            .wait()
            .expect("the unrelated child was reaped by the server");
        assert_eq!(status.code(), Some(72));
        assert_eq!(
            util::zombie_children(),
            Vec::<u32>::new(),
            "zombie children"
        );
    }
}

macro_rules! matrix {
    ($($name:ident: $strategy:expr, $transport:ident;)*) => {
        $(
            #[test]
            fn $name() {
                echo_three_clients($strategy, Transport::$transport);
            }
        )*
    };
}

const POOL: Strategy = Strategy::Pool { workers: 4 };
const FORK: Strategy = Strategy::Fork { max_children: 4 };
const EVENTS: Strategy = Strategy::Events { loops: 2 };

matrix! {
    // #1, #4, #7, #10 (and IPv6): the synchronous servers.
    sequential_tcp4: Strategy::Sequential, Tcp4;
    sequential_tcp6: Strategy::Sequential, Tcp6;
    sequential_udp: Strategy::Sequential, Udp;
    sequential_unix: Strategy::Sequential, Unix;
    sequential_unixgram: Strategy::Sequential, UnixGram;
    // #2, #5, #8, #11: ThreadingMixIn.
    threads_tcp4: Strategy::Threads, Tcp4;
    threads_tcp6: Strategy::Threads, Tcp6;
    threads_udp: Strategy::Threads, Udp;
    threads_unix: Strategy::Threads, Unix;
    threads_unixgram: Strategy::Threads, UnixGram;
    // A fixed pool (no CPython counterpart).
    pool_tcp4: POOL, Tcp4;
    pool_tcp6: POOL, Tcp6;
    pool_udp: POOL, Udp;
    pool_unix: POOL, Unix;
    pool_unixgram: POOL, UnixGram;
    // #3, #6, #9, #12: ForkingMixIn, with the unrelated child.
    fork_tcp4: FORK, Tcp4;
    fork_tcp6: FORK, Tcp6;
    fork_udp: FORK, Udp;
    fork_unix: FORK, Unix;
    fork_unixgram: FORK, UnixGram;
    // The event loops (no CPython counterpart; asyncio is its nearest): a Session.
    events_tcp4: EVENTS, Tcp4;
    events_tcp6: EVENTS, Tcp6;
    events_udp: EVENTS, Udp;
    events_unix: EVENTS, Unix;
    events_unixgram: EVENTS, UnixGram;
}

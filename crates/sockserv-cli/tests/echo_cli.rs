//! `sockserv echo` end to end: the real binary, real sockets, real signals.

mod util;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use sockserv::Endpoint;
use util::{datagram_round_trip, payload, run, Client, Server, MODES, WAIT};

/// Every mode, every transport, all four endpoints in one process: 100 KB echoed through
/// a half-close on the streams, a datagram echoed on the others; then SIGTERM ends it
/// with status 0 and removes both Unix socket files.
#[test]
fn every_mode_echoes_on_every_transport_then_sigterm_exits_cleanly() {
    for mode in MODES {
        let dir = tempfile::tempdir().unwrap();
        let unix = dir.path().join("echo.sock");
        let unixgram = dir.path().join("echo-dgram.sock");
        let unix_url = format!("unix:{}", unix.display());
        let unixgram_url = format!("unixgram:{}", unixgram.display());
        let mut server = Server::start(
            &[
                "echo",
                "--mode",
                mode,
                "--listen",
                "tcp://127.0.0.1:0",
                "--listen",
                "udp://127.0.0.1:0",
                "--listen",
                &unix_url,
                "--listen",
                &unixgram_url,
            ],
            4,
        );
        let schemes: Vec<_> = server.endpoints.iter().map(Endpoint::scheme).collect();
        assert_eq!(schemes, ["tcp", "udp", "unix", "unixgram"], "mode {mode}");

        let data = payload(100 * 1024);
        for endpoint in &server.endpoints {
            if endpoint.is_datagram() {
                let reply = datagram_round_trip(endpoint, dir.path(), b"hello datagram");
                assert_eq!(reply, b"hello datagram", "mode {mode}, {endpoint}");
            } else {
                // Twice: the server is still there after the first client left.
                for _ in 0..2 {
                    let echoed = Client::connect(endpoint).echo_half_close(data.clone());
                    assert_eq!(echoed.len(), data.len(), "mode {mode}, {endpoint}");
                    assert!(echoed == data, "mode {mode}, {endpoint}: echo differs");
                }
            }
        }
        assert!(unix.exists() && unixgram.exists());

        server.signal("TERM");
        let status = server.wait(WAIT);
        assert!(status.success(), "mode {mode}: exit status {status}");
        assert!(
            !unix.exists(),
            "mode {mode}: {} left behind",
            unix.display()
        );
        assert!(
            !unixgram.exists(),
            "mode {mode}: {} left behind",
            unixgram.display()
        );
    }
}

/// Several clients at once: the concurrent modes serve a second client while the first
/// stays connected.
#[test]
fn concurrent_modes_serve_a_second_client_while_the_first_is_connected() {
    for mode in ["threads", "pool:4", "fork:4", "events:2"] {
        let server = Server::start_mode("echo", mode, &[]);
        let endpoint = &server.endpoints[0];
        let mut first = Client::connect(endpoint);
        assert_eq!(first.round_trip(b"first\n"), b"first\n", "mode {mode}");
        let mut second = Client::connect(endpoint);
        assert_eq!(second.round_trip(b"second\n"), b"second\n", "mode {mode}");
        assert_eq!(first.round_trip(b"again\n"), b"again\n", "mode {mode}");
    }
}

/// The notes' observation: under `sequential` a second client waits until the first
/// one leaves, then it is served.
#[test]
fn sequential_serves_one_client_at_a_time() {
    let server = Server::start_mode("echo", "sequential", &[]);
    let endpoint = &server.endpoints[0];
    let mut first = Client::connect(endpoint);
    assert_eq!(first.round_trip(b"first\n"), b"first\n");

    let mut second = Client::connect(endpoint); // sits in the listen backlog
    second.write_all(b"second\n").unwrap();
    second.assert_nothing_for(
        Duration::from_millis(300),
        "the second client must not be served while the first is connected",
    );

    drop(first);
    let mut reply = [0; 7];
    second.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"second\n");
}

/// `--max-conns N`: the N+1th client is not refused; it waits in the backlog, unanswered,
/// and is served as soon as one of the first N leaves — in every mode that takes it.
#[test]
fn max_conns_makes_extra_clients_wait_then_serves_them() {
    for mode in ["threads", "pool:4", "fork:4", "events:1", "events:2"] {
        let server = Server::start_mode("echo", mode, &["--max-conns", "2"]);
        let endpoint = &server.endpoints[0];
        let mut first = Client::connect(endpoint);
        let mut second = Client::connect(endpoint);
        assert_eq!(first.round_trip(b"one\n"), b"one\n", "mode {mode}");
        assert_eq!(second.round_trip(b"two\n"), b"two\n", "mode {mode}");

        let mut third = Client::connect(endpoint); // connects: the kernel's backlog holds it
        third.write_all(b"three\n").unwrap();
        third.assert_nothing_for(
            Duration::from_millis(300),
            &format!("mode {mode}: a third client must wait while two are served"),
        );

        drop(first);
        let mut reply = [0; 6];
        third.read_exact(&mut reply).unwrap();
        assert_eq!(&reply, b"three\n", "mode {mode}");
        assert_eq!(second.round_trip(b"still\n"), b"still\n", "mode {mode}");
    }
}

/// Port 0 asks the OS for a port; the `listening on` line reports the real one, and it
/// is the one that answers.
#[test]
fn port_zero_is_reported_with_the_real_port() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&["echo", "-l", "127.0.0.1:0", "-l", "udp://127.0.0.1:0"], 2);
    let tcp = &server.endpoints[0];
    let udp = &server.endpoints[1];
    assert_ne!(tcp.socket_addr().unwrap().port(), 0, "{tcp}");
    assert_ne!(udp.socket_addr().unwrap().port(), 0, "{udp}");
    assert_eq!(
        Client::connect(tcp).echo_half_close(b"ping".to_vec()),
        b"ping"
    );
    assert_eq!(datagram_round_trip(udp, dir.path(), b"ping"), b"ping");
}

/// Sends to the echo without reading until the server stops reading: it owes this client
/// an echo the client does not take, so a drain has to wait for it (an idle echo
/// connection closes at once when the drain begins). The server has stopped once a
/// write makes no progress for a whole second (a partial write returns at once).
fn clog(client: &Client) {
    let tcp = client.tcp().expect("a TCP client");
    tcp.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    let started = Instant::now();
    loop {
        match (&*tcp).write(&chunk) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => panic!("clogging the echo: {e}"),
        }
        assert!(
            started.elapsed() < WAIT * 4,
            "the echo never stopped reading"
        );
    }
}

/// The first SIGINT starts the drain, which waits for a client still owed its echo; a
/// second SIGINT ends the process at once instead of waiting out the drain timeout.
#[test]
fn second_sigint_during_drain_exits_at_once() {
    let mut server = Server::start_mode("echo", "threads", &["--drain-timeout", "60s"]);
    let mut client = Client::connect(&server.endpoints[0]);
    // The echo proves the connection is being served, so the drain has to wait for it.
    assert_eq!(client.round_trip(b"hold\n"), b"hold\n");
    clog(&client);

    server.signal("INT");
    server.wait_for_line("shutting down");
    assert!(
        !server.has_exited(),
        "the drain must wait for the connected client"
    );

    server.signal("INT");
    // Exited within WAIT (20 s), well before the 60 s drain would have ended.
    let status = server.wait(WAIT);
    assert!(!status.success(), "an interrupted drain is not a success");
    drop(client);
}

/// A client still owed its echo when the drain timeout expires is cut off; the process
/// still exits 0 and says so.
#[test]
fn drain_timeout_cuts_off_a_client_that_does_not_read() {
    let mut server = Server::start_mode("echo", "pool:2", &["--drain-timeout", "200ms"]);
    let mut client = Client::connect(&server.endpoints[0]);
    assert_eq!(client.round_trip(b"hold\n"), b"hold\n");
    clog(&client);
    server.signal("TERM");
    let status = server.wait(WAIT);
    assert!(status.success(), "exit status {status}");
    let report = server.wait_for_line("cut off after the drain timeout");
    assert!(
        report.ends_with(": 0 client(s) finished, 1 cut off after the drain timeout"),
        "{report}"
    );
}

/// Whether a TCP socket of this network namespace listens on `port` (`/proc/net/tcp`:
/// local address `ADDR:PORT` in hex, state `0A`).
fn listening_on(port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let local = format!(":{port:04X}");
    table.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.len() > 3 && fields[1].ends_with(&local) && fields[3] == "0A"
    })
}

/// The drain report's numbers: of three clients connected at SIGTERM, two that leave
/// (or are closed as idle) during the drain are "finished", the one still owed its echo
/// at the drain timeout is "cut off" — in every mode that serves clients at once.
#[test]
fn drain_report_counts_finished_and_cut_off_clients() {
    for mode in ["threads", "pool:4", "fork:4", "events:2"] {
        let mut server = Server::start_mode("echo", mode, &["--drain-timeout", "3s"]);
        let clients: Vec<Client> = (0..3)
            .map(|i| {
                let mut client = Client::connect(&server.endpoints[0]);
                let line = format!("hold {i}\n");
                assert_eq!(client.round_trip(line.as_bytes()), line.as_bytes());
                client
            })
            .collect();
        // The third is owed an echo it does not read: the drain has to wait for it (idle
        // echo connections close as the drain begins).
        clog(&clients[2]);
        server.signal("TERM");
        server.wait_for_line("shutting down");
        // The listener is closed before close() counts the requests still running. Seen
        // in /proc, not by connecting: a probe accepted meanwhile would be a client too.
        let port = server.tcp_addr().port();
        testkit::wait_until(WAIT, "the listener closed", || {
            (!listening_on(port), format!("port {port} still listening"))
        });
        let mut clients = clients.into_iter();
        for leaving in clients.by_ref().take(2) {
            assert_eq!(leaving.half_close_and_read_rest(), b"", "{mode}");
        }
        let status = server.wait(WAIT);
        assert!(status.success(), "{mode}: exit status {status}");
        let report = server.wait_for_line("cut off after the drain timeout");
        assert!(
            report.ends_with(": 2 client(s) finished, 1 cut off after the drain timeout"),
            "{mode}: {report}"
        );
        drop(clients);
    }
}

/// SIGTERM with idle echo connections (100; 20 processes under fork, the one being served
/// under sequential): each closes as the drain begins, so the process exits at once (the
/// bound is a "did not hang" bound, far below the 60 s drain timeout), and reports them
/// finished, none cut.
#[test]
fn sigterm_with_idle_echo_connections_exits_at_once() {
    for (mode, idle) in [
        ("threads", 100),
        ("events:2", 100),
        ("fork:32", 20),
        ("sequential", 1),
    ] {
        let mut server = Server::start_mode("echo", mode, &["--drain-timeout", "60s"]);
        let mut clients: Vec<Client> = (0..idle)
            .map(|_| Client::connect(&server.endpoints[0]))
            .collect();
        for client in &mut clients {
            // Echoed: being served, not waiting in the backlog.
            assert_eq!(client.round_trip(b"hi\n"), b"hi\n", "{mode}");
        }
        let start = Instant::now();
        server.signal("TERM");
        let status = server.wait(WAIT);
        let took = start.elapsed();
        assert!(status.success(), "{mode}: exit status {status}");
        assert!(took < WAIT, "{mode}: exit took {took:?}");
        server.wait_for_line(&format!("{idle} client(s) finished, 0 cut off"));
        for client in &mut clients {
            client.set_timeout(Some(WAIT));
            let mut rest = Vec::new();
            let _ = client.read_to_end(&mut rest);
            assert!(rest.is_empty(), "{mode}: {rest:?}");
        }
    }
}

/// Bad flags end the process with a non-zero status and an `error:` line naming the
/// offending value.
#[test]
fn bad_flags_are_refused_with_one_error_line() {
    let cases: [(&[&str], &str); 5] = [
        (&["echo", "--mode", "bogus"], "bogus"),
        (&["echo", "--high-water", "lots"], "lots"),
        (&["echo", "--listen", "http://x"], "http://x"),
        (&["echo", "--mode", "pool:0"], "pool:0"),
        (&["echo", "--drain-timeout", "5y"], "5y"),
    ];
    for (args, culprit) in cases {
        let out = run(args);
        assert!(!out.status.success(), "{args:?} must fail");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let errors: Vec<_> = stderr.lines().filter(|l| l.contains("error")).collect();
        assert_eq!(errors.len(), 1, "{args:?}: one error line, got {stderr:?}");
        assert!(
            errors[0].contains(culprit),
            "{args:?}: the error names {culprit:?}: {stderr:?}"
        );
    }
}

/// A port in use: non-zero status, one line naming the endpoint and the OS error once.
#[test]
fn address_in_use_is_one_line_naming_the_endpoint_and_the_os_error_once() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("tcp://{}", taken.local_addr().unwrap());
    let out = run(&["echo", "-l", &url]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<_> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {stderr:?}");
    assert!(lines[0].contains(&url), "names {url}: {stderr:?}");
    assert!(lines[0].contains("in use"), "says why: {stderr:?}");
    assert_eq!(
        lines[0].matches("os error").count(),
        1,
        "the OS error once: {stderr:?}"
    );
}

/// A Unix path served by another process: the second server fails naming the path and
/// leaves the first one's socket file alone; an endpoint the failed process had already
/// bound is released (its file removed).
#[test]
fn unix_path_in_use_fails_without_touching_the_live_socket_file() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live.sock");
    let other = dir.path().join("other.sock");
    let live_url = format!("unix:{}", live.display());
    let other_url = format!("unix:{}", other.display());
    let first = Server::start(&["echo", "-l", &live_url], 1);

    let out = run(&["echo", "-l", &other_url, "-l", &live_url]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&live_url), "names {live_url}: {stderr:?}");
    assert!(live.exists(), "the live server's socket file is kept");
    assert!(!other.exists(), "the failed process removed what it bound");

    let echoed = Client::connect(&first.endpoints[0]).echo_half_close(b"still here".to_vec());
    assert_eq!(echoed, b"still here");
}

/// `sockserv echo --help` documents every mode.
#[test]
fn echo_help_mentions_every_mode() {
    let out = run(&["echo", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for mode in [
        "sequential",
        "threads",
        "pool",
        "fork",
        "events",
        "--drain-timeout",
    ] {
        assert!(help.contains(mode), "--help mentions {mode}: {help}");
    }
}

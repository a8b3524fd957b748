//! The examples run: the built example binaries are started with a bound on their run
//! time, served, stopped (by themselves, or with a signal) and their output is checked.

mod example_support;

use std::collections::HashSet;
use std::io::Write;
use std::process::Command;

use example_support::{example, Running, LIMIT};
use sockserv::Endpoint;
use testkit::{lines_in_background, read_all_in_background, wait_for_exit, Client};

/// Runs an example to the end and returns its stdout; it must exit 0 within [`LIMIT`].
fn run_to_end(command: &mut Command) -> String {
    let mut running = Running(command.spawn().expect("spawn the example"));
    // Both pipes read on threads, so a chatty example cannot block on a full pipe.
    let out = read_all_in_background(running.0.stdout.take().unwrap());
    let err = read_all_in_background(running.0.stderr.take().unwrap());
    let status = wait_for_exit(&mut running.0, LIMIT);
    let out = String::from_utf8(out.join().unwrap()).expect("UTF-8 stdout");
    let err = String::from_utf8_lossy(&err.join().unwrap()).into_owned();
    assert!(
        status.success(),
        "exit status {status}\nstdout:\n{out}\nstderr:\n{err}"
    );
    out
}

#[test]
fn background_thread_serves_three_clients_and_shuts_down() {
    let out = run_to_end(&mut example("background_thread"));
    for i in 0..3 {
        assert!(out.contains(&format!("reply {i}: HELLO {i}\n")), "{out}");
    }
    assert!(out.contains("closed:"), "{out}");
}

#[test]
fn udp_echo_replies_upper_case() {
    let out = run_to_end(&mut example("udp_echo"));
    assert!(out.contains(": HELLO\n"), "{out}");
    assert!(out.contains(": DATAGRAM\n"), "{out}");
    assert!(!out.contains("cut to max_packet_size"), "{out}");
}

#[test]
fn threading_server_serves_each_client_on_its_own_thread() {
    let out = run_to_end(example("threading_server").arg("--once"));
    let threads: HashSet<&str> = out
        .lines()
        .filter_map(|l| l.split_once(" served by thread ").map(|(_, id)| id))
        .collect();
    assert_eq!(threads.len(), 3, "three distinct threads: {out}");
    for i in 0..3 {
        assert!(
            out.contains(&format!("client {i} got: hello from client {i}\n")),
            "{out}"
        );
    }
}

#[test]
fn handler_once_serves_one_connection_with_setup_handle_finish() {
    let mut running = Running(
        example("handler")
            .arg("--once")
            .spawn()
            .expect("spawn the example"),
    );
    let lines = lines_in_background(running.0.stdout.take().unwrap());
    let first = lines.recv_timeout(LIMIT).expect("a `listening on` line");
    let addr = first
        .strip_prefix("listening on tcp://")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
    let endpoint = Endpoint::Tcp(addr.parse().expect("an address"));
    let echoed = Client::connect(&endpoint).echo_half_close(b"one\ntwo\n".to_vec());
    assert_eq!(echoed, b"one\ntwo\n");

    assert!(wait_for_exit(&mut running.0, LIMIT).success());
    let rest: Vec<String> = lines.iter().collect(); // the pipe is closed: no wait
    let expect = [
        "setup: connection #1 from",
        "handle: echoed 2 line(s)",
        "finish:",
    ];
    assert_eq!(rest.len(), expect.len(), "{rest:?}");
    for (line, prefix) in rest.iter().zip(expect) {
        assert!(
            line.starts_with(prefix),
            "{line:?} should start with {prefix:?}"
        );
    }
}

/// Sends one line and reads the one-line answer.
fn ask(client: &mut Client, line: &str) -> String {
    client.write_all(line.as_bytes()).unwrap();
    String::from_utf8(client.read_line().unwrap()).unwrap()
}

/// Three clients at once set, read and delete their own keys and see each other's.
fn kv_conversation(endpoint: &Endpoint) {
    let clients: Vec<_> = (0..3)
        .map(|i| {
            let endpoint = endpoint.clone();
            std::thread::spawn(move || {
                let mut c = Client::connect(&endpoint);
                let mut ask = |line: String| ask(&mut c, &line);
                assert_eq!(ask(format!("SET k{i} v {i}\n")), "OK\n");
                assert_eq!(ask(format!("SET k{i} value {i}\n")), "OK replaced\n");
                assert_eq!(ask(format!("GET k{i}\n")), format!("value {i}\n"));
                assert_eq!(ask(format!("GET none{i}\n")), "(nil)\n");
                assert!(ask("FLY me\n".into()).starts_with("ERR "));
                assert_eq!(ask(format!("SET shared{i} x\n")), "OK\n");
                assert_eq!(ask(format!("DEL k{i}\n")), "1\n");
                assert_eq!(ask(format!("DEL k{i}\n")), "0\n");
            })
        })
        .collect();
    for client in clients {
        client.join().expect("a client's conversation");
    }
    let mut c = Client::connect(endpoint);
    for i in 0..3 {
        assert_eq!(ask(&mut c, &format!("GET shared{i}\n")), "x\n");
    }
}

#[test]
fn kv_unix_serves_three_clients_stops_on_ctrl_c_and_replaces_a_crashed_socket() {
    let dir = tempfile::Builder::new()
        .prefix("kv")
        .tempdir_in("/tmp")
        .unwrap();
    let path = dir.path().join("kv.sock");
    let start = || example_support::Server::start(example("kv_unix").arg(&path));

    let server = start();
    kv_conversation(&server.endpoint);
    // A line past the bound ends that connection (nothing is buffered whole).
    let mut long = Client::connect(&server.endpoint);
    long.write_all(&vec![b'x'; 64 * 1024]).unwrap();
    assert_eq!(
        long.half_close_and_read_rest(),
        b"",
        "closed without an answer"
    );
    server.signal("INT");
    let (status, rest) = server.wait();
    assert!(status.success(), "{status}: {rest:?}");
    // The long line's worker may still be between closing its socket (what the client
    // saw) and counting itself done when the signal comes: then it counts as finished
    // during the close. Nothing is cut either way.
    assert!(
        rest == ["stopped: 0 finished, 0 cut"] || rest == ["stopped: 1 finished, 0 cut"],
        "{rest:?}"
    );
    assert!(!path.exists(), "the socket file is removed on Ctrl-C");

    // A crash leaves the file behind; the next start replaces it.
    let crashed = start();
    crashed.signal("KILL");
    let _ = crashed.wait();
    assert!(path.exists(), "kill -9 leaves the socket file");
    let again = start();
    assert_eq!(
        ask(&mut Client::connect(&again.endpoint), "GET a\n"),
        "(nil)\n"
    );
    again.signal("TERM");
    assert!(again.wait().0.success());
    assert!(!path.exists());
}

#[test]
fn kv_session_answers_over_long_lines_and_stops_on_sigterm() {
    let server = example_support::Server::start(example("kv_session").arg("tcp://127.0.0.1:0"));
    kv_conversation(&server.endpoint);
    let mut c = Client::connect(&server.endpoint);
    let mut long = vec![b'x'; 64 * 1024];
    long.push(b'\n');
    c.write_all(&long).unwrap();
    assert!(
        c.read_line().unwrap().starts_with(b"ERR "),
        "answered, not closed"
    );
    assert_eq!(
        ask(&mut c, "GET shared1\n"),
        "x\n",
        "and the connection goes on"
    );
    drop(c);
    server.signal("TERM");
    let (status, rest) = server.wait();
    assert!(status.success(), "{status}: {rest:?}");
}

#[test]
fn kv_unix_drains_on_ctrl_c_and_a_second_ctrl_c_ends_it_at_once() {
    let dir = tempfile::Builder::new()
        .prefix("kv")
        .tempdir_in("/tmp")
        .unwrap();
    let path = dir.path().join("kv.sock");
    let server = example_support::Server::start(example("kv_unix").arg(&path));
    let mut idle = Client::connect(&server.endpoint);
    assert_eq!(ask(&mut idle, "GET a\n"), "(nil)\n");
    let started = std::time::Instant::now();
    server.signal("INT");
    // The drain has begun once the listener (and its file) is gone; `idle` holds it.
    while path.exists() {
        assert!(started.elapsed() < LIMIT, "the drain never began");
        std::thread::yield_now();
    }
    server.signal("INT");
    let (status, _) = server.wait();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(2),
        "ended by the second SIGINT: {status}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "without waiting for the 5 s drain"
    );
}

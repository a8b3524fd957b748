//! The examples run and end by themselves: the built example binaries are started with a
//! bound on their run time and their output is checked.
//!
//! `cargo test` builds the examples into `target/<profile>/examples/` before it runs the
//! tests; this file finds them next to its own binary (`target/<profile>/deps/`).

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sockserv::Endpoint;
use testkit::{lines_in_background, read_all_in_background, wait_for_exit, Client};

/// How long an example may take; they finish in milliseconds.
const LIMIT: Duration = Duration::from_secs(30);

fn example(name: &str) -> Command {
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir: PathBuf = exe
        .parent() // deps/
        .and_then(|deps| deps.parent()) // target/<profile>/
        .expect("the test binary lives in target/<profile>/deps")
        .join("examples");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run the tests with `cargo test` (which builds the examples)",
        path.display()
    );
    let mut command = Command::new(path);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Kills the example if the test fails before it exits.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

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

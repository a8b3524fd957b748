//! Handing listening sockets to another program: `ListenerHandle` copies, `pass_fds`, and
//! what a hand-over leaves behind (`Server::keep_socket_file`, `adopt_socket_file`).

use std::io::Read;
use std::net::TcpListener;
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Command, Stdio};

use sockserv::transport::Listener;
use sockserv::{Conn, Server};

/// Accepts one connection on each descriptor from 3 on and sends it that number.
const CHILD: &str = r#"
import socket, sys
for fd in range(3, 3 + int(sys.argv[1])):
    s = socket.socket(fileno=fd)
    c, _ = s.accept()
    c.sendall(str(fd).encode())
    c.close()
"#;

#[test]
fn passed_descriptors_arrive_in_order_from_three() {
    if testkit::require_program("python3", &["-c", "pass"]).is_none() {
        return;
    }
    let (a, b) = (
        TcpListener::bind("127.0.0.1:0").unwrap(),
        TcpListener::bind("127.0.0.1:0").unwrap(),
    );
    // Passed in the other order than made: b becomes 3, a becomes 4, whatever numbers
    // they have here (one of them may well be 3 or 4 already).
    let mut command = Command::new("python3");
    command.args(["-c", CHILD, "2"]).stdin(Stdio::null());
    let fds: Vec<OwnedFd> = [&b, &a]
        .iter()
        .map(|l| l.as_fd().try_clone_to_owned().unwrap())
        .collect();
    sockserv::transport::pass_fds(&mut command, fds);
    let mut child = command.spawn().unwrap();
    drop(command);
    for (listener, expected) in [(&b, "3"), (&a, "4")] {
        let mut stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        stream.set_read_timeout(Some(testkit::WAIT)).unwrap();
        let mut got = String::new();
        stream.read_to_string(&mut got).unwrap();
        assert_eq!(got, expected);
    }
    assert!(testkit::wait_for_exit(&mut child, testkit::WAIT).success());
}

#[test]
fn a_handed_over_socket_file_stays_and_the_next_owner_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("handover.sock");
    let handler = |_: &mut Conn| Ok(());
    let mut old = Server::builder(format!("unix:{}", path.display()))
        .handler(handler)
        .bind()
        .unwrap();
    let handle = old.listener_handle();
    assert!(old.owns_socket_file() && handle.owns_socket_file());
    let passed = handle
        .try_clone_fd()
        .unwrap()
        .expect("open while the server is");
    old.keep_socket_file();
    assert!(!old.owns_socket_file() && !handle.owns_socket_file());
    old.close().unwrap();
    assert!(path.exists(), "kept for the process that serves it next");

    let mut new = Server::from_listener(Listener::from_inherited_fd(passed).unwrap())
        .handler(handler)
        .bind()
        .unwrap();
    assert!(!new.owns_socket_file(), "inherited: not its file yet");
    std::os::unix::net::UnixStream::connect(&path).expect("still served by path");
    new.adopt_socket_file();
    assert!(new.owns_socket_file() && new.listener_handle().owns_socket_file());
    new.close().unwrap();
    assert!(!path.exists(), "removed by its new owner");
}

/// Regression: the upgrade once kept a copy of every listener for the process's life, so
/// SIGTERM no longer closed the port (connects kept succeeding into a dead backlog).
#[test]
fn a_listener_handle_keeps_no_port_open_after_close() {
    let server = Server::builder("tcp://127.0.0.1:0")
        .handler(|_: &mut Conn| Ok(()))
        .bind()
        .unwrap();
    let addr = server.local_endpoint().socket_addr().unwrap();
    let handle = server.listener_handle();
    drop(
        handle
            .try_clone_fd()
            .unwrap()
            .expect("a copy while it serves"),
    );
    server.close().unwrap();
    assert!(
        handle.try_clone_fd().unwrap().is_none(),
        "no copy once closed"
    );
    let err = std::net::TcpStream::connect(addr).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
}

//! `sockserv client` end to end, against the real `sockserv echo` and `sockserv chat`.

mod util;

use std::io::Write;
use std::net::{TcpListener, UdpSocket};
use std::process::Stdio;
use std::time::{Duration, Instant};

use util::{
    payload, read_all_in_background, run_with_stdin, sockserv, wait_for_exit, Server, WAIT,
};

/// Stream endpoints: stdin goes out byte for byte, the echo comes back to stdout whole;
/// the client half-closes at the end of input, the echo server then closes, exit 0.
#[test]
fn stream_input_comes_back_identical_over_tcp_and_unix() {
    let dir = tempfile::tempdir().unwrap();
    let unix_url = format!("unix:{}", dir.path().join("echo.sock").display());
    let server = Server::start(&["echo", "-l", "tcp://127.0.0.1:0", "-l", &unix_url], 2);
    let mut input = b"first line\nsecond line\n".to_vec();
    input.extend(payload(256 * 1024)); // binary, and more than a pipe buffer holds
    input.extend_from_slice(b"no newline at the end");
    for endpoint in &server.endpoints {
        let url = endpoint.to_string();
        let out = run_with_stdin(&["client", &url], input.clone());
        assert!(
            out.status.success(),
            "{url}: exit status {}; stderr {:?}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout.len(), input.len(), "{url}");
        assert!(out.stdout == input, "{url}: the echo differs");
        assert!(
            out.stderr.is_empty(),
            "{url}: {:?}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Datagram endpoints: each input line is one datagram; the echoed replies are printed;
/// the client exits once `--wait` has passed after the end of input.
#[test]
fn datagram_lines_are_echoed_over_udp_and_unixgram() {
    let dir = tempfile::tempdir().unwrap();
    let unixgram_url = format!("unixgram:{}", dir.path().join("echo.sock").display());
    let server = Server::start(&["echo", "-l", "udp://127.0.0.1:0", "-l", &unixgram_url], 2);
    // Long enough for a loaded machine to deliver the echoes, short enough for the suite.
    let wait = Duration::from_secs(1);
    for endpoint in &server.endpoints {
        let url = endpoint.to_string();
        let start = Instant::now();
        let out = run_with_stdin(
            &["client", "--wait", "1s", &url],
            b"one\ntwo\nthree\n".to_vec(),
        );
        let took = start.elapsed();
        assert!(out.status.success(), "{url}: exit status {}", out.status);
        // Each datagram is echoed on its own, so replies may come in any order.
        let text = String::from_utf8(out.stdout).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort_unstable();
        assert_eq!(lines, ["one", "three", "two"], "{url}: {text:?}");
        assert!(text.ends_with('\n'), "{url}: {text:?}");
        assert!(took >= wait, "{url}: exited after {took:?}, before --wait");
    }
}

/// With a server of our own, the datagrams themselves: one per line, newline included,
/// in order; the replies go to stdout.
#[test]
fn each_udp_line_is_exactly_one_datagram() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    let url = format!("udp://{}", socket.local_addr().unwrap());
    let mut child = sockserv()
        .args(["client", "--wait", "2s", &url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sockserv client");
    let stdout = read_all_in_background(child.stdout.take().unwrap());
    let stderr = read_all_in_background(child.stderr.take().unwrap());
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"alpha\n\nbeta gamma\nlast").unwrap();
    drop(stdin);

    let mut buf = [0; 1024];
    for expected in [&b"alpha\n"[..], b"\n", b"beta gamma\n", b"last\n"] {
        let (n, from) = socket.recv_from(&mut buf).expect("a datagram");
        assert_eq!(&buf[..n], expected);
        socket
            .send_to(format!("got {n}\n").as_bytes(), from)
            .unwrap();
    }
    let status = wait_for_exit(&mut child, WAIT);
    assert!(status.success(), "exit status {status}");
    let out = String::from_utf8(stdout.join().unwrap()).unwrap();
    assert_eq!(out, "got 6\ngot 1\ngot 11\ngot 5\n");
    assert!(stderr.join().unwrap().is_empty());
}

/// Nothing listening: a non-zero exit and one line naming the URL.
#[test]
fn cannot_connect_is_one_error_line_naming_the_url() {
    let dir = tempfile::tempdir().unwrap();
    // A port that was free a moment ago: nothing listens on it now.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let urls = [
        format!("tcp://127.0.0.1:{port}"),
        format!("unix:{}", dir.path().join("nobody.sock").display()),
        format!(
            "unixgram:{}",
            dir.path().join("nobody-dgram.sock").display()
        ),
    ];
    for url in urls {
        let out = run_with_stdin(&["client", &url], b"hello\n".to_vec());
        assert!(!out.status.success(), "{url}: must fail");
        assert!(out.stdout.is_empty(), "{url}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<_> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{url}: one line, got {stderr:?}");
        let prefix = format!("sockserv: error: cannot connect to {url}: ");
        assert!(lines[0].starts_with(&prefix), "{url}: {stderr:?}");
        assert!(lines[0].len() > prefix.len(), "{url}: says why: {stderr:?}");
    }
}

/// Against the chat: `/who` then end of input prints the welcome and the who line; the
/// server closes after our EOF and the client exits 0.
#[test]
fn client_against_chat_prints_welcome_and_who() {
    for mode in ["threads", "events:1"] {
        let server = Server::start_mode("chat", mode, &[]);
        let url = server.endpoints[0].to_string();
        let out = run_with_stdin(&["client", &url], b"/who\n".to_vec());
        assert!(out.status.success(), "{mode}: exit status {}", out.status);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "* welcome, you are guest1\n* online (1): guest1\n",
            "{mode}"
        );
        assert!(out.stderr.is_empty(), "{mode}");
    }
}

//! `--allow`/`--deny`, `--reuse-port` and `--proxy-protocol`/`--proxy-from` end to end:
//! the real binary, real sockets.

mod util;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use sockserv::{Endpoint, ProxyHeader};
use util::{run, Client, Server, WAIT};

/// The modes the access rules are checked under (fork too: the verify hook runs in the
/// parent there, before the fork).
const ACL_MODES: [&str; 3] = ["threads", "events:2", "fork:4"];

/// The modes the PROXY protocol is checked under: blocking workers and event loops.
const PROXY_MODES: [&str; 3] = ["threads", "events:2", "fork:4"];

/// A refused client must be closed well before this: refusal is immediate, and this is
/// below the 5 s PROXY header timeout, so a refusal cannot pass for a timeout.
const AT_ONCE: Duration = Duration::from_secs(3);

/// The v1 header of the brief: client 198.51.100.7:5555, connected to 203.0.113.1:9000.
const V1_HEADER: &[u8] = b"PROXY TCP4 198.51.100.7 203.0.113.1 5555 9000\r\n";

fn proxied(source: &str) -> ProxyHeader {
    ProxyHeader::Proxied {
        source: source.parse().unwrap(),
        destination: "203.0.113.1:9000".parse().unwrap(),
    }
}

fn tcp_addr(endpoint: &Endpoint) -> SocketAddr {
    match endpoint {
        Endpoint::Tcp(addr) => *addr,
        other => panic!("{other} is not tcp://"),
    }
}

/// Connects, sends `prefix` then a line, half-closes, and expects exactly the line back
/// (never the prefix: a PROXY header is consumed by the server).
fn assert_served(endpoint: &Endpoint, prefix: &[u8], what: &str) {
    let data = b"hello through the rules\n".to_vec();
    let mut sent = prefix.to_vec();
    sent.extend_from_slice(&data);
    let echoed = Client::connect(endpoint).echo_half_close(sent);
    assert_eq!(
        String::from_utf8_lossy(&echoed),
        String::from_utf8_lossy(&data),
        "{what}: expected exactly the data echoed"
    );
}

/// Connects, sends `sent` (it may be empty), and expects the connection to be closed by
/// the server — EOF or a reset, never an echo — within `limit`. Returns how long it took.
fn assert_closed(endpoint: &Endpoint, sent: &[u8], limit: Duration, what: &str) -> Duration {
    let started = Instant::now();
    let mut client = Client::connect(endpoint);
    client.set_timeout(Some(limit));
    if !sent.is_empty() {
        // The server may have closed already: a failed write is a refusal too.
        let _ = client.write_all(sent);
    }
    let mut buf = [0; 256];
    let outcome = client.read(&mut buf);
    let elapsed = started.elapsed();
    match outcome {
        Ok(0) => {}
        Ok(n) => panic!(
            "{what}: expected the connection closed, got {:?}",
            String::from_utf8_lossy(&buf[..n])
        ),
        Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {}
        Err(e) => {
            panic!("{what}: expected EOF or a reset within {limit:?}, got {e} after {elapsed:?}")
        }
    }
    assert!(elapsed < limit, "{what}: closed only after {elapsed:?}");
    elapsed
}

fn echo(mode: &str, extra: &[&str]) -> Server {
    let mut args = vec!["echo", "--mode", mode, "--listen", "tcp://127.0.0.1:0"];
    args.extend_from_slice(extra);
    Server::start(&args, 1)
}

/// `--deny`, `--allow`, deny over allow, and an allow that covers loopback.
#[test]
fn allow_and_deny_decide_who_is_served_in_every_mode() {
    for mode in ACL_MODES {
        let server = echo(mode, &["--deny", "127.0.0.1"]);
        let endpoint = &server.endpoints[0];
        assert_closed(endpoint, b"", AT_ONCE, &format!("{mode}: --deny 127.0.0.1"));
        assert_closed(
            endpoint,
            b"hello\n",
            AT_ONCE,
            &format!("{mode}: --deny 127.0.0.1, after sending"),
        );
        drop(server);

        let server = echo(mode, &["--allow", "10.0.0.0/8"]);
        assert_closed(
            &server.endpoints[0],
            b"hello\n",
            AT_ONCE,
            &format!("{mode}: --allow 10.0.0.0/8"),
        );
        drop(server);

        let server = echo(mode, &["--allow", "127.0.0.1", "--deny", "127.0.0.1"]);
        assert_closed(
            &server.endpoints[0],
            b"hello\n",
            AT_ONCE,
            &format!("{mode}: allow and deny the same host"),
        );
        drop(server);

        let server = echo(mode, &["--allow", "127.0.0.0/8", "--allow", "10.0.0.0/8"]);
        // Twice: a served client does not use up anything.
        for _ in 0..2 {
            assert_served(
                &server.endpoints[0],
                b"",
                &format!("{mode}: --allow 127.0.0.0/8"),
            );
        }
        // A denied network elsewhere does not touch loopback.
        let server = echo(mode, &["--deny", "192.0.2.0/24"]);
        assert_served(
            &server.endpoints[0],
            b"",
            &format!("{mode}: --deny 192.0.2.0/24"),
        );
    }
}

/// IPv6: `--deny ::1` refuses a client of `[::1]`, `--allow ::1/128` serves it.
#[test]
fn ipv6_deny_refuses_the_ipv6_loopback() {
    if let Err(e) = TcpListener::bind("[::1]:0") {
        eprintln!("skipped: cannot bind [::1]:0 here ({e}); no IPv6 loopback");
        return;
    }
    for mode in ["threads", "events:2"] {
        let server = Server::start(
            &[
                "echo",
                "-m",
                mode,
                "--listen",
                "tcp://[::1]:0",
                "--deny",
                "::1",
            ],
            1,
        );
        assert!(tcp_addr(&server.endpoints[0]).is_ipv6());
        assert_closed(
            &server.endpoints[0],
            b"hello\n",
            AT_ONCE,
            &format!("{mode}: --deny ::1"),
        );
        drop(server);
        let server = Server::start(
            &[
                "echo",
                "-m",
                mode,
                "--listen",
                "tcp://[::1]:0",
                "--allow",
                "::1/128",
                "--deny",
                "127.0.0.1",
            ],
            1,
        );
        assert_served(
            &server.endpoints[0],
            b"",
            &format!("{mode}: --allow ::1/128"),
        );
    }
}

/// A bad network: non-zero exit, and an error line that names it.
#[test]
fn a_bad_cidr_is_refused_with_one_line_naming_it() {
    for (flag, bad, why) in [
        ("--allow", "10.1.2.3/8", "host bits"),
        ("--allow", "nonsense", "not an IP address"),
        ("--deny", "10.0.0.0/33", "10.0.0.0/33"),
        ("--proxy-from", "300.1.1.1", "300.1.1.1"),
    ] {
        let mut args = vec!["echo", "--listen", "tcp://127.0.0.1:0", flag, bad];
        if flag == "--proxy-from" {
            args.push("--proxy-protocol");
        }
        let out = run(&args);
        assert!(!out.status.success(), "{flag} {bad}: exited {}", out.status);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let line = stderr
            .lines()
            .find(|l| l.contains("error"))
            .unwrap_or_else(|| panic!("{flag} {bad}: no error line in {stderr:?}"));
        assert!(
            line.contains(bad) && line.contains(flag) && line.contains(why),
            "{flag} {bad}: the error line should name the value and why: {line:?}"
        );
        assert!(
            !stderr.contains("listening on"),
            "{flag} {bad}: it must not start: {stderr:?}"
        );
    }
}

/// `--reuse-port`: a second process on the same port runs too; together they serve every
/// client, and when the first goes, the second alone keeps serving the port.
#[test]
fn reuse_port_lets_two_processes_share_a_port() {
    for mode in ["threads", "events:2"] {
        let first = echo(mode, &["--reuse-port"]);
        let port = tcp_addr(&first.endpoints[0]).port();
        let url = format!("tcp://127.0.0.1:{port}");
        let second = Server::start(&["echo", "-m", mode, "--listen", &url, "--reuse-port"], 1);
        assert_eq!(second.endpoints[0], first.endpoints[0], "{mode}");

        // Many clients at once; which process takes which is up to the kernel's hash.
        let workers: Vec<_> = (0..8)
            .map(|t| {
                let endpoint = first.endpoints[0].clone();
                thread::spawn(move || {
                    for i in 0..8 {
                        assert_served(&endpoint, b"", &format!("client {t}.{i}"));
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().expect("a client failed");
        }

        // The first one gone (killed), the second still serves the port on its own.
        drop(first);
        for i in 0..16 {
            assert_served(
                &second.endpoints[0],
                b"",
                &format!("{mode}: client {i} after the first process left"),
            );
        }
    }
}

/// Without `--reuse-port` (on either side), the second process cannot listen: it exits
/// non-zero with one line saying the address is in use.
#[test]
fn without_reuse_port_the_second_process_fails_with_in_use() {
    for (first_flags, second_flags) in [
        (&[][..], &[][..]),
        (&["--reuse-port"][..], &[][..]),
        (&[][..], &["--reuse-port"][..]),
    ] {
        let first = echo("threads", first_flags);
        let url = first.endpoints[0].to_string();
        let mut args = vec!["echo", "--listen", &url];
        args.extend_from_slice(second_flags);
        let out = run(&args);
        assert!(!out.status.success(), "{args:?}: exited {}", out.status);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<_> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: one line expected: {stderr:?}");
        assert!(
            lines[0].contains("in use") && lines[0].contains(&url),
            "{args:?}: {stderr:?}"
        );
        // The first is unaffected.
        assert_served(&first.endpoints[0], b"", "the first process");
    }
}

/// `--proxy-protocol`: v1 and v2 headers are consumed (only the data is echoed), the
/// access rules see the header's client, and garbage is refused at once.
#[test]
fn proxy_protocol_headers_are_consumed_and_the_acl_sees_the_header_client() {
    for mode in PROXY_MODES {
        let server = echo(mode, &["--proxy-protocol", "--deny", "198.51.100.7"]);
        let endpoint = &server.endpoints[0];
        let v2_denied = proxied("198.51.100.7:5555").encode_v2();
        let v2_served = proxied("198.51.100.8:5555").encode_v2();
        let v1_served = b"PROXY TCP4 198.51.100.8 203.0.113.1 5555 9000\r\n";
        assert_closed(
            endpoint,
            V1_HEADER,
            AT_ONCE,
            &format!("{mode}: v1 .7 denied"),
        );
        assert_closed(
            endpoint,
            &v2_denied,
            AT_ONCE,
            &format!("{mode}: v2 .7 denied"),
        );
        assert_served(endpoint, &v2_served, &format!("{mode}: v2 .8"));
        assert_served(endpoint, v1_served, &format!("{mode}: v1 .8"));
        // Our own address (127.0.0.1) is not denied, but only the header counts.
        let mut header_and_data = V1_HEADER.to_vec();
        header_and_data.extend_from_slice(b"data in the same packet\n");
        assert_closed(
            endpoint,
            &header_and_data,
            AT_ONCE,
            &format!("{mode}: v1 .7 with data in the same write"),
        );
        drop(server);

        let server = echo(mode, &["--proxy-protocol"]);
        let endpoint = &server.endpoints[0];
        assert_served(endpoint, V1_HEADER, &format!("{mode}: v1"));
        assert_served(
            endpoint,
            &proxied("198.51.100.7:5555").encode_v2(),
            &format!("{mode}: v2"),
        );
        let v6 = ProxyHeader::Proxied {
            source: "[2001:db8::7]:5555".parse().unwrap(),
            destination: "[2001:db8::1]:9000".parse().unwrap(),
        };
        assert_served(endpoint, &v6.encode_v1(), &format!("{mode}: v1 TCP6"));
        assert_served(endpoint, &v6.encode_v2(), &format!("{mode}: v2 TCP6"));
        // LOCAL (a balancer's health check): served, as the socket's own peer.
        assert_served(
            endpoint,
            &ProxyHeader::Local.encode_v2(),
            &format!("{mode}: v2 LOCAL"),
        );
        assert_served(
            endpoint,
            b"PROXY UNKNOWN\r\n",
            &format!("{mode}: v1 UNKNOWN"),
        );
        // The header sent a byte at a time still counts.
        {
            let mut client = Client::connect(endpoint);
            for byte in V1_HEADER {
                client.write_all(&[*byte]).unwrap();
            }
            assert_eq!(
                client.round_trip(b"slowly\n"),
                b"slowly\n",
                "{mode}: byte by byte"
            );
        }
        // Not a header: closed at once, nothing echoed.
        assert_closed(
            endpoint,
            b"GET / HTTP/1.0\r\n\r\n",
            AT_ONCE,
            &format!("{mode}: garbage instead of a header"),
        );
        assert_closed(
            endpoint,
            b"PROXY TCP4 not-an-address 203.0.113.1 5555 9000\r\n",
            AT_ONCE,
            &format!("{mode}: a broken v1 header"),
        );
        // A client that skips the header and just talks is not served either.
        assert_closed(
            endpoint,
            b"hello without a header, long enough to be judged\r\n",
            AT_ONCE,
            &format!("{mode}: data without a header"),
        );
        // The server still serves afterwards.
        assert_served(
            endpoint,
            V1_HEADER,
            &format!("{mode}: v1 after the refusals"),
        );
    }
}

/// A connection that sends nothing is closed after the 5 s header timeout (bounded at
/// 10 s here). The modes wait side by side, so this takes about 5 s, not 15.
#[test]
fn proxy_protocol_closes_a_silent_connection_after_the_header_timeout() {
    let checks: Vec<_> = PROXY_MODES
        .into_iter()
        .map(|mode| {
            thread::spawn(move || {
                let server = echo(mode, &["--proxy-protocol"]);
                let endpoint = &server.endpoints[0];
                let elapsed = assert_closed(
                    endpoint,
                    b"",
                    Duration::from_secs(10),
                    &format!("{mode}: a silent connection"),
                );
                assert!(
                    elapsed >= Duration::from_secs(4),
                    "{mode}: closed after {elapsed:?}, before the 5 s header timeout"
                );
                // Meanwhile and after, others are served.
                assert_served(endpoint, V1_HEADER, &format!("{mode}: after the timeout"));
            })
        })
        .collect();
    for check in checks {
        check.join().expect("a mode failed");
    }
}

/// The silent connection does not hold up anybody else while it waits.
#[test]
fn proxy_protocol_serves_others_while_a_connection_is_silent() {
    for mode in ["threads", "events:2"] {
        let server = echo(mode, &["--proxy-protocol"]);
        let endpoint = &server.endpoints[0];
        let _silent = Client::connect(endpoint);
        let started = Instant::now();
        assert_served(
            endpoint,
            V1_HEADER,
            &format!("{mode}: next to a silent one"),
        );
        assert!(
            started.elapsed() < AT_ONCE,
            "{mode}: held up by a silent connection"
        );
    }
}

/// `--proxy-from 10.0.0.0/8`: our loopback client is no trusted balancer, so even a
/// valid header gets it closed at once.
#[test]
fn proxy_from_refuses_untrusted_balancers_at_once() {
    for mode in PROXY_MODES {
        let server = echo(mode, &["--proxy-protocol", "--proxy-from", "10.0.0.0/8"]);
        let endpoint = &server.endpoints[0];
        assert_closed(
            endpoint,
            V1_HEADER,
            AT_ONCE,
            &format!("{mode}: v1 untrusted"),
        );
        assert_closed(
            endpoint,
            &proxied("198.51.100.7:5555").encode_v2(),
            AT_ONCE,
            &format!("{mode}: v2 untrusted"),
        );
        assert_closed(endpoint, b"", AT_ONCE, &format!("{mode}: silent untrusted"));
        drop(server);

        // Trusting loopback explicitly (and another network) serves it.
        let server = echo(
            mode,
            &[
                "--proxy-protocol",
                "--proxy-from",
                "10.0.0.0/8",
                "--proxy-from",
                "127.0.0.0/8",
            ],
        );
        assert_served(&server.endpoints[0], V1_HEADER, &format!("{mode}: trusted"));
    }
}

/// `--proxy-from` without `--proxy-protocol` is a usage error, not silently ignored.
#[test]
fn proxy_from_needs_proxy_protocol() {
    let out = run(&[
        "echo",
        "--listen",
        "tcp://127.0.0.1:0",
        "--proxy-from",
        "10.0.0.0/8",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--proxy-protocol"), "{stderr:?}");
}

/// A chat member behind a balancer: one line reader on a connection that sent a header.
struct Member {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Member {
    fn join(endpoint: &Endpoint, header: &[u8]) -> Member {
        let mut writer = TcpStream::connect(tcp_addr(endpoint)).unwrap();
        writer.set_read_timeout(Some(WAIT)).unwrap();
        writer.set_write_timeout(Some(WAIT)).unwrap();
        writer.set_nodelay(true).unwrap();
        writer.write_all(header).unwrap();
        let mut member = Member {
            reader: BufReader::new(writer.try_clone().unwrap()),
            writer,
        };
        let welcome = member.line();
        assert!(welcome.starts_with("* welcome, you are "), "{welcome:?}");
        member
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("read a chat line");
        line
    }

    fn send(&mut self, line: &str) {
        self.writer
            .write_all(format!("{line}\n").as_bytes())
            .unwrap();
    }
}

/// `sockserv chat --proxy-protocol`: members behind the balancer talk to each other
/// (headers never show up as chat lines), and `--deny` applies to the header's client.
#[test]
fn chat_works_behind_the_proxy_protocol() {
    for mode in ["threads", "events:2"] {
        let server = Server::start(
            &[
                "chat",
                "-m",
                mode,
                "--listen",
                "tcp://127.0.0.1:0",
                "--proxy-protocol",
                "--deny",
                "198.51.100.66",
            ],
            1,
        );
        let endpoint = &server.endpoints[0];
        let mut alice = Member::join(endpoint, V1_HEADER);
        alice.send("/nick alice");
        let mut bob = Member::join(endpoint, &proxied("198.51.100.8:6000").encode_v2());
        bob.send("/nick bob");
        // Alice hears bob join and rename; then his words.
        let mut heard = Vec::new();
        bob.send("hello from behind the balancer");
        loop {
            let line = alice.line();
            assert!(
                !line.is_empty(),
                "{mode}: alice's connection closed; heard {heard:?}"
            );
            assert!(!line.contains("PROXY"), "{mode}: a header leaked: {line:?}");
            if line.contains("hello from behind the balancer") {
                assert!(line.contains("bob"), "{mode}: {line:?}");
                break;
            }
            heard.push(line);
        }
        alice.send("hi bob");
        loop {
            let line = bob.line();
            assert!(!line.is_empty(), "{mode}: bob's connection closed");
            if line.contains("hi bob") {
                assert!(line.contains("alice"), "{mode}: {line:?}");
                break;
            }
        }
        // A denied client (by its header) never joins.
        assert_closed(
            endpoint,
            &proxied("198.51.100.66:1234").encode_v2(),
            AT_ONCE,
            &format!("{mode}: denied chat member"),
        );
    }
}

//! `--proxy-protocol` end to end: headers consumed, the access rules and the chat see the
//! client the header names, untrusted balancers and silent connections are closed.

mod access_support;
mod chat_support;
mod util;

use access_support::*;
use chat_support::Chat;

/// `--proxy-protocol`: v1 and v2 headers are consumed (only the data is echoed), the
/// access rules see the header's client, and garbage is refused at once.
#[test]
fn proxy_protocol_headers_are_consumed_and_the_acl_sees_the_header_client() {
    for mode in PROXY_MODES {
        let server = Server::start_mode(
            "echo",
            mode,
            &["--proxy-protocol", "--deny", "198.51.100.7"],
        );
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

        let server = Server::start_mode("echo", mode, &["--proxy-protocol"]);
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
                let server = Server::start_mode("echo", mode, &["--proxy-protocol"]);
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
        let server = Server::start_mode("echo", mode, &["--proxy-protocol"]);
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
        let server = Server::start_mode(
            "echo",
            mode,
            &["--proxy-protocol", "--proxy-from", "10.0.0.0/8"],
        );
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
        let server = Server::start_mode(
            "echo",
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

/// `sockserv chat --proxy-protocol`: members behind the balancer talk to each other
/// (headers never show up as chat lines), and `--deny` applies to the header's client.
#[test]
fn chat_works_behind_the_proxy_protocol() {
    for mode in ["threads", "events:2"] {
        let server = Server::start_mode(
            "chat",
            mode,
            &["--proxy-protocol", "--deny", "198.51.100.66"],
        );
        let endpoint = &server.endpoints[0];
        let mut alice = Chat::join_after(endpoint, V1_HEADER);
        alice.send("/nick alice");
        let mut bob = Chat::join_after(endpoint, &proxied("198.51.100.8:6000").encode_v2());
        bob.send("/nick bob");
        // Alice hears bob join and rename; then his words. (A closed connection fails
        // the read.)
        bob.send("hello from behind the balancer");
        loop {
            let line = alice.line();
            assert!(!line.contains("PROXY"), "{mode}: a header leaked: {line:?}");
            if line.contains("hello from behind the balancer") {
                assert!(line.contains("bob"), "{mode}: {line:?}");
                break;
            }
        }
        alice.send("hi bob");
        let line = bob.expect_containing("hi bob");
        assert!(line.contains("alice"), "{mode}: {line:?}");
        // A denied client (by its header) never joins.
        assert_closed(
            endpoint,
            &proxied("198.51.100.66:1234").encode_v2(),
            AT_ONCE,
            &format!("{mode}: denied chat member"),
        );
    }
}

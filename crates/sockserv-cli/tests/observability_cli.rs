//! Logs and metrics end to end: `--metrics`, `--log-format`, `-v` and `-q` on the real
//! binary.

mod chat_support;
#[path = "util/metrics.rs"]
mod metrics;
mod util;

use std::net::{SocketAddr, TcpStream};

use chat_support::Chat;
use metrics::{assert_samples, http, metrics_addr, sample, scrape};
use util::{Client, Server, WAIT};

/// The request-head limit of the metrics endpoint (`apps::metrics::MAX_HEAD`).
const MAX_HEAD: usize = 8 * 1024;

/// Starts `sockserv ARGS` with `RUST_LOG` set to `rust_log` (or unset, whatever the
/// test runner's environment says), once it prints its `listening on` line.
fn start(args: &[&str], rust_log: Option<&str>) -> Server {
    let mut command = util::sockserv();
    command.args(args);
    match rust_log {
        Some(value) => command.env("RUST_LOG", value),
        None => command.env_remove("RUST_LOG"),
    };
    Server::start_command(command, 1)
}

/// Starts `sockserv ARGS` (with `--metrics 127.0.0.1:0` among them) and returns it with
/// the metrics address from its `metrics on URL` line, printed before `listening on`.
fn start_with_metrics(args: &[&str]) -> (Server, SocketAddr) {
    let server = start(args, None);
    let addr = metrics_addr(&server);
    (server, addr)
}

/// Connects to `server`'s TCP endpoint, sends `data`, half-closes and reads the echo to
/// EOF. Returns the client's own address (the peer the server logs).
fn echo_once(server: &Server, data: &[u8]) -> SocketAddr {
    let client = Client::connect(&server.endpoints[0]);
    let peer = client.tcp().expect("a TCP endpoint").local_addr().unwrap();
    assert_eq!(client.echo_half_close(data.to_vec()), data);
    peer
}

/// Three echo connections, one sending 10 bytes: the scrape counts 3 accepted and
/// closed, 10 bytes each way, none active. The `-v` close events say when the counters
/// are final (the library counts a connection before calling the close hook). Fork is
/// left out: its children count bytes the parent never sees.
#[test]
fn echo_metrics_count_connections_and_bytes_in_every_shared_memory_mode() {
    for mode in ["sequential", "threads", "pool:4", "events:1", "events:2"] {
        let (mut server, metrics) = start_with_metrics(&[
            "echo",
            "-l",
            "tcp://127.0.0.1:0",
            "--mode",
            mode,
            "--metrics",
            "127.0.0.1:0",
            "-v",
        ]);
        echo_once(&server, b"0123456789");
        echo_once(&server, b"");
        echo_once(&server, b"");
        for _ in 0..3 {
            server.wait_for_line("connection closed");
        }
        let page = scrape(metrics);
        let endpoint = server.endpoints[0].to_string();
        let labelled = format!("sockserv_connections_total{{endpoint=\"{endpoint}\"}} 3");
        assert!(page.lines().any(|l| l == labelled), "mode {mode}: {page}");
        assert_samples(
            &page,
            &[
                ("sockserv_connections_total", 3),
                ("sockserv_connections_closed_total", 3),
                ("sockserv_connections_active", 0),
                ("sockserv_connections_rejected_total", 0),
                ("sockserv_bytes_received_total", 10),
                ("sockserv_bytes_sent_total", 10),
                ("sockserv_handler_errors_total", 0),
                ("sockserv_handler_panics_total", 0),
                ("sockserv_timeouts_total", 0),
            ],
            &format!("mode {mode}"),
        );
        assert!(page.contains("# TYPE sockserv_bytes_sent_total counter\n"));
        assert!(!page.contains("sockserv_chat"), "echo has no chat series");
        // The metrics endpoint's own connections are not counted or logged.
        server.signal("TERM");
        assert!(server.wait(WAIT).success(), "mode {mode}");
    }
}

/// Two chat members, each past its welcome line (so both have joined): the page shows
/// them as members and as active connections.
#[test]
fn chat_metrics_show_the_members() {
    let (server, metrics) =
        start_with_metrics(&["chat", "-l", "127.0.0.1:0", "--metrics", "127.0.0.1:0"]);
    // The welcome line comes once the member has joined.
    let members: Vec<Chat> = (0..2).map(|_| Chat::join(&server.endpoints[0])).collect();
    let page = scrape(metrics);
    assert!(
        page.lines().any(|l| l == "sockserv_chat_members 2"),
        "{page}"
    );
    assert!(
        page.lines().any(|l| l == "sockserv_chat_dropped_total 0"),
        "{page}"
    );
    assert!(
        page.contains("# TYPE sockserv_chat_members gauge\n"),
        "{page}"
    );
    assert_eq!(sample(&page, "sockserv_connections_active"), 2);
    drop(members);
}

/// Wrong path 404, wrong method 405, a head over the limit 431; each answer closes.
#[test]
fn metrics_endpoint_answers_404_405_and_431() {
    let (_server, metrics) =
        start_with_metrics(&["echo", "-l", "127.0.0.1:0", "--metrics", "127.0.0.1:0"]);
    let not_found = http(metrics, b"GET /other HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(
        not_found.starts_with("HTTP/1.1 404 Not Found\r\n"),
        "{not_found}"
    );
    let post = http(
        metrics,
        b"POST /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(
        post.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
        "{post}"
    );
    assert!(post.contains("\r\nAllow: GET\r\n"), "{post}");
    // One byte over the limit and no end of head: exactly what the server reads before
    // answering, so no unread bytes turn its close into a reset.
    let mut huge = b"GET /metrics HTTP/1.1\r\nHost: t\r\nX-Filler: ".to_vec();
    huge.resize(MAX_HEAD + 1, b'a');
    let too_large = http(metrics, &huge);
    assert!(
        too_large.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        "{too_large}"
    );
    assert!(
        too_large.contains("\r\nConnection: close\r\n"),
        "{too_large}"
    );
    // The endpoint still serves after all that.
    assert!(scrape(metrics).contains("sockserv_connections_total"));
}

/// `--log-format json -v`: every log line is one JSON object, and the connection's
/// close event names its peer and bytes.
#[test]
fn json_logs_have_one_object_per_line_with_the_close_event() {
    let mut server = start(
        &["--log-format", "json", "echo", "-l", "127.0.0.1:0", "-v"],
        None,
    );
    let peer = echo_once(&server, b"0123456789");
    let event = loop {
        let line = server.next_line();
        let value: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not one JSON object ({e}): {line:?}"));
        assert!(value.is_object(), "{line}");
        if value["message"] == "connection closed" {
            break value;
        }
    };
    assert_eq!(event["level"], "INFO", "{event}");
    assert_eq!(event["peer"], peer.to_string(), "{event}");
    assert_eq!(event["bytes_in"], 10, "{event}");
    assert_eq!(event["bytes_out"], 10, "{event}");
    assert_eq!(event["reason"], "closed", "{event}");
    assert!(event["duration_ms"].as_f64().is_some(), "{event}");
    assert!(
        event.get("error").is_none(),
        "no failure, no error field: {event}"
    );
    // The readiness line stays plain text.
    assert!(server
        .stderr
        .iter()
        .any(|l| l.starts_with("listening on tcp://")));
}

/// Text logs: the close event shows under -v (global flags work before or after the
/// subcommand); by default and under -q it does not; `RUST_LOG` overrides both. Stopping the server (which first
/// lets every connection finish) makes its stderr complete, so absence is checked
/// without waiting for time to pass.
#[test]
fn text_close_event_shows_under_v_only() {
    for (flags, rust_log, shown) in [
        (&["echo", "-v"][..], None, true),
        (&["-v", "echo"][..], None, true),
        (&["echo"][..], None, false),
        (&["echo", "-q"][..], None, false),
        (&["-q", "echo"][..], None, false),
        // RUST_LOG, when set, overrides the flags both ways.
        (&["echo", "-q"][..], Some("info"), true),
        (&["echo", "-v"][..], Some("warn"), false),
    ] {
        let mut args = flags.to_vec();
        args.extend(["-l", "127.0.0.1:0"]);
        let mut server = start(&args, rust_log);
        let peer = echo_once(&server, b"0123456789");
        server.signal("TERM");
        assert!(server.wait(WAIT).success(), "{flags:?}");
        let rest = server.lines_within(WAIT);
        let closes: Vec<&String> = rest
            .iter()
            .filter(|l| l.contains("connection closed"))
            .collect();
        if shown {
            assert_eq!(closes.len(), 1, "{flags:?}: {rest:?}");
            let line = closes[0];
            assert!(line.contains(" INFO "), "{line}");
            for field in [
                format!("peer={peer}"),
                "bytes_in=10".into(),
                "bytes_out=10".into(),
                "reason=\"closed\"".into(),
            ] {
                assert!(
                    line.contains(&field),
                    "{flags:?}: {field} missing in {line}"
                );
            }
        } else {
            assert!(closes.is_empty(), "{flags:?}: {rest:?}");
        }
    }
}

/// A client that says nothing is cut off by --idle-timeout: its close event says
/// `timeout` with the failure text, and the page counts one timeout, no handler error.
#[test]
fn an_idle_timeout_is_logged_with_its_error_and_counted() {
    for mode in ["threads", "events:1"] {
        let (mut server, metrics) = start_with_metrics(&[
            "echo",
            "-l",
            "127.0.0.1:0",
            "--mode",
            mode,
            "--idle-timeout",
            "100ms",
            "--metrics",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "-v",
        ]);
        let addr = server.endpoints[0].socket_addr().unwrap();
        let mut silent = TcpStream::connect(addr).expect("connect to echo");
        silent.set_read_timeout(Some(WAIT)).unwrap();
        // The server ends the connection: EOF, or a reset on some platforms.
        util::expect_closed(&mut silent, WAIT, &format!("mode {mode}: the idle client"));
        let line = server.wait_for_line("connection closed");
        let event: serde_json::Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(event["reason"], "timeout", "mode {mode}: {event}");
        assert_eq!(event["peer"], silent.local_addr().unwrap().to_string());
        assert!(
            event["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{event}"
        );
        let page = scrape(metrics);
        assert_samples(
            &page,
            &[
                ("sockserv_timeouts_total", 1),
                ("sockserv_handler_errors_total", 0),
                ("sockserv_connections_active", 0),
            ],
            &format!("mode {mode}: {page}"),
        );
    }
}

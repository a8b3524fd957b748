//! `sockserv chat --web` end to end: a foreign WebSocket client (Python's `websockets`,
//! `tests/chat_web/ws_probe.py`) for framing, fragments, limits, UTF-8, ping/pong and
//! close codes in every chat mode, over TLS, and at shutdown; headless Chromium through
//! Playwright (`tests/chat_web/browse.py`) for the page, next to a raw TCP line client.
//! Skips without python3's websockets / playwright or chromium unless
//! `SOCKSERV_REQUIRE_TOOLS=1`.

mod chat_support;
mod util;

use std::path::Path;
use std::process::Command;

use chat_support::{Server, CHAT_MODES, WAIT};
use serde_json::Value;
use testkit::Certs;
use util::Script;

const PROBE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/chat_web/ws_probe.py");
const BROWSE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/chat_web/browse.py");
const CHROMIUM: &str = "/usr/bin/chromium";

/// A probe run: a few seconds; the browser run: several steps of at most 15 s each.
const PROBE_WAIT: std::time::Duration = std::time::Duration::from_secs(60);
const BROWSER_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

fn python_has(module: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|out| out.status.success())
}

fn websockets_ready() -> bool {
    testkit::tool_ready(
        "python3 with websockets (pip install websockets)",
        python_has("websockets.sync.client") && python_has("websockets.asyncio.client"),
    )
}

/// `chat -m MODE` on a TCP line endpoint and a web endpoint, plus `extra`.
fn start(mode: &str, extra: &[&str]) -> Server {
    let mut args = vec![
        "chat",
        "-m",
        mode,
        "-l",
        "tcp://127.0.0.1:0",
        "--web",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    Server::start(&args, 2)
}

/// The `ws://` URL of the server's web endpoint, and its port.
fn ws_url(server: &Server) -> (String, String) {
    let http = &server.web[0];
    let port = http
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let ws = http.replacen("http", "ws", 1) + "ws";
    (ws, port)
}

fn probe(args: &[&str]) -> Script {
    let mut command = Command::new("python3");
    command.arg(PROBE).args(args);
    Script::start(command)
}

fn json(report: &str) -> Value {
    serde_json::from_str(report).unwrap_or_else(|e| panic!("bad report ({e}): {report}"))
}

#[test]
fn a_foreign_websocket_client_sees_framing_limits_pings_and_close_codes_in_every_mode() {
    if !websockets_ready() {
        return;
    }
    for mode in CHAT_MODES {
        let server = start(mode, &["--web-max-message", "1000", "--web-ping", "300ms"]);
        let (url, port) = ws_url(&server);
        let report = json(&probe(&[&url, "127.0.0.1", &port, "protocol"]).report(PROBE_WAIT));
        let text = |key: &str| report[key].as_str().unwrap_or_default().to_owned();
        assert_eq!(
            text("welcome_a"),
            "* welcome, you are guest1",
            "{mode}: {report}"
        );
        assert_eq!(text("joined_seen_by_a"), "* guest2 joined", "{mode}");
        let in_order: Vec<String> = (0..20).map(|i| format!("guest1: line {i}")).collect();
        assert_eq!(report["in_order"], serde_json::json!(in_order), "{mode}");
        assert_eq!(text("fragmented"), "guest1: fragmented", "{mode}");
        assert_eq!(report["pong"], true, "{mode}: {report}");
        assert_eq!(report["quiet_client_kept"], true, "{mode}: {report}");
        assert_eq!(report["silent_client_got_ping"], true, "{mode}: {report}");
        assert_eq!(report["silent_client_dropped"], true, "{mode}: {report}");
        for (key, code) in [
            ("oversized", 1009),
            ("oversized_fragmented", 1009),
            ("bad_utf8", 1007),
            ("binary", 1003),
            ("unmasked", 1002),
            ("quit", 1000),
            ("client_close_answered", 1000),
        ] {
            assert_eq!(report[key], code, "{mode}: {key}: {report}");
        }
        assert_eq!(report["left_seen"], true, "{mode}: {report}");
    }
}

#[test]
fn a_websocket_member_hears_the_shutdown_and_a_going_away_close() {
    if !websockets_ready() {
        return;
    }
    let mut server = start("events:2", &[]);
    let (url, port) = ws_url(&server);
    let mut script = probe(&[&url, "127.0.0.1", &port, "shutdown"]);
    assert_eq!(script.next_line(WAIT).as_deref(), Some("ready"));
    server.signal("TERM");
    let report = json(&script.report(PROBE_WAIT));
    assert_eq!(
        report["lines"],
        serde_json::json!(["* server shutting down"]),
        "{report}"
    );
    assert_eq!(report["close_code"], 1001, "{report}");
    assert!(server.wait(WAIT).success());
}

#[test]
fn the_web_endpoint_speaks_https_and_wss_with_the_tls_flags() {
    if !websockets_ready() {
        return;
    }
    let certs = Certs::generate();
    let (cert, key) = (certs.arg("cert.pem"), certs.arg("key.pem"));
    let server = start("threads", &["--tls-cert", &cert, "--tls-key", &key]);
    assert!(
        server.web[0].starts_with("https://127.0.0.1:"),
        "{:?}",
        server.web
    );
    let (url, _) = ws_url(&server);
    assert!(url.starts_with("wss://"));
    // The asyncio client, not the threaded one: websockets' sync client reads a TLS socket
    // in one thread while it writes in another, which Python's ssl does not support — one
    // run in a few hundred lost its upgrade request (the server logged the handshake's
    // 597 bytes in and nothing after), and the test waited out its bound.
    let mut command = Command::new("python3");
    command.arg("-c").arg(
        "import asyncio, json, ssl, sys\n\
         from websockets.asyncio.client import connect\n\
         async def main():\n\
         \x20   ctx = ssl.create_default_context(cafile=sys.argv[2])\n\
         \x20   async with asyncio.timeout(30):\n\
         \x20       async with connect(sys.argv[1], ssl=ctx) as a, connect(sys.argv[1], ssl=ctx) as b:\n\
         \x20           seen = [await a.recv(), await b.recv(), await a.recv()]\n\
         \x20           await b.send('over tls')\n\
         \x20           seen.append(await a.recv())\n\
         \x20   print(json.dumps(seen))\n\
         asyncio.run(main())\n",
    );
    command.args([&url, &certs.arg("ca.pem")]);
    let report = json(&Script::start(command).report(PROBE_WAIT));
    assert_eq!(
        report,
        serde_json::json!([
            "* welcome, you are guest1",
            "* welcome, you are guest2",
            "* guest2 joined",
            "guest2: over tls"
        ])
    );
}

#[test]
fn chromium_pages_and_a_line_client_share_the_room() {
    let ready = testkit::tool_ready("chromium (Debian package)", Path::new(CHROMIUM).exists())
        && testkit::tool_ready(
            "python3 with playwright (pip install playwright)",
            python_has("playwright.sync_api"),
        );
    if !ready {
        return;
    }
    let mut server = start("events:2", &[]);
    let tcp = server.tcp_addr();
    let mut command = Command::new("python3");
    command
        .arg(BROWSE)
        .arg(&server.web[0])
        .arg(tcp.ip().to_string())
        .arg(tcp.port().to_string());
    let mut script = Script::start(command);
    let first = script.next_line(BROWSER_WAIT);
    assert_eq!(first.as_deref(), Some("ready"), "{:?}", script.lines);
    server.signal("TERM");
    let report = json(&script.report(BROWSER_WAIT));
    let text = |key: &str| report[key].as_str().unwrap_or_default().to_owned();

    let (a, b, line) = (text("nick_a"), text("nick_b"), "guest3");
    assert_eq!((a.as_str(), b.as_str()), ("guest1", "guest2"), "{report}");
    // Each side sees the others' messages in the order they were sent.
    let b_saw: Vec<(String, String)> = report["b_saw"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m[0] == "message")
        .map(|m| {
            (
                m[1].as_str().unwrap().to_owned(),
                m[2].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let from = |nick: &str| -> Vec<String> {
        b_saw
            .iter()
            .filter(|(n, _)| n == nick)
            .map(|(_, t)| t.clone())
            .collect()
    };
    assert_eq!(from(&a), ["from a 0", "from a 1", "from a 2"], "{report}");
    assert_eq!(
        from(line),
        ["from line 0", "from line 1", "from line 2"],
        "{report}"
    );
    let line_saw: Vec<&str> = report["line_saw"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .filter(|l| l.starts_with("guest1: "))
        .collect();
    assert_eq!(
        line_saw,
        ["guest1: from a 0", "guest1: from a 1", "guest1: from a 2"]
    );
    assert_eq!(text("line_saw_b"), "guest2: from b");
    // /nick and /who.
    assert_eq!(text("line_saw_nick"), "* guest1 is now alice");
    assert_eq!(
        report["who_b"],
        serde_json::json!(["alice", "guest2", "guest3"])
    );
    assert_eq!(text("who_line"), "* online (3): alice, guest2, guest3");
    // HTML stays text.
    assert_eq!(report["xss_images"], 0, "{report}");
    assert_eq!(report["dialogs"], serde_json::json!([]), "{report}");
    assert_eq!(text("xss_line"), "alice: <img src=x onerror=alert(1)>");
    // Phone width: nothing wider than the screen.
    assert!(
        report["phone_scroll_width"].as_u64().unwrap() <= 360,
        "{report}"
    );
    assert_eq!(report["phone_input_visible"], true);
    // The reloaded page rejoined and spoke.
    let rejoined = text("nick_b_after_reload");
    assert!(rejoined.starts_with("guest") && rejoined != b, "{report}");
    assert_eq!(text("line_saw_reload"), format!("{rejoined}: back again"));
    // A page that chose a nick took it again after its reload.
    assert_eq!(text("nick_a_after_reload"), "alice", "{report}");
    assert!(
        text("line_saw_a_back").ends_with(" is now alice"),
        "{report}"
    );
    // The drop was announced on the page.
    assert!(
        text("drop_notice").starts_with("* the server is shutting down; reconnecting in "),
        "{report}"
    );
    assert!(server.wait(WAIT).success());
}

#[test]
fn bench_puts_websocket_members_beside_line_members_in_the_chat_benchmark() {
    let server = start("events:2", &[]);
    let line = server.tcp_addr().to_string();
    let out = util::run(&[
        "bench",
        &line,
        "--chat",
        "--conns",
        "3",
        "--ws",
        &server.web[0],
        "--ws-conns",
        "2",
        "--warmup",
        "100ms",
        "--duration",
        "300ms",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report = util::json_report(&out);
    let rounds = report["rounds"].as_u64().unwrap();
    assert!(rounds > 0, "{report}");
    // Every round reached every member: 3 line and 2 WebSocket deliveries each.
    assert_eq!(
        report["line"]["deliveries"].as_u64(),
        Some(3 * rounds),
        "{report}"
    );
    assert_eq!(
        report["websocket"]["deliveries"].as_u64(),
        Some(2 * rounds),
        "{report}"
    );
}

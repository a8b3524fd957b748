//! `sockserv bench` end to end: the built binary against in-test echo servers.

mod util;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::Output;
use std::thread;
use std::time::Duration;

/// Every run is bounded by its own --duration; this is the outer bound on one run.
const RUN_BOUND: Duration = Duration::from_secs(30);

/// What an in-test server does with each chunk before echoing it.
#[derive(Clone, Copy)]
enum Echo {
    Faithful,
    /// Flips one bit of the 100th byte of each connection's stream.
    Corrupting,
}

/// Echo over a thread per connection, like the simplest blocking server.
fn serve_tcp(echo: Echo) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            thread::spawn(move || echo_loop(stream, echo));
        }
    });
    addr
}

fn echo_loop(mut stream: impl Read + Write, echo: Echo) {
    let mut buf = [0u8; 16 * 1024];
    let mut seen = 0usize;
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if let Echo::Corrupting = echo {
            if (seen..seen + n).contains(&100) {
                buf[100 - seen] ^= 0x01;
            }
        }
        seen += n;
        if stream.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

/// Runs `sockserv bench ARGS`, bounded by [`RUN_BOUND`].
fn bench(args: &[&str]) -> Output {
    util::run_within(&[&["bench"][..], args].concat(), RUN_BOUND)
}

/// Runs a short (0.6 s) bench with a JSON report.
fn bench_json(args: &[&str]) -> Output {
    let short = ["--duration", "500ms", "--warmup", "100ms", "--json"];
    bench(&[args, &short[..]].concat())
}

#[test]
fn json_report_counts_verified_messages_in_both_modes() {
    let addr = serve_tcp(Echo::Faithful);
    for (mode, size) in [("pingpong", "64"), ("stream", "16384")] {
        let url = format!("tcp://{addr}");
        let out = bench_json(&[&url, "--conns", "8", "--mode", mode, "--size", size]);
        assert!(out.status.success(), "{mode}: {out:?}");
        let report = util::json_report(&out);
        assert_eq!(report["mode"], mode);
        assert_eq!(report["conns"], 8);
        assert!(report["msgs"].as_u64().unwrap() > 0, "{report}");
        assert!(report["msgs_per_sec"].as_f64().unwrap() > 0.0, "{report}");
        assert!(
            report["latency_us"]["p99"].as_u64().unwrap() > 0,
            "{report}"
        );
        for field in ["connect_failures", "resets", "mismatches"] {
            assert_eq!(report[field], 0, "{field}: {report}");
        }
    }
}

#[test]
fn corrupted_echo_is_counted_and_fails_the_run() {
    let addr = serve_tcp(Echo::Corrupting);
    let out = bench_json(&[&addr.to_string(), "--conns", "3"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let report = util::json_report(&out);
    assert_eq!(report["mismatches"], 3, "{report}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("differs"),
        "{out:?}"
    );
}

#[test]
fn nothing_listening_is_a_one_line_error() {
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    // The listener is dropped: nothing listens on addr any more.
    let out = bench(&[&addr.to_string(), "--conns", "5", "--duration", "200ms"]);
    assert!(!out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("could not connect"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn udp_url_is_rejected_in_one_line() {
    let out = bench(&["udp://127.0.0.1:9", "--duration", "200ms"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("datagram"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[test]
fn unix_socket_stream_mode_verifies_echo() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("echo.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            thread::spawn(move || echo_loop(stream, Echo::Faithful));
        }
    });
    let url = format!("unix:{}", path.display());
    let out = bench_json(&[&url, "--mode", "stream", "--size", "4096", "--conns", "2"]);
    assert!(out.status.success(), "{out:?}");
    let report = util::json_report(&out);
    assert!(report["mb_per_sec"].as_f64().unwrap() > 0.0, "{report}");
    assert_eq!(report["mismatches"], 0, "{report}");
}

#[test]
fn plot_writes_an_svg_chart() {
    let addr = serve_tcp(Echo::Faithful);
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("latency.svg");
    let out = bench(&[
        &addr.to_string(),
        "--duration",
        "300ms",
        "--warmup",
        "0s",
        "--plot",
        svg.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.starts_with("<svg") && text.contains("percentile"),
        "{}",
        &text[..200.min(text.len())]
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("msgs/s"));
}

/// A message bigger than one write (64 KiB) goes out in several writes and comes back in
/// pieces (the test server echoes 16 KiB at a time); all of it must still verify.
#[test]
fn pingpong_message_larger_than_a_write_is_verified_across_pieces() {
    let addr = serve_tcp(Echo::Faithful);
    let out = bench_json(&[&addr.to_string(), "--conns", "2", "--size", "200000"]);
    assert!(out.status.success(), "{out:?}");
    let report = util::json_report(&out);
    assert!(report["msgs"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(report["mismatches"], 0, "{report}");
}

#[test]
fn help_explains_the_modes_and_the_numbers() {
    let out = bench(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "pingpong",
        "stream",
        "msgs/s",
        "latency",
        "mismatches",
        "unix:PATH",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
}

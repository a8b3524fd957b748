//! TLS end to end: `sockserv echo`/`chat --tls-cert --tls-key` against `sockserv client
//! --tls`, `openssl s_client` and a plaintext client, with certificates made per run.

mod chat_support;
mod util;

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::process::Stdio;

use chat_support::TlsMember;
use testkit::Certs;
use util::{
    lines_in_background, payload, read_all_in_background, run, run_with_stdin, Server, WAIT,
};

/// The modes TLS is tested under: every one, sequential and one event loop included.
const TLS_MODES: [&str; 6] = util::MODES;

/// `SUBCOMMAND -m MODE --tls-cert --tls-key` on TCP and on a Unix socket.
fn serve_tls(certs: &Certs, subcommand: &str, mode: &str) -> Server {
    let socket = format!("{subcommand}-{}.sock", mode.replace(':', "-"));
    let unix = format!("unix:{}", certs.path(&socket).display());
    let (cert, key) = (certs.arg("cert.pem"), certs.arg("key.pem"));
    let args = [
        subcommand,
        "-m",
        mode,
        "-l",
        "tcp://127.0.0.1:0",
        "-l",
        &unix,
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
    ];
    Server::start(&args, 2)
}

/// `sockserv client --tls --ca` gets every byte back, over TCP and Unix, in every mode;
/// its half-close (close_notify, then FIN) ends the echo and the server's close_notify
/// ends the client with status 0.
#[test]
fn echo_over_tls_round_trips_and_half_closes_in_every_mode() {
    let certs = Certs::generate();
    let mut input = b"first line\nsecond line\n".to_vec();
    input.extend(payload(200 * 1024));
    for mode in TLS_MODES {
        let server = serve_tls(&certs, "echo", mode);
        for endpoint in &server.endpoints {
            let url = endpoint.to_string();
            let ca = certs.arg("ca.pem");
            let out = run_with_stdin(&["client", "--tls", "--ca", &ca, &url], input.clone());
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success(),
                "{mode} {url}: {}: {stderr}",
                out.status
            );
            assert!(out.stdout == input, "{mode} {url}: the echo differs");
            assert!(stderr.is_empty(), "{mode} {url}: {stderr}");
        }
    }
}

/// A client that speaks plaintext to the TLS port is answered with an alert and closed
/// at once, in every mode; it is not left hanging.
#[test]
fn a_plaintext_client_is_closed_promptly() {
    let certs = Certs::generate();
    for mode in TLS_MODES {
        let server = serve_tls(&certs, "echo", mode);
        let mut stream = TcpStream::connect(server.tcp_addr()).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream.write_all(b"hello, anyone there?\n").unwrap();
        // Closed within the bound, with nothing or a TLS alert (content type 21).
        let reply = util::read_until_closed(&mut stream, WAIT, mode);
        assert!(reply.is_empty() || reply[0] == 21, "{mode}: {reply:?}");
    }
}

/// A client nobody here wrote: OpenSSL's, checking our certificate against the CA.
#[test]
fn openssl_s_client_gets_its_echo() {
    let certs = Certs::generate();
    for mode in ["threads", "events:2"] {
        let server = serve_tls(&certs, "echo", mode);
        let mut child = std::process::Command::new("openssl")
            .args(["s_client", "-quiet", "-verify_return_error"])
            .args(["-connect", &server.tcp_addr().to_string()])
            .args(["-servername", "localhost", "-CAfile", &certs.arg("ca.pem")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("openssl s_client (Debian package: openssl)");
        let lines = lines_in_background(child.stdout.take().unwrap());
        let stderr = read_all_in_background(child.stderr.take().unwrap());
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"hello from openssl\n").unwrap();
        let line = lines.recv_timeout(WAIT);
        let _ = child.kill();
        let _ = child.wait();
        let stderr = String::from_utf8_lossy(&stderr.join().unwrap()).into_owned();
        assert_eq!(
            line.as_deref(),
            Ok("hello from openssl"),
            "{mode}: {stderr}"
        );
    }
}

/// Two TLS clients chat (the chat room uses wake-ups: they pass through TLS).
#[test]
fn two_tls_clients_chat() {
    let certs = Certs::generate();
    for mode in ["threads", "pool:4", "events:2"] {
        let server = serve_tls(&certs, "chat", mode);
        for (i, endpoint) in server.endpoints.iter().enumerate() {
            let url = endpoint.to_string();
            let mut alice = TlsMember::join(&url, &certs.path("ca.pem"));
            let mut bob = TlsMember::join(&url, &certs.path("ca.pem"));
            assert_eq!(
                alice.line(),
                format!("* {} joined", bob.nick),
                "{mode} {url}"
            );
            // A nick per endpoint: the members of the last round may still be leaving.
            let name = format!("alice{i}");
            alice.say(&format!("/nick {name}"));
            let notice = format!("* {} is now {name}", alice.nick);
            assert_eq!(alice.line(), notice, "{mode} {url}");
            assert_eq!(bob.line(), notice, "{mode} {url}");
            bob.say("hello alice");
            assert_eq!(alice.line(), format!("{}: hello alice", bob.nick));
            alice.say("hi bob");
            assert_eq!(bob.line(), format!("{name}: hi bob"), "{mode} {url}");
        }
    }
}

/// The TLS flags are checked before anything is served: one line, non-zero exit.
#[test]
fn tls_flags_are_refused_one_line_each() {
    let certs = Certs::generate();
    let (cert, key) = (certs.arg("cert.pem"), certs.arg("key.pem"));
    let cases: [&[&str]; 4] = [
        &[
            "echo",
            "-l",
            "udp://127.0.0.1:0",
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
        ],
        &[
            "echo",
            "-l",
            "tcp://127.0.0.1:0",
            "--tls-cert",
            &key,
            "--tls-key",
            &key,
        ],
        &[
            "echo",
            "-l",
            "tcp://127.0.0.1:0",
            "--tls-cert",
            &cert,
            "--tls-key",
            "/no/such/key.pem",
        ],
        &[
            "client",
            "--tls",
            "--ca",
            "/no/such/ca.pem",
            "tcp://127.0.0.1:9",
        ],
    ];
    for args in cases {
        let out = run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
    }
    // Only one of the pair: clap refuses it.
    let out = run(&["echo", "--tls-cert", &cert]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls-key"));
}

/// A certificate that does not chain to --ca fails the handshake with a one-line reason;
/// --insecure skips the check.
#[test]
fn an_unknown_ca_is_refused_and_insecure_accepts_it() {
    let certs = Certs::generate();
    let server = serve_tls(&certs, "echo", "threads");
    let url = server.endpoints[0].to_string();
    // The server's own certificate is no CA of it: the chain does not verify.
    let wrong_ca = certs.arg("cert.pem");
    let out = run_with_stdin(&["client", "--tls", "--ca", &wrong_ca, &url], b"x".to_vec());
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("TLS handshake"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    let out = run_with_stdin(&["client", "--tls", "--insecure", &url], b"x".to_vec());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"x");
}

/// `sockserv bench URL --tls --ca CA.pem` followed by `extra` (space-separated).
fn bench_tls(url: &str, ca: &Path, extra: &str) -> std::process::Output {
    let ca = ca.display().to_string();
    let mut args = vec!["bench", url, "--tls", "--ca", &ca];
    args.extend(extra.split(' '));
    run(&args)
}

/// `sockserv bench --tls` drives a rustls client per connection in its event loop: every
/// echoed byte is verified, in both traffic modes, over TCP and Unix; an untrusted
/// certificate is reported, not silently counted.
#[test]
fn bench_over_tls_verifies_every_echo() {
    let certs = Certs::generate();
    let server = serve_tls(&certs, "echo", "events:2");
    for endpoint in &server.endpoints {
        let url = endpoint.to_string();
        for mode in ["pingpong", "stream"] {
            // 1 s, not less: on a loaded machine a shorter run ended before a whole
            // message had gone round (msgs 0).
            let extra =
                format!("--mode {mode} --conns 4 --size 3000 --duration 1s --warmup 100ms --json");
            let out = bench_tls(&url, &certs.path("ca.pem"), &extra);
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{url} {mode}: {stderr}");
            for field in ["\"mismatches\":0", "\"resets\":0", "\"connected\":4"] {
                assert!(stdout.contains(field), "{url} {mode}: {stdout}");
            }
            assert!(!stdout.contains("\"msgs\":0,"), "{url} {mode}: {stdout}");
        }
    }
    // The server's own certificate is no CA of it: every handshake fails, and says why.
    let url = server.endpoints[0].to_string();
    let out = bench_tls(
        &url,
        &certs.path("cert.pem"),
        "--duration 100ms --warmup 0s",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("TLS error"), "{stderr}");
}

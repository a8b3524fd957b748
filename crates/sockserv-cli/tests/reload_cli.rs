//! Certificate rotation (SIGHUP) end to end: Python's ssl module (a client nobody here
//! wrote) handshakes continuously while the files are replaced and reloaded ten times;
//! no handshake fails, new ones show the new certificate, a connection made before keeps
//! working, and a file that does not load leaves the last good certificate.

#[allow(dead_code)] // the helpers this file does not use
#[path = "util/metrics.rs"]
mod metrics;
mod util;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc::Receiver;

use testkit::Certs;
use util::{lines_in_background, wait_for_exit, Server, WAIT};

/// Handshakes with the server on 127.0.0.1:PORT (as `localhost`, trusting both CAs) until
/// stdin closes, one line each: `ok NAME` (which of the certificates it was shown) or
/// `fail WHY`. First it opens one connection it holds (`held NAME`), and at the end it
/// echoes over it once more (`held-after LINE NAME`).
const CLIENT: &str = r#"
import hashlib, socket, ssl, sys, threading
port, names = int(sys.argv[1]), {}
ctx = ssl.create_default_context()
for name, ca, cert in [("A", sys.argv[2], sys.argv[3]), ("B", sys.argv[4], sys.argv[5])]:
    ctx.load_verify_locations(ca)
    der = ssl.PEM_cert_to_DER_cert(open(cert).read())
    names[hashlib.sha256(der).hexdigest()] = name
def connect():
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="localhost")
def shown(s):
    return names.get(hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest(), "?")
def echo(s, data):
    s.sendall(data)
    got = b""
    while not got.endswith(b"\n"):
        chunk = s.recv(64)
        if not chunk:
            break
        got += chunk
    return got
held = connect()
print("held", shown(held), flush=True)
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
n = 0
while not stop.is_set() and n < 100000:
    n += 1
    try:
        with connect() as s:
            line = b"ping %d\n" % n
            got = echo(s, line)
            print("ok " + shown(s) if got == line else "fail echo %r" % got, flush=True)
    except Exception as e:
        print("fail", repr(e), flush=True)
print("held-after", echo(held, b"still held\n").decode().strip(), shown(held), flush=True)
"#;

/// The Python client, its stdout lines, and every line seen.
struct Handshakes {
    child: Child,
    lines: Receiver<String>,
    /// The server's mode, for messages.
    mode: &'static str,
}

impl Handshakes {
    fn start(mode: &'static str, port: u16, a: &Certs, b: &Certs) -> Handshakes {
        let mut child = std::process::Command::new("python3")
            .args(["-c", CLIENT, &port.to_string()])
            .args([
                a.arg("ca.pem"),
                a.arg("cert.pem"),
                b.arg("ca.pem"),
                b.arg("cert.pem"),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start python3");
        let lines = lines_in_background(child.stdout.take().unwrap());
        Handshakes { child, lines, mode }
    }

    /// The next line; a failed handshake fails the test.
    fn line(&self) -> String {
        let line = self
            .lines
            .recv_timeout(WAIT)
            .expect("a line from the client");
        assert!(
            !line.starts_with("fail"),
            "{}: a handshake failed: {line}",
            self.mode
        );
        line
    }

    /// Reads lines until a handshake shows `name`.
    fn until_shown(&self, name: &str) {
        while self.line() != format!("ok {name}") {}
    }

    /// Stops the loop; returns the held connection's last line.
    fn finish(mut self) -> String {
        drop(self.child.stdin.take());
        let held = loop {
            let line = self.line();
            if line.starts_with("held-after") {
                break line;
            }
        };
        assert!(wait_for_exit(&mut self.child, WAIT).success());
        held
    }
}

impl Drop for Handshakes {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Puts `from`'s certificate and key in `live` the way a renewal tool does: each file
/// written beside and renamed over the old one.
fn install(from: &Certs, live: &Path) {
    for name in ["cert.pem", "key.pem"] {
        let temp = live.join(format!(".{name}.new"));
        std::fs::copy(from.path(name), &temp).unwrap();
        std::fs::rename(&temp, live.join(name)).unwrap();
    }
}

#[test]
fn ten_rotations_during_handshakes_fail_none_and_a_bad_file_keeps_the_last_good_one() {
    if testkit::require_program("python3", &["-c", "import ssl"]).is_none() {
        return;
    }
    // Not sequential: the client's held connection would keep the one worker.
    for mode in ["threads", "pool:4", "fork:4", "events:2"] {
        let (a, b) = (Certs::generate(), Certs::generate());
        let live = tempfile::tempdir().unwrap();
        install(&a, live.path());
        let (cert, key) = (live.path().join("cert.pem"), live.path().join("key.pem"));
        let (cert_arg, key_arg) = (cert.display().to_string(), key.display().to_string());
        let args = [
            "echo",
            "-m",
            mode,
            "-l",
            "tcp://127.0.0.1:0",
            "--metrics",
            "127.0.0.1:0",
            "--tls-cert",
            &cert_arg,
            "--tls-key",
            &key_arg,
        ];
        let mut server = Server::start(&args, 1);
        let client = Handshakes::start(mode, server.tcp_addr().port(), &a, &b);
        assert_eq!(client.line(), "held A", "{mode}");
        client.until_shown("A");
        let mut last = "A";
        for round in 0..10 {
            let (next, name) = if round % 2 == 0 { (&b, "B") } else { (&a, "A") };
            install(next, live.path());
            server.signal("HUP");
            server.wait_for_line("reload: new TLS handshakes use");
            client.until_shown(name);
            last = name;
        }

        std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nnot a certificate\n").unwrap();
        server.signal("HUP");
        let line = server.wait_for_line("reload failed");
        assert!(
            line.contains("keeping the previous TLS certificate") && line.contains("cert.pem"),
            "{mode}: one clear line: {line}"
        );
        for _ in 0..5 {
            assert_eq!(
                client.line(),
                format!("ok {last}"),
                "{mode}: the last good one"
            );
        }
        let page = metrics::scrape(metrics::metrics_addr(&server));
        assert!(
            page.contains("sockserv_reloads_total{result=\"ok\"} 10"),
            "{page}"
        );
        assert!(
            page.contains("sockserv_reloads_total{result=\"failed\"} 1"),
            "{page}"
        );

        assert_eq!(client.finish(), "held-after still held A", "{mode}");
        server.signal("TERM");
        assert!(server.wait(WAIT).success(), "{mode}: SIGHUP never kills it");
        let _ = std::io::stderr().flush();
    }
}

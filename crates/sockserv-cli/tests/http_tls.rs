//! `sockserv http` over TLS as a client nobody here wrote sees it: OpenSSL's `s_client`
//! offering `h2` and `http/1.1` in ALPN is answered `http/1.1` (never h2, which the server
//! does not speak), and the request then works on that connection.

mod http_support;
mod util;

use std::io::Write;
use std::process::{Command, Stdio};

use http_support::{python_lacks, tls_flags, HttpServer, Tree, HTTP_MODES, KNIGHTS};
use util::{read_all_in_background, wait_for_exit, WAIT};

#[test]
fn openssl_s_client_negotiates_alpn_http_1_1() {
    let Some(openssl) = testkit::require_program("openssl", &["version"]) else {
        return;
    };
    if python_lacks("TLS") {
        return;
    }
    let certs = testkit::Certs::generate();
    let tls = tls_flags(&certs);
    let tls: Vec<&str> = tls.iter().map(String::as_str).collect();
    for mode in HTTP_MODES {
        let tree = Tree::new();
        tree.file("knights/test", KNIGHTS);
        let server = HttpServer::start(&tree.root(), mode, &tls);
        let mut child = Command::new(&openssl)
            .args(["s_client", "-verify_return_error", "-alpn", "h2,http/1.1"])
            .args(["-connect", &server.addr.to_string()])
            .args(["-servername", "localhost", "-CAfile", &certs.arg("ca.pem")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn openssl s_client");
        let stdout = read_all_in_background(child.stdout.take().unwrap());
        let stderr = read_all_in_background(child.stderr.take().unwrap());
        // The request asks for a close, so s_client ends when the server does.
        let request = "GET /knights/test HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(request.as_bytes()).unwrap();
        let status = wait_for_exit(&mut child, WAIT);
        drop(stdin);
        let stdout = String::from_utf8_lossy(&stdout.join().unwrap()).into_owned();
        let stderr = String::from_utf8_lossy(&stderr.join().unwrap()).into_owned();
        assert!(
            status.success(),
            "{mode}: openssl failed: {stderr}\n{stdout}"
        );
        assert!(
            stdout.contains("ALPN protocol: http/1.1"),
            "{mode}: no ALPN http/1.1 in:\n{stdout}"
        );
        assert!(
            stdout.contains("HTTP/1.1 200 OK"),
            "{mode}: no answer in:\n{stdout}"
        );
        assert!(stdout.contains(std::str::from_utf8(KNIGHTS).unwrap().trim_end()));
    }
}

//! `sockserv http` with curl as a client nobody here wrote: downloads (sendfile-sized),
//! HEAD, listings, conditional requests (304), ranges and resume (206/416), keep-alive
//! across URLs, and gzip. Skips without curl unless `SOCKSERV_REQUIRE_TOOLS=1`.

mod http_support;
mod util;

use std::fs;
use std::process::{Command, Output, Stdio};

use http_support::*;
use util::{read_all_in_background, wait_for_exit, WAIT};

const BIG: usize = 8 << 20;

fn curl_ready() -> bool {
    foreign_tool_ready("curl", runs("curl", &["--version"]))
}

/// `curl -sS --max-time 15 ARGS`, waited for with a bound; stdout and stderr are read
/// on their own threads so a large download cannot stall on a full pipe.
fn curl(args: &[&str]) -> Output {
    let mut child = Command::new("curl")
        .args(["-sS", "--max-time", "15"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn curl");
    let stdout = read_all_in_background(child.stdout.take().unwrap());
    let stderr = read_all_in_background(child.stderr.take().unwrap());
    let status = wait_for_exit(&mut child, WAIT);
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// curl's stdout as text, after checking it exited successfully.
fn curl_ok(args: &[&str]) -> String {
    let output = curl(args);
    assert!(
        output.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The value of header `name` in a `-D -` dump (the last response's, if several).
fn header<'a>(dump: &'a str, name: &str) -> Option<&'a str> {
    dump.lines()
        .filter_map(|line| line.split_once(':'))
        .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .next_back()
}

fn curl_tree() -> Tree {
    let tree = Tree::new();
    tree.file("big.bin", &payload(BIG));
    tree.file(
        "notes.txt",
        "All work and no play.\n".repeat(1000).as_bytes(),
    );
    tree.file("docs/a.txt", b"a\n");
    tree.file("docs/b.txt", b"b\n");
    tree
}

/// A large file arrives whole (the sendfile path); HEAD gives its headers only; a
/// listing links the files; a missing file is a 404.
#[test]
fn curl_downloads_files_heads_and_listings() {
    if !curl_ready() {
        return;
    }
    for mode in HTTP_MODES {
        let tree = curl_tree();
        let server = HttpServer::start(&tree.root(), mode, &[]);
        let out = tree.outside().join("big.download");
        let out_arg = out.to_str().unwrap();
        let code = curl_ok(&["-o", out_arg, "-w", "%{http_code}", &server.url("/big.bin")]);
        assert_eq!(code, "200", "{mode}");
        assert!(
            fs::read(&out).unwrap() == payload(BIG),
            "{mode}: big.bin differs"
        );

        let head = curl_ok(&["-I", &server.url("/big.bin")]);
        assert!(head.starts_with("HTTP/1."), "{mode}: {head}");
        assert!(
            head.lines().next().unwrap().contains(" 200"),
            "{mode}: {head}"
        );
        let length = BIG.to_string();
        assert_eq!(header(&head, "content-length"), Some(length.as_str()));
        assert_eq!(header(&head, "last-modified"), Some(LAST_MODIFIED));

        let listing = curl_ok(&[&server.url("/docs/")]);
        assert!(listing.contains("Directory listing for /docs/"), "{mode}");
        assert!(listing.contains("href=\"a.txt\"") && listing.contains("href=\"b.txt\""));
        let dump = curl_ok(&["-D", "-", &server.url("/docs/a.txt")]);
        assert!(dump.ends_with("\r\n\r\na\n"), "{mode}: {dump:?}");
        assert!(header(&dump, "content-type")
            .unwrap()
            .starts_with("text/plain"));
        let code = curl_ok(&[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &server.url("/nope"),
        ]);
        assert_eq!(code, "404", "{mode}");
        // -L follows the directory redirect to the listing.
        let followed = curl_ok(&[
            "-L",
            "-w",
            "%{http_code} %{num_redirects}",
            &server.url("/docs"),
        ]);
        assert!(followed.ends_with("200 1"), "{mode}: {followed}");
    }
}

/// `-z DATE` sends If-Modified-Since: 304 for the file's date, 200 for an older one.
/// `--etag-save` / `--etag-compare` revalidate with the server's ETag.
#[test]
fn curl_conditional_requests_get_304() {
    if !curl_ready() {
        return;
    }
    for mode in HTTP_MODES {
        let tree = curl_tree();
        let server = HttpServer::start(&tree.root(), mode, &[]);
        let url = server.url("/docs/a.txt");
        let fresh = curl_ok(&["-z", LAST_MODIFIED, "-w", "%{http_code}", &url]);
        assert_eq!(fresh, "304", "{mode}: nothing but the code after a 304");
        let stale = curl_ok(&["-z", YEAR_EARLIER, "-w", "%{http_code}", &url]);
        assert_eq!(stale, "a\n200", "{mode}");
        if python_lacks("ETag") {
            continue;
        }
        let etag = tree.outside().join("etag");
        let etag = etag.to_str().unwrap();
        let first = curl_ok(&["--etag-save", etag, "-w", "%{http_code}", &url]);
        assert_eq!(first, "a\n200", "{mode}");
        assert!(
            fs::read_to_string(etag).unwrap().trim().ends_with('"'),
            "{mode}"
        );
        let again = curl_ok(&["--etag-compare", etag, "-w", "%{http_code}", &url]);
        assert_eq!(again, "304", "{mode}");
    }
}

/// `-r` asks for ranges (206), `-C -` resumes a partial download, and a range past the
/// end gets 416.
#[test]
fn curl_ranges_and_resume() {
    if !curl_ready() || python_lacks("Range") {
        return;
    }
    for mode in HTTP_MODES {
        let tree = curl_tree();
        let server = HttpServer::start(&tree.root(), mode, &[]);
        let url = server.url("/big.bin");
        let whole = payload(BIG);
        let out = tree.outside().join("part");
        let out_arg = out.to_str().unwrap();
        for (range, expected) in [
            ("0-99", &whole[..100]),
            ("-100", &whole[BIG - 100..]),
            ("5000000-5000999", &whole[5_000_000..5_001_000]),
        ] {
            let code = curl_ok(&["-r", range, "-o", out_arg, "-w", "%{http_code}", &url]);
            assert_eq!(code, "206", "{mode}: -r {range}");
            assert!(fs::read(&out).unwrap() == expected, "{mode}: -r {range}");
        }
        // Resume: the first 3 MiB are on disk, curl asks for the rest.
        fs::write(&out, &whole[..3 << 20]).unwrap();
        let code = curl_ok(&["-C", "-", "-o", out_arg, "-w", "%{http_code}", &url]);
        assert_eq!(code, "206", "{mode}: resume");
        assert!(
            fs::read(&out).unwrap() == whole,
            "{mode}: the resumed file differs"
        );
        let past = format!("{BIG}-");
        let code = curl_ok(&["-r", &past, "-o", "/dev/null", "-w", "%{http_code}", &url]);
        assert_eq!(code, "416", "{mode}");
    }
}

/// Two URLs in one curl run share one connection: the second makes no new connect, and
/// curl says it re-used the connection.
#[test]
fn curl_reuses_one_connection_for_two_urls() {
    if !curl_ready() || python_lacks("keep-alive") {
        return;
    }
    for mode in HTTP_MODES {
        let tree = curl_tree();
        let server = HttpServer::start(&tree.root(), mode, &[]);
        let output = curl(&[
            "-v",
            "-o",
            "/dev/null",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{num_connects}\\n",
            &server.url("/docs/a.txt"),
            &server.url("/big.bin"),
        ]);
        assert!(output.status.success(), "{mode}: curl failed");
        let report = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            report, "200 1\n200 0\n",
            "{mode}: code and new connections per URL"
        );
        let verbose = String::from_utf8_lossy(&output.stderr);
        assert!(
            verbose.contains("Re-using existing connection"),
            "{mode}: {verbose}"
        );
    }
}

/// `--gzip` compresses text for a client that accepts it (and says Vary), and nothing
/// else: not for a client that does not ask, not binary types.
#[test]
fn curl_gets_gzip_for_text_only_when_it_asks() {
    if !curl_ready() || python_lacks("gzip") {
        return;
    }
    for mode in HTTP_MODES {
        let tree = curl_tree();
        let server = HttpServer::start(&tree.root(), mode, &["--gzip"]);
        let text = fs::read_to_string(tree.root().join("notes.txt")).unwrap();
        let out = tree.outside().join("notes.download");
        let out_arg = out.to_str().unwrap();
        let url = server.url("/notes.txt");

        let dump = curl_ok(&["--compressed", "-D", "-", "-o", out_arg, &url]);
        assert_eq!(
            header(&dump, "content-encoding"),
            Some("gzip"),
            "{mode}: {dump}"
        );
        assert!(header(&dump, "vary")
            .unwrap_or_default()
            .contains("Accept-Encoding"));
        assert_eq!(
            fs::read_to_string(&out).unwrap(),
            text,
            "{mode}: gunzipped text"
        );
        let raw = curl_ok(&["-D", "-", "-o", out_arg, &url]);
        assert_eq!(
            header(&raw, "content-encoding"),
            None,
            "{mode}: not asked for"
        );
        assert_eq!(fs::read_to_string(&out).unwrap(), text, "{mode}");
        let binary = curl_ok(&[
            "--compressed",
            "-D",
            "-",
            "-o",
            "/dev/null",
            &server.url("/big.bin"),
        ]);
        assert_eq!(header(&binary, "content-encoding"), None, "{mode}: binary");
    }
}

/// HTTPS with `--tls-cert/--tls-key`: curl verifies the chain, downloads a large file
/// whole (no sendfile under TLS), and re-uses the TLS connection for a second URL.
#[test]
fn curl_over_https_downloads_and_reuses_the_connection() {
    if !curl_ready() || python_lacks("TLS") {
        return;
    }
    for mode in HTTP_MODES {
        let tree = curl_tree();
        let certs = testkit::Certs::generate();
        let ca = certs.path("ca.pem");
        let tls = tls_flags(&certs);
        let tls: Vec<&str> = tls.iter().map(String::as_str).collect();
        let server = HttpServer::start(&tree.root(), mode, &tls);
        let https = |path: &str| format!("https://{}{path}", server.addr);
        let out = tree.outside().join("big.download");
        let output = curl(&[
            "--cacert",
            ca.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{num_connects}\\n",
            &https("/big.bin"),
            &https("/docs/a.txt"),
        ]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{mode}: curl over TLS failed: {stderr}"
        );
        let report = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            report, "200 1\n200 0\n",
            "{mode}: code and new connections per URL"
        );
        assert!(
            fs::read(&out).unwrap() == payload(BIG),
            "{mode}: big.bin over TLS"
        );
    }
}

//! The file server, through the connection in memory: files, directories, listings,
//! redirects and path safety as the client sees them.

mod util;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::time::Duration;

use sockserv_http::files::Root;
use sockserv_http::{FileServer, Http};

use util::{client, site, Client};

#[test]
fn a_file_comes_with_its_fields_and_exact_bytes() {
    let dir = site();
    let mut c = client(dir.path());
    let r = c.get("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 200);
    assert!(
        r.head.starts_with("HTTP/1.1 200 OK\r\nServer: sockserv/"),
        "{}",
        r.head
    );
    assert_eq!(r.body, b"abcdefghijklmnopqrstuvwxyz");
    assert_eq!(r.header("Content-Type"), Some("text/plain"));
    assert_eq!(r.header("Content-Length"), Some("26"));
    assert_eq!(r.header("Accept-Ranges"), Some("bytes"));
    assert!(r.header("ETag").unwrap().starts_with('"'));
    let modified = fs::metadata(dir.path().join("a.txt"))
        .unwrap()
        .modified()
        .unwrap();
    let last = httpdate::parse_http_date(r.header("Last-Modified").unwrap()).unwrap();
    assert!(modified.duration_since(last).unwrap() < Duration::from_secs(1));
    assert!(httpdate::parse_http_date(r.header("Date").unwrap()).is_ok());
    assert_eq!(r.header("Connection"), None);
    assert_eq!(r.header("Vary"), None);
    assert!(!c.closing());
}

#[test]
fn head_sends_the_same_fields_without_a_body() {
    let dir = site();
    let mut c = client(dir.path());
    let get = c.get("GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    let head = c.get("HEAD /a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    for name in [
        "Content-Type",
        "Content-Length",
        "ETag",
        "Last-Modified",
        "Accept-Ranges",
    ] {
        assert_eq!(head.header(name), get.header(name), "{name}");
    }
    let listing = c.get("HEAD /list-dir/ HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(listing.status, 200);
    assert!(listing.body.is_empty() && listing.header("Content-Length").is_some());
    let missing = c.get("HEAD /nope HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(missing.status, 404);
    assert!(missing.body.is_empty());
}

#[test]
fn missing_files_are_404_and_keep_the_connection() {
    let dir = site();
    let mut c = client(dir.path());
    let r = c.get("GET /nope.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.status, 404);
    assert_eq!(r.header("Content-Type"), Some("text/html;charset=utf-8"));
    assert!(String::from_utf8_lossy(&r.body).contains("<p>Message: File not found.</p>"));
    assert!(!c.closing());
    assert_eq!(c.get("GET /nope/ HTTP/1.1\r\nHost: t\r\n\r\n").status, 404);
    assert_eq!(c.get("GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n").status, 200);
}

#[test]
fn a_file_asked_for_as_a_directory_is_404() {
    let dir = site();
    assert_eq!(
        client(dir.path())
            .get("GET /a.txt/ HTTP/1.1\r\nHost: t\r\n\r\n")
            .status,
        404
    );
}

#[test]
fn a_directory_without_its_slash_is_redirected_with_the_query() {
    let dir = site();
    let mut c = client(dir.path());
    let r = c.get("GET /list-dir HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(
        (r.status, r.header("Location"), r.header("Content-Length")),
        (301, Some("/list-dir/"), Some("0"))
    );
    let r = c.get("GET /list-dir?hi=1 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.header("Location"), Some("/list-dir/?hi=1"));
    let r = c.get("GET list-dir HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.header("Location"), Some("list-dir/"));
    let r = c.get("GET http://example.com/list-dir?q HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.header("Location"), Some("http://example.com/list-dir/?q"));
    assert_eq!(
        c.get("GET /list-dir/?hi=2 HTTP/1.1\r\nHost: t\r\n\r\n")
            .status,
        200
    );
}

#[test]
fn a_leading_double_slash_cannot_redirect_to_another_host() {
    let dir = site();
    fs::create_dir(dir.path().join("python.org")).unwrap();
    let mut c = client(dir.path());
    for target in [
        "//python.org",
        "///python.org",
        "//python.org/../python.org",
    ] {
        let r = c.get(&format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n"));
        assert_eq!(r.status, 301, "{target}");
        let location = r.header("Location").unwrap();
        assert!(
            location.starts_with('/') && !location.starts_with("//"),
            "{target} -> {location}"
        );
    }
}

#[test]
fn index_html_then_index_htm_then_a_listing() {
    let dir = site();
    let mut c = client(dir.path());
    let r = c.get("GET /index-dir/ HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(
        (r.status, r.body.as_slice(), r.header("Content-Type")),
        (200, &b"<p>index</p>"[..], Some("text/html"))
    );
    assert_eq!(
        c.get("GET /htm-dir/ HTTP/1.1\r\nHost: t\r\n\r\n").body,
        b"htm"
    );
    // An index.html that is a directory is not an index.
    let r = c.get("GET /spam/ HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(String::from_utf8_lossy(&r.body)
        .contains("<li><a href=\"index.html/\">index.html/</a></li>"));
}

#[test]
fn a_listing_is_pythons_page() {
    let dir = site();
    let r = client(dir.path()).get("GET /list-dir/?x=1 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("text/html; charset=utf-8"));
    assert_eq!(
        r.header("Content-Length").unwrap(),
        r.body.len().to_string()
    );
    let page = String::from_utf8(r.body).unwrap();
    assert!(
        page.contains("<title>Directory listing for /list-dir/</title>"),
        "{page}"
    );
    assert!(
        page.contains(
            "<ul>\n<li><a href=\"sub/\">sub/</a></li>\n<li><a href=\"x.txt\">x.txt</a></li>\n</ul>"
        ),
        "{page}"
    );
}

#[test]
fn listing_titles_are_decoded_and_escaped() {
    let dir = site();
    fs::create_dir(dir.path().join("a <b>&c")).unwrap();
    let r = client(dir.path()).get("GET /a%20%3Cb%3E%26c/ HTTP/1.1\r\nHost: t\r\n\r\n");
    let page = String::from_utf8(r.body).unwrap();
    assert!(
        page.contains("<h1>Directory listing for /a &lt;b&gt;&amp;c/</h1>"),
        "{page}"
    );
}

#[test]
fn path_attacks_never_leave_the_root() {
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("secret"), b"s").unwrap();
    let dir = tempfile::tempdir_in(outside.path()).unwrap();
    fs::write(dir.path().join("a.txt"), b"a").unwrap();
    symlink(outside.path().join("secret"), dir.path().join("link")).unwrap();
    let mut c = client(dir.path());
    for target in [
        "/../secret",
        "/%2e%2e/secret",
        "/%2E%2E%2fsecret",
        "/a/../../secret",
        "/..%2f..%2fsecret",
        "/link",
    ] {
        let r = c.get(&format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n"));
        assert_eq!(r.status, 404, "{target}");
    }
    // `..` inside the root still works, as in Python.
    assert_eq!(
        c.get("GET /x/../a.txt HTTP/1.1\r\nHost: t\r\n\r\n").body,
        b"a"
    );
    assert_eq!(
        c.get("GET /../a.txt HTTP/1.1\r\nHost: t\r\n\r\n").body,
        b"a"
    );
    let mut followed = Client::new(Http::new(FileServer::new(
        Root::new(dir.path(), true).unwrap(),
    )));
    assert_eq!(
        followed.get("GET /link HTTP/1.1\r\nHost: t\r\n\r\n").body,
        b"s"
    );
}

#[test]
fn a_nul_byte_is_400_and_closes() {
    let dir = site();
    let mut c = client(dir.path());
    assert_eq!(
        c.get("GET /a.txt%00.html HTTP/1.1\r\nHost: t\r\n\r\n")
            .status,
        400
    );
}

#[test]
fn special_files_are_not_served() {
    let dir = site();
    let listener = std::os::unix::net::UnixListener::bind(dir.path().join("sock")).unwrap();
    assert_eq!(
        client(dir.path())
            .get("GET /sock HTTP/1.1\r\nHost: t\r\n\r\n")
            .status,
        404
    );
    drop(listener);
    // A FIFO is neither opened for good (that would block on a writer) nor served.
    let made = std::process::Command::new("mkfifo")
        .arg(dir.path().join("fifo"))
        .status()
        .unwrap();
    assert!(made.success());
    let r = client(dir.path()).get("GET /fifo HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.status, 404);
}

#[test]
fn absolute_form_targets_and_targets_without_a_slash_are_served() {
    let dir = site();
    let mut c = client(dir.path());
    assert_eq!(
        c.get("GET http://example.com/a.txt HTTP/1.1\r\nHost: t\r\n\r\n")
            .status,
        200
    );
    assert_eq!(c.get("GET a.txt HTTP/1.1\r\nHost: t\r\n\r\n").status, 200);
    let r = c.get("GET http://example.com HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(String::from_utf8_lossy(&r.body).contains("Directory listing for"));
}

#[test]
fn undecodable_names_are_linked_and_served_like_python() {
    let dir = site();
    let name = OsStr::from_bytes(b"\xff.txt");
    fs::write(dir.path().join(name), b"raw").unwrap();
    let mut c = client(dir.path());
    let listing = c.get("GET / HTTP/1.1\r\nHost: t\r\n\r\n").body;
    let needle = b"<li><a href=\"%ED%B3%BF.txt\">\xff.txt</a></li>";
    assert!(listing.windows(needle.len()).any(|w| w == needle));
    assert_eq!(
        c.get("GET /%ED%B3%BF.txt HTTP/1.1\r\nHost: t\r\n\r\n").body,
        b"raw"
    );
    assert_eq!(
        c.get("GET /%FF.txt HTTP/1.1\r\nHost: t\r\n\r\n").body,
        b"raw"
    );
}

#[test]
fn unknown_extensions_get_the_default_type() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("data.unknownext"), b"x").unwrap();
    fs::write(dir.path().join("noext"), b"x").unwrap();
    fs::write(dir.path().join("page.html"), b"x").unwrap();
    let root = || Root::new(dir.path(), false).unwrap();
    let mut python = Client::new(Http::new(FileServer::new(root())));
    let mut custom = Client::new(Http::new(
        FileServer::new(root()).default_type("text/plain; charset=utf-8"),
    ));
    for (path, default, custom_type) in [
        (
            "/data.unknownext",
            "application/octet-stream",
            "text/plain; charset=utf-8",
        ),
        (
            "/noext",
            "application/octet-stream",
            "text/plain; charset=utf-8",
        ),
        ("/page.html", "text/html", "text/html"),
    ] {
        let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(python.get(&request).header("Content-Type"), Some(default));
        assert_eq!(
            custom.get(&request).header("Content-Type"),
            Some(custom_type)
        );
    }
}

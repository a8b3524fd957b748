//! The file server, through the connection in memory: files, directories, listings,
//! redirects, path safety, ranges, validators and gzip as the client sees them.

mod util;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::time::Duration;

use sockserv_http::files::Root;
use sockserv_http::gzip::MAX_GZIP_FILE;
use sockserv_http::{FileServer, Http};

use util::{client, file_server, gunzip, site, Client};

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
    let get = c.get("GET /a.txt HTTP/1.1\r\n\r\n");
    let head = c.get("HEAD /a.txt HTTP/1.1\r\n\r\n");
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
    let listing = c.get("HEAD /list-dir/ HTTP/1.1\r\n\r\n");
    assert_eq!(listing.status, 200);
    assert!(listing.body.is_empty() && listing.header("Content-Length").is_some());
    let missing = c.get("HEAD /nope HTTP/1.1\r\n\r\n");
    assert_eq!(missing.status, 404);
    assert!(missing.body.is_empty());
}

#[test]
fn missing_files_are_404_and_keep_the_connection() {
    let dir = site();
    let mut c = client(dir.path());
    let r = c.get("GET /nope.txt HTTP/1.1\r\n\r\n");
    assert_eq!(r.status, 404);
    assert_eq!(r.header("Content-Type"), Some("text/html;charset=utf-8"));
    assert!(String::from_utf8_lossy(&r.body).contains("<p>Message: File not found.</p>"));
    assert!(!c.closing());
    assert_eq!(c.get("GET /nope/ HTTP/1.1\r\n\r\n").status, 404);
    assert_eq!(c.get("GET /a.txt HTTP/1.1\r\n\r\n").status, 200);
}

#[test]
fn a_file_asked_for_as_a_directory_is_404() {
    let dir = site();
    assert_eq!(
        client(dir.path())
            .get("GET /a.txt/ HTTP/1.1\r\n\r\n")
            .status,
        404
    );
}

#[test]
fn a_directory_without_its_slash_is_redirected_with_the_query() {
    let dir = site();
    let mut c = client(dir.path());
    let r = c.get("GET /list-dir HTTP/1.1\r\n\r\n");
    assert_eq!(
        (r.status, r.header("Location"), r.header("Content-Length")),
        (301, Some("/list-dir/"), Some("0"))
    );
    let r = c.get("GET /list-dir?hi=1 HTTP/1.1\r\n\r\n");
    assert_eq!(r.header("Location"), Some("/list-dir/?hi=1"));
    let r = c.get("GET list-dir HTTP/1.1\r\n\r\n");
    assert_eq!(r.header("Location"), Some("list-dir/"));
    let r = c.get("GET http://example.com/list-dir?q HTTP/1.1\r\n\r\n");
    assert_eq!(r.header("Location"), Some("http://example.com/list-dir/?q"));
    assert_eq!(c.get("GET /list-dir/?hi=2 HTTP/1.1\r\n\r\n").status, 200);
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
        let r = c.get(&format!("GET {target} HTTP/1.1\r\n\r\n"));
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
    let r = c.get("GET /index-dir/ HTTP/1.1\r\n\r\n");
    assert_eq!(
        (r.status, r.body.as_slice(), r.header("Content-Type")),
        (200, &b"<p>index</p>"[..], Some("text/html"))
    );
    assert_eq!(c.get("GET /htm-dir/ HTTP/1.1\r\n\r\n").body, b"htm");
    // An index.html that is a directory is not an index.
    let r = c.get("GET /spam/ HTTP/1.1\r\n\r\n");
    assert!(String::from_utf8_lossy(&r.body)
        .contains("<li><a href=\"index.html/\">index.html/</a></li>"));
}

#[test]
fn a_listing_is_pythons_page() {
    let dir = site();
    let r = client(dir.path()).get("GET /list-dir/?x=1 HTTP/1.1\r\n\r\n");
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
    let r = client(dir.path()).get("GET /a%20%3Cb%3E%26c/ HTTP/1.1\r\n\r\n");
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
        let r = c.get(&format!("GET {target} HTTP/1.1\r\n\r\n"));
        assert_eq!(r.status, 404, "{target}");
    }
    // `..` inside the root still works, as in Python.
    assert_eq!(c.get("GET /x/../a.txt HTTP/1.1\r\n\r\n").body, b"a");
    assert_eq!(c.get("GET /../a.txt HTTP/1.1\r\n\r\n").body, b"a");
    let mut followed = Client::new(Http::new(FileServer::new(
        Root::new(dir.path(), true).unwrap(),
    )));
    assert_eq!(followed.get("GET /link HTTP/1.1\r\n\r\n").body, b"s");
}

#[test]
fn a_nul_byte_is_400_and_closes() {
    let dir = site();
    let mut c = client(dir.path());
    assert_eq!(c.get("GET /a.txt%00.html HTTP/1.1\r\n\r\n").status, 400);
}

#[test]
fn special_files_are_not_served() {
    let dir = site();
    let listener = std::os::unix::net::UnixListener::bind(dir.path().join("sock")).unwrap();
    assert_eq!(
        client(dir.path()).get("GET /sock HTTP/1.1\r\n\r\n").status,
        404
    );
    drop(listener);
    // A FIFO is neither opened for good (that would block on a writer) nor served.
    let made = std::process::Command::new("mkfifo")
        .arg(dir.path().join("fifo"))
        .status()
        .unwrap();
    assert!(made.success());
    let r = client(dir.path()).get("GET /fifo HTTP/1.1\r\n\r\n");
    assert_eq!(r.status, 404);
}

#[test]
fn absolute_form_targets_and_targets_without_a_slash_are_served() {
    let dir = site();
    let mut c = client(dir.path());
    assert_eq!(
        c.get("GET http://example.com/a.txt HTTP/1.1\r\n\r\n")
            .status,
        200
    );
    assert_eq!(c.get("GET a.txt HTTP/1.1\r\n\r\n").status, 200);
    let r = c.get("GET http://example.com HTTP/1.1\r\n\r\n");
    assert!(String::from_utf8_lossy(&r.body).contains("Directory listing for"));
}

#[test]
fn undecodable_names_are_linked_and_served_like_python() {
    let dir = site();
    let name = OsStr::from_bytes(b"\xff.txt");
    fs::write(dir.path().join(name), b"raw").unwrap();
    let mut c = client(dir.path());
    let listing = c.get("GET / HTTP/1.1\r\n\r\n").body;
    let needle = b"<li><a href=\"%ED%B3%BF.txt\">\xff.txt</a></li>";
    assert!(listing.windows(needle.len()).any(|w| w == needle));
    assert_eq!(c.get("GET /%ED%B3%BF.txt HTTP/1.1\r\n\r\n").body, b"raw");
    assert_eq!(c.get("GET /%FF.txt HTTP/1.1\r\n\r\n").body, b"raw");
}

// Ranges, validators and gzip.

#[test]
fn a_single_range_is_206() {
    let dir = site();
    let mut c = client(dir.path());
    for (range, body, content_range) in [
        ("bytes=0-4", &b"abcde"[..], "bytes 0-4/26"),
        ("bytes=23-", b"xyz", "bytes 23-25/26"),
        ("bytes=-2", b"yz", "bytes 24-25/26"),
        ("bytes=20-100", b"uvwxyz", "bytes 20-25/26"),
    ] {
        let r = c.get(&format!("GET /a.txt HTTP/1.1\r\nRange: {range}\r\n\r\n"));
        assert_eq!(r.status, 206, "{range}");
        assert_eq!(r.body, body, "{range}");
        assert_eq!(r.header("Content-Range"), Some(content_range));
        assert_eq!(r.header("Content-Length").unwrap(), body.len().to_string());
    }
}

#[test]
fn a_range_past_the_end_is_416_with_the_length() {
    let dir = site();
    let mut c = client(dir.path());
    let r = c.get("GET /a.txt HTTP/1.1\r\nRange: bytes=26-\r\n\r\n");
    assert_eq!(
        (r.status, r.header("Content-Range")),
        (416, Some("bytes */26"))
    );
    assert!(!c.closing());
    // A malformed range is ignored: the whole file.
    let r = c.get("GET /a.txt HTTP/1.1\r\nRange: bytes=5-1\r\n\r\n");
    assert_eq!((r.status, r.body.len()), (200, 26));
}

#[test]
fn several_ranges_are_multipart_byteranges() {
    let dir = site();
    let r = client(dir.path()).get("GET /a.txt HTTP/1.1\r\nRange: bytes=0-1, 24-\r\n\r\n");
    assert_eq!(r.status, 206);
    let content_type = r.header("Content-Type").unwrap();
    let boundary = content_type
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap();
    let expected = format!(
        "--{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/26\r\n\r\nab\r\n\
         --{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 24-25/26\r\n\r\nyz\r\n\
         --{boundary}--\r\n"
    );
    assert_eq!(
        r.header("Content-Length").unwrap(),
        expected.len().to_string()
    );
    assert_eq!(String::from_utf8(r.body).unwrap(), expected);
}

#[test]
fn if_range_serves_the_whole_file_when_it_changed() {
    let dir = site();
    let mut c = client(dir.path());
    let etag = c
        .get("GET /a.txt HTTP/1.1\r\n\r\n")
        .header("ETag")
        .unwrap()
        .to_owned();
    let r = c.get(&format!(
        "GET /a.txt HTTP/1.1\r\nRange: bytes=0-0\r\nIf-Range: {etag}\r\n\r\n"
    ));
    assert_eq!((r.status, r.body.as_slice()), (206, &b"a"[..]));
    let r = c.get("GET /a.txt HTTP/1.1\r\nRange: bytes=0-0\r\nIf-Range: \"old\"\r\n\r\n");
    assert_eq!((r.status, r.body.len()), (200, 26));
}

#[test]
fn validators_give_304_without_a_body() {
    let dir = site();
    let mut c = client(dir.path());
    let first = c.get("GET /a.txt HTTP/1.1\r\n\r\n");
    let etag = first.header("ETag").unwrap();
    let modified = first.header("Last-Modified").unwrap();
    let r = c.get(&format!(
        "GET /a.txt HTTP/1.1\r\nIf-None-Match: {etag}\r\n\r\n"
    ));
    assert_eq!(
        (r.status, r.header("ETag"), r.body.len()),
        (304, Some(etag), 0)
    );
    assert_eq!(r.header("Content-Length"), None);
    let r = c.get(&format!(
        "GET /a.txt HTTP/1.1\r\nIf-Modified-Since: {modified}\r\n\r\n"
    ));
    assert_eq!(r.status, 304);
    // If-None-Match wins over If-Modified-Since, as in Python.
    let r = c.get(&format!(
        "GET /a.txt HTTP/1.1\r\nIf-None-Match: \"x\"\r\nIf-Modified-Since: {modified}\r\n\r\n"
    ));
    assert_eq!(r.status, 200);
    let r =
        c.get("GET /a.txt HTTP/1.1\r\nIf-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\n");
    assert_eq!(r.status, 200);
    let r = c.get("GET /a.txt HTTP/1.1\r\nIf-Match: \"x\"\r\n\r\n");
    assert_eq!(r.status, 412);
    assert!(!c.closing());
}

#[test]
fn gzip_compresses_text_for_clients_that_accept_it() {
    let dir = site();
    let text = "compress me ".repeat(500);
    fs::write(dir.path().join("t.txt"), &text).unwrap();
    fs::write(dir.path().join("p.png"), &text).unwrap();
    let mut c = Client::new(Http::new(file_server(dir.path()).gzip(true)));
    let r = c.get("GET /t.txt HTTP/1.1\r\nAccept-Encoding: gzip, br\r\n\r\n");
    assert_eq!(
        (r.status, r.header("Content-Encoding"), r.header("Vary")),
        (200, Some("gzip"), Some("Accept-Encoding"))
    );
    assert!(r.body.len() < text.len() / 10);
    assert_eq!(gunzip(&r.body), text.as_bytes());
    let gz_etag = r.header("ETag").unwrap().to_owned();
    let plain = c.get("GET /t.txt HTTP/1.1\r\n\r\n");
    assert_eq!(
        (plain.header("Content-Encoding"), plain.header("Vary")),
        (None, Some("Accept-Encoding"))
    );
    assert_eq!(plain.body, text.as_bytes());
    assert_ne!(plain.header("ETag").unwrap(), gz_etag);
    let r = c.get(&format!(
        "GET /t.txt HTTP/1.1\r\nAccept-Encoding: gzip\r\nIf-None-Match: {gz_etag}\r\n\r\n"
    ));
    assert_eq!(r.status, 304);
    // Never with a range, never for images.
    let r = c.get("GET /t.txt HTTP/1.1\r\nAccept-Encoding: gzip\r\nRange: bytes=0-3\r\n\r\n");
    assert_eq!(
        (r.status, r.header("Content-Encoding"), r.body.as_slice()),
        (206, None, &b"comp"[..])
    );
    let r = c.get("GET /p.png HTTP/1.1\r\nAccept-Encoding: gzip\r\n\r\n");
    assert_eq!(
        (r.header("Content-Encoding"), r.header("Vary")),
        (None, None)
    );
    let r = c.get("HEAD /t.txt HTTP/1.1\r\nAccept-Encoding: gzip\r\n\r\n");
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
    assert!(r.body.is_empty());
    let r = c.get("GET /list-dir/ HTTP/1.1\r\nAccept-Encoding: gzip\r\n\r\n");
    assert!(String::from_utf8(gunzip(&r.body))
        .unwrap()
        .contains("x.txt"));
}

#[test]
fn gzip_leaves_big_files_alone() {
    let dir = site();
    let big = vec![b'a'; (MAX_GZIP_FILE + 1) as usize];
    fs::write(dir.path().join("big.txt"), &big).unwrap();
    let mut c = Client::new(Http::new(file_server(dir.path()).gzip(true)));
    let r = c.get("GET /big.txt HTTP/1.1\r\nAccept-Encoding: gzip\r\n\r\n");
    assert_eq!(
        (r.header("Content-Encoding"), r.body.len()),
        (None, big.len())
    );
}

#[test]
fn if_none_match_star_matches_any_existing_file() {
    let dir = site();
    let mut c = client(dir.path());
    assert_eq!(
        c.get("GET /a.txt HTTP/1.1\r\nIf-None-Match: *\r\n\r\n")
            .status,
        304
    );
    assert_eq!(
        c.get("GET /nope HTTP/1.1\r\nIf-None-Match: *\r\n\r\n")
            .status,
        404
    );
}

// Decisions, checked as values: no bytes written or parsed.

mod decisions {
    use sockserv_http::{Body, FileSlice, Response, Status};

    use super::util::{file_server, request, site};

    fn decide(server: &sockserv_http::FileServer, input: &str) -> Response {
        server.decide(&request(input.as_bytes()))
    }

    #[test]
    fn a_whole_file_is_a_file_slice_with_its_validators() {
        let dir = site();
        let r = decide(&file_server(dir.path()), "GET /a.txt HTTP/1.1\r\n\r\n");
        assert_eq!(r.status, Status::OK);
        assert!(matches!(
            r.body,
            Body::File(FileSlice {
                offset: 0,
                len: 26,
                ..
            })
        ));
        assert_eq!(r.header("Content-Type"), Some("text/plain"));
        assert_eq!(r.header("Accept-Ranges"), Some("bytes"));
        assert!(r.header("ETag").is_some() && r.header("Last-Modified").is_some());
        assert_eq!(r.header("Vary"), None);
        assert!(!r.close);
    }

    #[test]
    fn ranges_are_one_slice_several_parts_or_416() {
        let dir = site();
        let server = file_server(dir.path());
        let one = decide(&server, "GET /a.txt HTTP/1.1\r\nRange: bytes=-3\r\n\r\n");
        assert_eq!(one.status, Status::PARTIAL_CONTENT);
        assert!(matches!(
            one.body,
            Body::File(FileSlice {
                offset: 23,
                len: 3,
                ..
            })
        ));
        assert_eq!(one.header("Content-Range"), Some("bytes 23-25/26"));
        let many = decide(
            &server,
            "GET /a.txt HTTP/1.1\r\nRange: bytes=0-1,24-\r\n\r\n",
        );
        let Body::Ranges(multipart) = &many.body else {
            panic!("multipart: {:?}", many.body);
        };
        assert_eq!(multipart.parts, [(0, 1), (24, 25)]);
        assert_eq!(
            many.header("Content-Type").unwrap(),
            format!("multipart/byteranges; boundary={}", multipart.boundary)
        );
        let none = decide(&server, "GET /a.txt HTTP/1.1\r\nRange: bytes=30-\r\n\r\n");
        assert_eq!(none.status, Status::RANGE_NOT_SATISFIABLE);
        assert_eq!(none.header("Content-Range"), Some("bytes */26"));
    }

    #[test]
    fn gzip_is_compressed_bytes_with_their_own_etag() {
        let dir = site();
        let server = file_server(dir.path()).gzip(true);
        let plain = decide(&server, "GET /a.txt HTTP/1.1\r\n\r\n");
        let packed = decide(
            &server,
            "GET /a.txt HTTP/1.1\r\nAccept-Encoding: gzip\r\n\r\n",
        );
        assert!(matches!(plain.body, Body::File(_)));
        assert_eq!(plain.header("Vary"), Some("Accept-Encoding"));
        let Body::Bytes(bytes) = &packed.body else {
            panic!("compressed bytes: {:?}", packed.body);
        };
        assert_eq!(super::gunzip(bytes), b"abcdefghijklmnopqrstuvwxyz");
        assert_eq!(packed.header("Content-Encoding"), Some("gzip"));
        assert_ne!(packed.header("ETag"), plain.header("ETag"));
    }

    #[test]
    fn not_modified_redirects_and_refusals() {
        let dir = site();
        let server = file_server(dir.path());
        let etag = decide(&server, "GET /a.txt HTTP/1.1\r\n\r\n")
            .header("ETag")
            .unwrap()
            .to_owned();
        let r = decide(
            &server,
            &format!("GET /a.txt HTTP/1.1\r\nIf-None-Match: {etag}\r\n\r\n"),
        );
        assert_eq!((r.status, r.content_length()), (Status::NOT_MODIFIED, None));
        assert!(matches!(r.body, Body::Empty));
        let r = decide(&server, "GET /list-dir?q HTTP/1.1\r\n\r\n");
        assert_eq!(r.status, Status::MOVED_PERMANENTLY);
        assert_eq!(r.header("Location"), Some("/list-dir/?q"));
        let r = decide(&server, "GET /a%00 HTTP/1.1\r\n\r\n");
        assert_eq!((r.status, r.close), (Status::BAD_REQUEST, true));
        let r = decide(&server, "DELETE /a.txt HTTP/1.1\r\n\r\n");
        assert_eq!((r.status, r.close), (Status::NOT_IMPLEMENTED, true));
        let r = decide(&server, "GET /nope HTTP/1.1\r\n\r\n");
        assert_eq!((r.status, r.close), (Status::NOT_FOUND, false));
    }
}

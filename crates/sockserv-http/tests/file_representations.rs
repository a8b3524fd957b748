//! The representations of one file — ranges, validators (ETag, dates), gzip — as the
//! client sees them through the connection, and as the file server's decisions (values,
//! no bytes).

mod util;

use std::fs;

use sockserv_http::gzip::MAX_GZIP_FILE;
use sockserv_http::Http;

use util::{client, file_server, gunzip, site, Client};

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
        let r = c.get(&format!(
            "GET /a.txt HTTP/1.1\r\nHost: t\r\nRange: {range}\r\n\r\n"
        ));
        assert_eq!(r.status, 206, "{range}");
        assert_eq!(r.body, body, "{range}");
        assert_eq!(r.header("Content-Range"), Some(content_range));
        assert_eq!(r.header("Content-Length").unwrap(), body.len().to_string());
    }
}

#[test]
fn overlapping_ranges_never_send_more_than_the_file() {
    // CVE-2011-3192's class: `bytes=0-,0-,...` used to send the file once per range.
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..4096u32).map(|i| (i % 251) as u8).collect();
    fs::write(dir.path().join("f.bin"), &data).unwrap();
    let mut c = client(dir.path());
    let ranges = vec!["0-"; 16].join(",");
    let r = c.get(&format!(
        "GET /f.bin HTTP/1.1\r\nHost: t\r\nRange: bytes={ranges}\r\n\r\n"
    ));
    assert_eq!((r.status, r.body.len()), (200, 4096));
    assert_eq!(r.body, data);
    // Overlapping and adjacent ranges within the size: one part.
    let r = c.get("GET /f.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=100-199,0-99,150-300\r\n\r\n");
    assert_eq!(r.status, 206);
    assert_eq!(r.header("Content-Range"), Some("bytes 0-300/4096"));
    assert_eq!(r.body, &data[..301]);
    // Many tiny ranges whose framing outweighs the file: the whole file.
    let tiny = (0..16)
        .map(|i| format!("{0}-{0}", i * 60))
        .collect::<Vec<_>>();
    fs::write(dir.path().join("small.bin"), &data[..1000]).unwrap();
    let r = c.get(&format!(
        "GET /small.bin HTTP/1.1\r\nHost: t\r\nRange: bytes={}\r\n\r\n",
        tiny.join(",")
    ));
    assert_eq!((r.status, r.body.len()), (200, 1000));
}

#[test]
fn a_range_past_the_end_is_416_with_the_length() {
    let dir = site();
    let mut c = client(dir.path());
    let r = c.get("GET /a.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=26-\r\n\r\n");
    assert_eq!(
        (r.status, r.header("Content-Range")),
        (416, Some("bytes */26"))
    );
    assert!(!c.closing());
    // A malformed range is ignored: the whole file.
    let r = c.get("GET /a.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=5-1\r\n\r\n");
    assert_eq!((r.status, r.body.len()), (200, 26));
}

#[test]
fn several_ranges_are_multipart_byteranges() {
    let dir = site();
    let r = client(dir.path())
        .get("GET /long.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-1, 1038-\r\n\r\n");
    assert_eq!(r.status, 206);
    let content_type = r.header("Content-Type").unwrap();
    let boundary = content_type
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap();
    let expected = format!(
        "--{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/1040\r\n\r\nab\r\n\
         --{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 1038-1039/1040\r\n\r\nyz\r\n\
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
        .get("GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        .header("ETag")
        .unwrap()
        .to_owned();
    let r = c.get(&format!(
        "GET /a.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-0\r\nIf-Range: {etag}\r\n\r\n"
    ));
    assert_eq!((r.status, r.body.as_slice()), (206, &b"a"[..]));
    let r =
        c.get("GET /a.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-0\r\nIf-Range: \"old\"\r\n\r\n");
    assert_eq!((r.status, r.body.len()), (200, 26));
}

#[test]
fn validators_give_304_without_a_body() {
    let dir = site();
    let mut c = client(dir.path());
    let first = c.get("GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    let etag = first.header("ETag").unwrap();
    let modified = first.header("Last-Modified").unwrap();
    let r = c.get(&format!(
        "GET /a.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\n\r\n"
    ));
    assert_eq!(
        (r.status, r.header("ETag"), r.body.len()),
        (304, Some(etag), 0)
    );
    assert_eq!(r.header("Content-Length"), None);
    let r = c.get(&format!(
        "GET /a.txt HTTP/1.1\r\nHost: t\r\nIf-Modified-Since: {modified}\r\n\r\n"
    ));
    assert_eq!(r.status, 304);
    // If-None-Match wins over If-Modified-Since, as in Python.
    let r = c.get(&format!(
        "GET /a.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: \"x\"\r\nIf-Modified-Since: {modified}\r\n\r\n"
    ));
    assert_eq!(r.status, 200);
    let r =
        c.get("GET /a.txt HTTP/1.1\r\nHost: t\r\nIf-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\n");
    assert_eq!(r.status, 200);
    let r = c.get("GET /a.txt HTTP/1.1\r\nHost: t\r\nIf-Match: \"x\"\r\n\r\n");
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
    let r = c.get("GET /t.txt HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip, br\r\n\r\n");
    assert_eq!(
        (r.status, r.header("Content-Encoding"), r.header("Vary")),
        (200, Some("gzip"), Some("Accept-Encoding"))
    );
    assert!(r.body.len() < text.len() / 10);
    assert_eq!(gunzip(&r.body), text.as_bytes());
    let gz_etag = r.header("ETag").unwrap().to_owned();
    let plain = c.get("GET /t.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(
        (plain.header("Content-Encoding"), plain.header("Vary")),
        (None, Some("Accept-Encoding"))
    );
    assert_eq!(plain.body, text.as_bytes());
    assert_ne!(plain.header("ETag").unwrap(), gz_etag);
    let r = c.get(&format!(
        "GET /t.txt HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\nIf-None-Match: {gz_etag}\r\n\r\n"
    ));
    assert_eq!(r.status, 304);
    // Never with a range, never for images.
    let r = c
        .get("GET /t.txt HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\nRange: bytes=0-3\r\n\r\n");
    assert_eq!(
        (r.status, r.header("Content-Encoding"), r.body.as_slice()),
        (206, None, &b"comp"[..])
    );
    let r = c.get("GET /p.png HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n");
    assert_eq!(
        (r.header("Content-Encoding"), r.header("Vary")),
        (None, None)
    );
    let r = c.get("HEAD /t.txt HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n");
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
    assert!(r.body.is_empty());
    let r = c.get("GET /list-dir/ HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n");
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
    let r = c.get("GET /big.txt HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n");
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
        c.get("GET /a.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: *\r\n\r\n")
            .status,
        304
    );
    assert_eq!(
        c.get("GET /nope HTTP/1.1\r\nHost: t\r\nIf-None-Match: *\r\n\r\n")
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
        let r = decide(
            &file_server(dir.path()),
            "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n",
        );
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
        let one = decide(
            &server,
            "GET /a.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=-3\r\n\r\n",
        );
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
            "GET /long.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=1038-,0-1\r\n\r\n",
        );
        let Body::Ranges(multipart) = &many.body else {
            panic!("multipart: {:?}", many.body);
        };
        assert_eq!(multipart.parts, [(0, 1), (1038, 1039)]);
        assert_eq!(
            many.header("Content-Type").unwrap(),
            format!("multipart/byteranges; boundary={}", multipart.boundary)
        );
        let none = decide(
            &server,
            "GET /a.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=30-\r\n\r\n",
        );
        assert_eq!(none.status, Status::RANGE_NOT_SATISFIABLE);
        assert_eq!(none.header("Content-Range"), Some("bytes */26"));
    }

    #[test]
    fn gzip_is_compressed_bytes_with_their_own_etag() {
        let dir = site();
        let server = file_server(dir.path()).gzip(true);
        let plain = decide(&server, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
        let packed = decide(
            &server,
            "GET /a.txt HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n",
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
        let etag = decide(&server, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n")
            .header("ETag")
            .unwrap()
            .to_owned();
        let r = decide(
            &server,
            &format!("GET /a.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\n\r\n"),
        );
        assert_eq!((r.status, r.content_length()), (Status::NOT_MODIFIED, None));
        assert!(matches!(r.body, Body::Empty));
        let r = decide(&server, "GET /list-dir?q HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(r.status, Status::MOVED_PERMANENTLY);
        assert_eq!(r.header("Location"), Some("/list-dir/?q"));
        let r = decide(&server, "GET /a%00 HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!((r.status, r.close), (Status::BAD_REQUEST, true));
        let r = decide(&server, "DELETE /a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!((r.status, r.close), (Status::NOT_IMPLEMENTED, true));
        let r = decide(&server, "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!((r.status, r.close), (Status::NOT_FOUND, false));
    }
}

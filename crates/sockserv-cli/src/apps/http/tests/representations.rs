//! The ways one file can be answered: ranges, validators (ETag, dates) and gzip.

use super::*;

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
        assert_eq!(r.field("Content-Range"), Some(content_range));
        assert_eq!(r.field("Content-Length").unwrap(), body.len().to_string());
    }
}

#[test]
fn a_range_past_the_end_is_416_with_the_length() {
    let dir = site();
    let mut c = client(dir.path());
    let r = c.get("GET /a.txt HTTP/1.1\r\nRange: bytes=26-\r\n\r\n");
    assert_eq!(
        (r.status, r.field("Content-Range")),
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
    let content_type = r.field("Content-Type").unwrap();
    let boundary = content_type
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap();
    let expected = format!(
        "--{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/26\r\n\r\nab\r\n\
         --{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 24-25/26\r\n\r\nyz\r\n\
         --{boundary}--\r\n"
    );
    assert_eq!(
        r.field("Content-Length").unwrap(),
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
        .field("ETag")
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
    let etag = first.field("ETag").unwrap();
    let modified = first.field("Last-Modified").unwrap();
    let r = c.get(&format!(
        "GET /a.txt HTTP/1.1\r\nIf-None-Match: {etag}\r\n\r\n"
    ));
    assert_eq!(
        (r.status, r.field("ETag"), r.body.len()),
        (304, Some(etag), 0)
    );
    assert_eq!(r.field("Content-Length"), None);
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
    let mut c = client_with(dir.path(), |cfg| cfg.gzip = true);
    let r = c.get("GET /t.txt HTTP/1.1\r\nAccept-Encoding: gzip, br\r\n\r\n");
    assert_eq!(
        (r.status, r.field("Content-Encoding"), r.field("Vary")),
        (200, Some("gzip"), Some("Accept-Encoding"))
    );
    assert!(r.body.len() < text.len() / 10);
    assert_eq!(gunzip(&r.body), text.as_bytes());
    let gz_etag = r.field("ETag").unwrap().to_owned();
    let plain = c.get("GET /t.txt HTTP/1.1\r\n\r\n");
    assert_eq!(
        (plain.field("Content-Encoding"), plain.field("Vary")),
        (None, Some("Accept-Encoding"))
    );
    assert_eq!(plain.body, text.as_bytes());
    assert_ne!(plain.field("ETag").unwrap(), gz_etag);
    let r = c.get(&format!(
        "GET /t.txt HTTP/1.1\r\nAccept-Encoding: gzip\r\nIf-None-Match: {gz_etag}\r\n\r\n"
    ));
    assert_eq!(r.status, 304);
    // Never with a range, never for images.
    let r = c.get("GET /t.txt HTTP/1.1\r\nAccept-Encoding: gzip\r\nRange: bytes=0-3\r\n\r\n");
    assert_eq!(
        (r.status, r.field("Content-Encoding"), r.body.as_slice()),
        (206, None, &b"comp"[..])
    );
    let r = c.get("GET /p.png HTTP/1.1\r\nAccept-Encoding: gzip\r\n\r\n");
    assert_eq!((r.field("Content-Encoding"), r.field("Vary")), (None, None));
    let r = c.get("HEAD /t.txt HTTP/1.1\r\nAccept-Encoding: gzip\r\n\r\n");
    assert_eq!(r.field("Content-Encoding"), Some("gzip"));
    assert!(r.body.is_empty());
    let r = c.get("GET /list-dir/ HTTP/1.1\r\nAccept-Encoding: gzip\r\n\r\n");
    assert!(String::from_utf8(gunzip(&r.body))
        .unwrap()
        .contains("x.txt"));
}

#[test]
fn gzip_leaves_big_files_alone() {
    let dir = site();
    let big = vec![b'a'; (gzip::MAX_GZIP_FILE + 1) as usize];
    fs::write(dir.path().join("big.txt"), &big).unwrap();
    let mut c = client_with(dir.path(), |cfg| cfg.gzip = true);
    let r = c.get("GET /big.txt HTTP/1.1\r\nAccept-Encoding: gzip\r\n\r\n");
    assert_eq!(
        (r.field("Content-Encoding"), r.body.len()),
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

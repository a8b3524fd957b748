//! `sockserv http`'s range requests and entity tags, checked against RFC 9110 over raw
//! sockets: 206 with Content-Range, 416, multipart/byteranges, If-Range, ETag with
//! If-None-Match. Python's http.server has none of this, so these run on sockserv only.

mod http_support;
mod util;

use http_support::raw::{fetch, Response};
use http_support::*;

const SIZE: usize = 1000;

fn ranged_tree() -> Tree {
    let tree = Tree::new();
    tree.file("data.bin", &payload(SIZE));
    tree.file("big.bin", &payload(4 << 20));
    tree
}

fn ranged(server: &HttpServer, target: &str, range: &str, extra: &[(&str, &str)]) -> Response {
    let mut headers = vec![("Range", range)];
    headers.extend_from_slice(extra);
    fetch(server.addr, "GET", target, &headers)
}

/// The parts of a 206: one (Content-Range, bytes) per range, whether single-part or
/// multipart/byteranges (RFC 9110 §14.6).
fn parts(response: &Response) -> Vec<(String, Vec<u8>)> {
    assert_eq!(response.status, 206, "{response:?}");
    let content_type = response.header("content-type").unwrap_or_default();
    if !content_type.starts_with("multipart/byteranges") {
        let range = response.header("content-range").expect("Content-Range");
        return vec![(range.to_string(), response.body.clone())];
    }
    let boundary = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .expect("a boundary")
        .trim_matches('"');
    let delimiter = format!("\r\n--{boundary}");
    // Prefixing CRLF lets the first delimiter look like the others (its CRLF is optional).
    let mut body = b"\r\n".to_vec();
    body.extend_from_slice(&response.body);
    let mut found = Vec::new();
    let mut rest = &body[find(&body, delimiter.as_bytes()).expect("first delimiter")..];
    loop {
        rest = &rest[delimiter.len()..];
        if rest.starts_with(b"--") {
            return found;
        }
        let head_end = find(rest, b"\r\n\r\n").expect("part headers end");
        let head = String::from_utf8_lossy(&rest[..head_end]).into_owned();
        let range = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-range")
                    .then(|| value.trim().to_string())
            })
            .unwrap_or_else(|| panic!("no Content-Range in part {head:?}"));
        rest = &rest[head_end + 4..];
        let end = find(rest, delimiter.as_bytes()).expect("next delimiter");
        found.push((range, rest[..end].to_vec()));
        rest = &rest[end..];
    }
}

fn slice(from: usize, to: usize) -> (String, Vec<u8>) {
    (
        format!("bytes {from}-{to}/{SIZE}"),
        payload(SIZE)[from..=to].to_vec(),
    )
}

/// Single ranges: first-last, open-ended, suffix, past the end (clamped), one byte.
#[test]
fn single_ranges_get_206_with_content_range() {
    if python_lacks("Range") {
        return;
    }
    for mode in HTTP_MODES {
        let tree = ranged_tree();
        let server = HttpServer::start(&tree.root(), mode, &[]);
        let full = fetch(server.addr, "GET", "/data.bin", &[]);
        assert_eq!(full.header("accept-ranges"), Some("bytes"), "{mode}");
        for (range, expected) in [
            ("bytes=0-9", slice(0, 9)),
            ("bytes=990-", slice(990, 999)),
            ("bytes=-10", slice(990, 999)),
            ("bytes=995-5000", slice(995, 999)),
            ("bytes=500-500", slice(500, 500)),
            ("bytes=0-", slice(0, 999)),
        ] {
            let response = ranged(&server, "/data.bin", range, &[]);
            assert_eq!(parts(&response), vec![expected], "{mode}: {range}");
            let length = response.body.len().to_string();
            assert_eq!(response.header("content-length"), Some(length.as_str()));
        }
        // A range deep in a file large enough for sendfile.
        let big = ranged(&server, "/big.bin", "bytes=3000000-3000099", &[]);
        assert_eq!(big.status, 206, "{mode}");
        assert_eq!(big.body, payload(4 << 20)[3_000_000..3_000_100], "{mode}");
    }
}

/// Nothing satisfiable: 416 with `Content-Range: bytes */SIZE` (§15.5.17). An unknown unit
/// is ignored (§14.2: MUST), a malformed spec may be ignored or refused.
#[test]
fn unsatisfiable_ranges_get_416_and_unknown_units_are_ignored() {
    if python_lacks("Range") {
        return;
    }
    for mode in HTTP_MODES {
        let tree = ranged_tree();
        let server = HttpServer::start(&tree.root(), mode, &[]);
        for range in ["bytes=1000-", "bytes=5000-6000", "bytes=1000-1000,2000-"] {
            let response = ranged(&server, "/data.bin", range, &[]);
            assert_eq!(response.status, 416, "{mode}: {range} -> {response:?}");
            let unsatisfied = format!("bytes */{SIZE}");
            assert_eq!(response.header("content-range"), Some(unsatisfied.as_str()));
        }
        for range in ["items=0-5", "bytes=abc", "bytes=9-2", "bytes=--3"] {
            let response = ranged(&server, "/data.bin", range, &[]);
            match response.status {
                200 => assert_eq!(response.body, payload(SIZE), "{mode}: {range}"),
                416 if !range.starts_with("items") => {}
                other => panic!("{mode}: {range} -> {other}: {response:?}"),
            }
        }
    }
}

/// Several ranges, far enough apart not to be coalesced, come back as
/// multipart/byteranges in the order asked; unsatisfiable ones are left out.
#[test]
fn multiple_ranges_get_multipart_byteranges() {
    if python_lacks("Range") {
        return;
    }
    for mode in HTTP_MODES {
        let tree = ranged_tree();
        let server = HttpServer::start(&tree.root(), mode, &[]);
        let response = ranged(&server, "/data.bin", "bytes=0-9,500-509,-5", &[]);
        let content_type = response.header("content-type").unwrap_or_default();
        assert!(
            content_type.starts_with("multipart/byteranges"),
            "{mode}: {content_type}"
        );
        let expected = vec![slice(0, 9), slice(500, 509), slice(995, 999)];
        assert_eq!(parts(&response), expected, "{mode}");
        let partly = ranged(&server, "/data.bin", "bytes=0-9,5000-5009", &[]);
        assert_eq!(parts(&partly), vec![slice(0, 9)], "{mode}");
    }
}

/// CVE-2011-3192's class: ranges that overlap or add up to more than the file never
/// make the answer larger than the file plus framing. Overlapping and adjacent ranges
/// are coalesced; ranges adding up to more than the file get it whole, with 200.
#[test]
fn overlapping_ranges_never_multiply_the_file() {
    if python_lacks("Range") {
        return;
    }
    for mode in HTTP_MODES {
        let tree = ranged_tree();
        tree.file("four.bin", &payload(4096));
        let server = HttpServer::start(&tree.root(), mode, &[]);
        for ranges in [
            vec!["0-"; 16].join(","),
            "0-,0-".into(),
            "0-3000,1000-".into(),
        ] {
            let range = format!("bytes={ranges}");
            let response = ranged(&server, "/four.bin", &range, &[]);
            assert_eq!(response.status, 200, "{mode}: {range}");
            assert_eq!(response.body, payload(4096), "{mode}: {range}");
        }
        let response = ranged(&server, "/data.bin", "bytes=100-199,0-99,150-300", &[]);
        assert_eq!(parts(&response), vec![slice(0, 300)], "{mode}: coalesced");
        let response = ranged(&server, "/data.bin", "bytes=500-509,0-9,5-12", &[]);
        assert_eq!(
            parts(&response),
            vec![slice(0, 12), slice(500, 509)],
            "{mode}: sorted and coalesced"
        );
    }
}

/// If-Range (§13.1.5): the range only if the validator still matches — the ETag by strong
/// comparison, or the exact Last-Modified date; otherwise the whole file with a 200.
#[test]
fn if_range_gives_the_range_only_while_the_validator_matches() {
    if python_lacks("Range") {
        return;
    }
    for mode in HTTP_MODES {
        let tree = ranged_tree();
        let server = HttpServer::start(&tree.root(), mode, &[]);
        let full = fetch(server.addr, "GET", "/data.bin", &[]);
        let etag = full.header("etag").expect("an ETag").to_string();
        let strong = !etag.starts_with("W/");
        for (validator, matches) in [
            (etag.as_str(), strong),
            ("\"some-other-tag\"", false),
            (LAST_MODIFIED, true),
            (YEAR_EARLIER, false),
        ] {
            let response = ranged(
                &server,
                "/data.bin",
                "bytes=0-9",
                &[("If-Range", validator)],
            );
            if matches {
                assert_eq!(parts(&response), vec![slice(0, 9)], "{mode}: {validator}");
            } else {
                assert_eq!(response.status, 200, "{mode}: If-Range {validator}");
                assert_eq!(response.body, payload(SIZE), "{mode}: {validator}");
            }
        }
    }
}

/// ETag and If-None-Match (§8.8.3, §13.1.2): a matching tag, one in a list, or `*` gives a
/// 304 carrying the tag; If-Modified-Since is then not consulted; a changed file gets a
/// new tag.
#[test]
fn etag_and_if_none_match_give_304() {
    if python_lacks("ETag") {
        return;
    }
    for mode in HTTP_MODES {
        let tree = ranged_tree();
        let server = HttpServer::start(&tree.root(), mode, &[]);
        let full = fetch(server.addr, "GET", "/data.bin", &[]);
        let etag = full.header("etag").expect("an ETag").to_string();
        let opaque = etag.trim_start_matches("W/");
        assert!(
            opaque.len() >= 2 && opaque.starts_with('"') && opaque.ends_with('"'),
            "{mode}: {etag} is not an entity-tag"
        );
        let listed = format!("\"nope\", {etag}");
        for (method, condition) in [
            ("GET", etag.as_str()),
            ("GET", listed.as_str()),
            ("GET", "*"),
            ("HEAD", etag.as_str()),
        ] {
            let headers = [
                ("If-None-Match", condition),
                ("If-Modified-Since", YEAR_EARLIER),
            ];
            let response = fetch(server.addr, method, "/data.bin", &headers);
            assert_eq!(
                response.status, 304,
                "{mode}: {method} If-None-Match {condition}"
            );
            assert_eq!(response.header("etag"), Some(etag.as_str()), "{mode}");
        }
        let other = fetch(
            server.addr,
            "GET",
            "/data.bin",
            &[("If-None-Match", "\"nope\"")],
        );
        assert_eq!((other.status, other.body.len()), (200, SIZE), "{mode}");

        // Same size, new mtime: the tag changes, and the old one no longer matches.
        let path = tree.file("data.bin", &payload(SIZE + 1)[1..]);
        let later =
            std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(MTIME_SECS + 60);
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(later)
            .unwrap();
        let changed = fetch(server.addr, "GET", "/data.bin", &[("If-None-Match", &etag)]);
        assert_eq!(changed.status, 200, "{mode}: a changed file");
        assert_ne!(changed.header("etag"), Some(etag.as_str()), "{mode}");
        assert_eq!(changed.body, payload(SIZE + 1)[1..], "{mode}");
    }
}

//! The representation helpers, checked as decisions: validators and preconditions,
//! `Range`, and the gzip choice and compression.

use std::io::Read;
use std::time::{Duration, UNIX_EPOCH};

use flate2::read::GzDecoder;
use sockserv_http::conditional::{
    evaluate, if_range_holds, matches, Outcome, Preconditions, Validators,
};
use sockserv_http::gzip::{accepts, compress, compressible, Coding, MAX_GZIP_FILE};
use sockserv_http::range::{self, Ranges, MAX_RANGES};
use sockserv_http::request::{parse, Parsed, MAX_HEAD};

fn validators() -> Validators {
    Validators {
        etag: "\"abc\"".into(),
        modified: UNIX_EPOCH + Duration::from_secs(784_111_777), // Sun, 06 Nov 1994 08:49:37 GMT
    }
}

const MODIFIED: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
const EARLIER: &str = "Sun, 06 Nov 1994 08:49:36 GMT";
const LATER: &str = "Mon, 07 Nov 1994 08:49:37 GMT";

#[test]
fn the_etag_changes_with_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, b"one").unwrap();
    let first = Validators::of(&std::fs::metadata(&path).unwrap());
    std::fs::write(&path, b"three").unwrap();
    let second = Validators::of(&std::fs::metadata(&path).unwrap());
    assert_ne!(first.etag, second.etag);
    assert!(first.etag.starts_with('"') && first.etag.ends_with('"'));
    let gz = first.variant("gz");
    assert!(
        gz.etag.ends_with("-gz\"") && gz.etag.starts_with('"'),
        "{}",
        gz.etag
    );
}

#[test]
fn if_none_match_gives_304_on_a_match() {
    let v = validators();
    let f = |inm| Preconditions {
        if_none_match: Some(inm),
        ..Preconditions::default()
    };
    assert_eq!(evaluate(&f("\"abc\""), &v), Outcome::NotModified);
    assert_eq!(evaluate(&f("W/\"abc\""), &v), Outcome::NotModified);
    assert_eq!(evaluate(&f("\"x\", \"abc\""), &v), Outcome::NotModified);
    assert_eq!(evaluate(&f("*"), &v), Outcome::NotModified);
    assert_eq!(evaluate(&f("\"abcd\""), &v), Outcome::Proceed);
    assert_eq!(evaluate(&f("abc"), &v), Outcome::Proceed);
}

#[test]
fn if_modified_since_compares_whole_seconds() {
    let v = validators();
    let f = |ims| Preconditions {
        if_modified_since: Some(ims),
        ..Preconditions::default()
    };
    assert_eq!(evaluate(&f(MODIFIED), &v), Outcome::NotModified);
    assert_eq!(evaluate(&f(LATER), &v), Outcome::NotModified);
    assert_eq!(evaluate(&f(EARLIER), &v), Outcome::Proceed);
    assert_eq!(evaluate(&f("yesterday"), &v), Outcome::Proceed);
}

#[test]
fn if_none_match_overrides_if_modified_since() {
    let v = validators();
    let f = Preconditions {
        if_none_match: Some("\"other\""),
        if_modified_since: Some(LATER),
        ..Preconditions::default()
    };
    assert_eq!(evaluate(&f, &v), Outcome::Proceed);
}

#[test]
fn if_match_and_if_unmodified_since_give_412() {
    let v = validators();
    let m = |im| Preconditions {
        if_match: Some(im),
        ..Preconditions::default()
    };
    assert_eq!(evaluate(&m("\"abc\""), &v), Outcome::Proceed);
    assert_eq!(evaluate(&m("*"), &v), Outcome::Proceed);
    assert_eq!(evaluate(&m("W/\"abc\""), &v), Outcome::Failed);
    assert_eq!(evaluate(&m("\"zzz\""), &v), Outcome::Failed);
    let u = |ius| Preconditions {
        if_unmodified_since: Some(ius),
        ..Preconditions::default()
    };
    assert_eq!(evaluate(&u(MODIFIED), &v), Outcome::Proceed);
    assert_eq!(evaluate(&u(EARLIER), &v), Outcome::Failed);
    assert_eq!(evaluate(&u("garbage"), &v), Outcome::Proceed);
}

#[test]
fn if_range_needs_a_strong_match_or_the_exact_date() {
    let v = validators();
    let r = |ir| Preconditions {
        if_range: Some(ir),
        ..Preconditions::default()
    };
    assert!(if_range_holds(&Preconditions::default(), &v));
    assert!(if_range_holds(&r("\"abc\""), &v));
    assert!(!if_range_holds(&r("W/\"abc\""), &v));
    assert!(!if_range_holds(&r("\"old\""), &v));
    assert!(if_range_holds(&r(MODIFIED), &v));
    assert!(!if_range_holds(&r(LATER), &v));
    assert!(!if_range_holds(&r("nonsense"), &v));
}

#[test]
fn tag_lists_with_commas_inside_tags_parse() {
    assert!(matches("\"a,b\", \"abc\"", "\"abc\"", true));
    assert!(!matches("\"a,\"abc\"", "\"abc\"", false));
    assert!(!matches("", "\"abc\"", false));
    assert!(!matches("\"unterminated", "\"abc\"", false));
}

#[test]
fn single_open_and_suffix_ranges() {
    assert_eq!(range::parse("bytes=0-9", 100), Ranges::Parts(vec![(0, 9)]));
    assert_eq!(
        range::parse("bytes=90-", 100),
        Ranges::Parts(vec![(90, 99)])
    );
    assert_eq!(
        range::parse("bytes=-10", 100),
        Ranges::Parts(vec![(90, 99)])
    );
    assert_eq!(
        range::parse("bytes=-1000", 100),
        Ranges::Parts(vec![(0, 99)])
    );
    assert_eq!(
        range::parse("bytes=50-1000", 100),
        Ranges::Parts(vec![(50, 99)])
    );
    assert_eq!(
        range::parse("BYTES = 1-1", 100),
        Ranges::Parts(vec![(1, 1)])
    );
}

#[test]
fn several_ranges_are_sorted_and_drop_the_unsatisfiable() {
    assert_eq!(
        range::parse("bytes=500-600, 0-0,20000-30000, -2", 10_000),
        Ranges::Parts(vec![(0, 0), (500, 600), (9998, 9999)])
    );
}

#[test]
fn overlapping_and_adjacent_ranges_are_coalesced() {
    assert_eq!(
        range::parse("bytes=500-600,0-99,550-700,100-199,5000-5000", 10_000),
        Ranges::Parts(vec![(0, 199), (500, 700), (5000, 5000)])
    );
    // Coalesced into one range: a single part, not multipart.
    assert_eq!(
        range::parse("bytes=0-9,10-19,5-15", 10_000),
        Ranges::Parts(vec![(0, 19)])
    );
}

#[test]
fn ranges_adding_up_to_more_than_the_file_serve_the_whole_file() {
    // CVE-2011-3192's class: every range asks for the whole file again.
    let header = format!("bytes={}", vec!["0-"; MAX_RANGES].join(","));
    assert_eq!(range::parse(&header, 4096), Ranges::Whole);
    assert_eq!(range::parse("bytes=0-,0-", 4096), Ranges::Whole);
    assert_eq!(range::parse("bytes=0-3000,1000-4095", 4096), Ranges::Whole);
    // Overlapping but within the file's size: coalesced.
    assert_eq!(
        range::parse("bytes=0-1000,500-2000", 4096),
        Ranges::Parts(vec![(0, 2000)])
    );
}

#[test]
fn ranges_whose_framing_outweighs_the_file_serve_the_whole_file() {
    // Two one-byte parts of a 150-byte file: the framing is larger than the file.
    assert_eq!(range::parse("bytes=0-0,100-100", 150), Ranges::Whole);
    assert_eq!(
        range::parse("bytes=0-0,100-100", 1000),
        Ranges::Parts(vec![(0, 0), (100, 100)])
    );
    // One range is never multipart: no framing to outweigh.
    assert_eq!(range::parse("bytes=1-1", 10), Ranges::Parts(vec![(1, 1)]));
}

#[test]
fn nothing_within_the_file_is_416() {
    assert_eq!(range::parse("bytes=100-", 100), Ranges::Unsatisfiable);
    assert_eq!(
        range::parse("bytes=100-200,300-400", 100),
        Ranges::Unsatisfiable
    );
    assert_eq!(range::parse("bytes=-0", 100), Ranges::Unsatisfiable);
    assert_eq!(range::parse("bytes=0-", 0), Ranges::Unsatisfiable);
    assert_eq!(range::parse("bytes=-5", 0), Ranges::Unsatisfiable);
}

#[test]
fn malformed_or_foreign_ranges_are_ignored() {
    for header in [
        "bytes=5-1",
        "bytes=a-b",
        "bytes=1-2-3",
        "items=0-1",
        "bytes",
        "bytes=",
        "bytes=--1",
        "bytes=1",
    ] {
        assert_eq!(range::parse(header, 100), Ranges::Whole, "{header}");
    }
}

#[test]
fn too_many_ranges_serve_the_whole_file() {
    let many = (0..=MAX_RANGES)
        .map(|i| format!("{i}-{i}"))
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(range::parse(&format!("bytes={many}"), 100), Ranges::Whole);
    let max = (0..MAX_RANGES)
        .map(|i| format!("{}-{}", i * 10, i * 10))
        .collect::<Vec<_>>()
        .join(",");
    assert!(
        matches!(range::parse(&format!("bytes={max}"), 10_000), Ranges::Parts(p) if p.len() == MAX_RANGES)
    );
}

#[test]
fn huge_numbers_do_not_overflow() {
    assert_eq!(
        range::parse("bytes=0-99999999999999999999999", 10),
        Ranges::Parts(vec![(0, 9)])
    );
    assert_eq!(
        range::parse("bytes=99999999999999999999999-", 10),
        Ranges::Unsatisfiable
    );
}

#[test]
fn text_types_compress_and_others_do_not() {
    for t in [
        "text/html",
        "text/plain; charset=utf-8",
        "application/javascript",
        "application/json",
        "image/svg+xml",
        "application/atom+xml",
    ] {
        assert!(compressible(t), "{t}");
    }
    for t in [
        "image/png",
        "application/octet-stream",
        "application/gzip",
        "video/mp4",
    ] {
        assert!(!compressible(t), "{t}");
    }
}

#[test]
fn accept_encoding_is_read_with_qualities() {
    assert!(accepts("gzip"));
    assert!(accepts("deflate, gzip;q=0.5, br"));
    assert!(accepts("X-GZIP"));
    assert!(accepts("*"));
    assert!(!accepts("gzip;q=0"));
    assert!(!accepts("gzip;q=0.0, *"));
    assert!(!accepts("br, deflate"));
    assert!(!accepts("identity"));
    assert!(!accepts(""));
    assert!(!accepts("*;q=0"));
}

#[test]
fn compressed_bytes_decode_to_the_file() {
    let text = "hello gzip ".repeat(1000);
    let packed = compress(text.as_bytes(), text.len() as u64).unwrap();
    assert!(packed.len() < text.len() / 10);
    let mut back = String::new();
    GzDecoder::new(&packed[..])
        .read_to_string(&mut back)
        .unwrap();
    assert_eq!(back, text);
}

#[test]
fn only_len_bytes_are_read() {
    let packed = compress(&b"abcdef"[..], 3).unwrap();
    let mut back = Vec::new();
    GzDecoder::new(&packed[..]).read_to_end(&mut back).unwrap();
    assert_eq!(back, b"abc");
}

#[test]
fn preconditions_are_read_from_the_headers_first_one_wins() {
    let input =
        b"GET / HTTP/1.1\r\nHost: t\r\nif-match: \"a\"\r\nIf-Match: \"b\"\r\nIf-None-Match: *\r\n\
                  If-Modified-Since: x\r\nIf-Unmodified-Since: y\r\nIf-Range: z\r\n\r\n";
    let Parsed::Complete(request, _) = parse(input, MAX_HEAD) else {
        panic!("a complete head");
    };
    assert_eq!(
        Preconditions::of(&request.headers),
        Preconditions {
            if_match: Some("\"a\""),
            if_none_match: Some("*"),
            if_modified_since: Some("x"),
            if_unmodified_since: Some("y"),
            if_range: Some("z"),
        }
    );
}

#[test]
fn the_gzip_choice_depends_on_the_switch_the_type_the_size_and_the_request() {
    let choose = |enabled, content_type, len, accept, range| {
        Coding::choose(enabled, content_type, len, accept, range)
    };
    let gzip = Some("gzip");
    assert_eq!(choose(true, "text/plain", 10, gzip, None), Coding::Gzip);
    assert_eq!(choose(false, "text/plain", 10, gzip, None), Coding::Fixed);
    assert_eq!(choose(true, "image/png", 10, gzip, None), Coding::Fixed);
    assert_eq!(
        choose(true, "text/plain", MAX_GZIP_FILE + 1, gzip, None),
        Coding::Fixed
    );
    assert_eq!(
        choose(true, "text/plain", MAX_GZIP_FILE, gzip, None),
        Coding::Gzip
    );
    assert_eq!(choose(true, "text/plain", 10, None, None), Coding::Identity);
    assert_eq!(
        choose(true, "text/plain", 10, Some("br"), None),
        Coding::Identity
    );
    assert_eq!(
        choose(true, "text/plain", 10, gzip, Some("bytes=0-1")),
        Coding::Identity
    );
    assert!(Coding::Gzip.varies() && Coding::Identity.varies());
    assert!(!Coding::Fixed.varies());
}

//! The file server's helpers: request targets, paths under the root (never out of it),
//! and Python's directory listing.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::Path;

use sockserv_http::files::listing::render;
use sockserv_http::files::{content_type, decode, with_segments, Miss, Root, Target};

fn decoded(path: &str) -> Result<Vec<String>, Miss> {
    with_segments(path, |segments| {
        segments
            .iter()
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect()
    })
}

#[test]
fn targets_split_into_origin_path_and_query() {
    let t = Target::split("/a/b?x=1#frag");
    assert_eq!((t.origin, t.path, t.query), ("", "/a/b", Some("x=1")));
    let t = Target::split("/a#f?not-a-query");
    assert_eq!((t.path, t.query), ("/a", None));
    let t = Target::split("HTTP://host:8000/p?q");
    assert_eq!(
        (t.origin, t.path, t.query),
        ("HTTP://host:8000", "/p", Some("q"))
    );
    let t = Target::split("https://host");
    assert_eq!((t.origin, t.path), ("https://host", ""));
    assert!(t.wants_directory());
}

#[test]
fn a_leading_double_slash_is_reduced_to_one() {
    assert_eq!(Target::split("//evil.example/x").path, "/evil.example/x");
    assert_eq!(Target::split("////x?q").path, "/x");
    // In an absolute-form target the path is after the authority: left as it is.
    assert_eq!(Target::split("http://h//x").path, "//x");
}

#[test]
fn dot_segments_never_climb_above_the_root() {
    assert_eq!(decoded("/a/./b/../c").unwrap(), ["a", "c"]);
    assert_eq!(decoded("/../../etc/passwd").unwrap(), ["etc", "passwd"]);
    assert_eq!(
        decoded("/%2e%2e/%2E%2E/etc/passwd").unwrap(),
        ["etc", "passwd"]
    );
    assert_eq!(decoded("/a%2f..%2f..%2fb").unwrap(), ["b"]);
    assert_eq!(decoded("..").unwrap(), Vec::<String>::new());
    assert_eq!(decoded("//a//b/").unwrap(), ["a", "b"]);
}

#[test]
fn percent_escapes_decode_and_bad_ones_stay() {
    assert_eq!(
        decoded("/a%20b/caf%C3%A9/%zz%4").unwrap(),
        ["a b", "café", "%zz%4"]
    );
}

#[test]
fn pythons_surrogate_links_decode_to_the_raw_bytes() {
    assert_eq!(
        &decode("/raw%ED%B3%BF%ED%B2%80.txt")[..],
        b"/raw\xff\x80.txt"
    );
    assert_eq!(&decode("/raw%FF")[..], b"/raw\xff");
    // Other three-byte characters are left alone.
    assert_eq!(&decode("/%ED%9F%BF")[..], "/\u{d7ff}".as_bytes());
    assert_eq!(&decode("/%ED%B3")[..], b"/\xed\xb3");
}

#[test]
fn nul_bytes_are_invalid() {
    assert_eq!(decoded("/a%00b"), Err(Miss::Invalid));
}

fn tree() -> (tempfile::TempDir, tempfile::TempDir) {
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("secret"), b"s").unwrap();
    let root = tempfile::tempdir().unwrap();
    fs::create_dir(root.path().join("sub")).unwrap();
    fs::write(root.path().join("sub/f.txt"), b"f").unwrap();
    symlink(outside.path().join("secret"), root.path().join("out-file")).unwrap();
    symlink(outside.path(), root.path().join("out-dir")).unwrap();
    symlink("sub/f.txt", root.path().join("in-file")).unwrap();
    symlink("sub", root.path().join("in-dir")).unwrap();
    (root, outside)
}

#[test]
fn files_and_directories_resolve_under_the_root() {
    let (dir, _outside) = tree();
    let root = Root::new(dir.path(), false).unwrap();
    let found = root.lookup("/sub/f.txt").unwrap();
    assert!(found.meta.is_file());
    assert!(found.path.starts_with(root.dir()));
    assert!(root.lookup("/sub").unwrap().meta.is_dir());
    assert!(root.lookup("/").unwrap().meta.is_dir());
    assert!(root.lookup("").unwrap().meta.is_dir());
    assert_eq!(root.lookup("/nope").unwrap_err(), Miss::NotFound);
    assert_eq!(root.lookup("/sub/f.txt/more").unwrap_err(), Miss::NotFound);
}

#[test]
fn symlinks_inside_the_root_are_followed() {
    let (dir, _outside) = tree();
    let root = Root::new(dir.path(), false).unwrap();
    assert!(root.lookup("/in-file").unwrap().meta.is_file());
    assert!(root.lookup("/in-dir/f.txt").unwrap().meta.is_file());
    assert!(root.lookup("/in-dir").unwrap().meta.is_dir());
}

#[test]
fn symlinks_out_of_the_root_are_refused_unless_followed() {
    let (dir, _outside) = tree();
    let root = Root::new(dir.path(), false).unwrap();
    assert_eq!(root.lookup("/out-file").unwrap_err(), Miss::NotFound);
    assert_eq!(root.lookup("/out-dir/secret").unwrap_err(), Miss::NotFound);
    assert_eq!(root.lookup("/out-dir").unwrap_err(), Miss::NotFound);
    assert!(root.child(dir.path(), "out-file").is_none());
    assert!(root
        .child(dir.path(), "in-file")
        .is_some_and(|f| f.meta.is_file()));

    let followed = Root::new(dir.path(), true).unwrap();
    assert!(followed.lookup("/out-file").unwrap().meta.is_file());
    assert!(followed.lookup("/out-dir/secret").unwrap().meta.is_file());
    assert!(followed.child(dir.path(), "out-file").is_some());
}

#[test]
fn a_root_that_is_not_a_directory_is_an_error() {
    let (dir, _outside) = tree();
    assert!(Root::new(&dir.path().join("sub/f.txt"), false).is_err());
    assert!(Root::new(&dir.path().join("missing"), false).is_err());
}

/// The listing of a temp dir holding `files` (names as bytes) and `dirs`, titled `shown`.
fn listing(files: &[&[u8]], dirs: &[&str], shown: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    for name in files {
        fs::write(dir.path().join(std::ffi::OsStr::from_bytes(name)), b"x").unwrap();
    }
    for name in dirs {
        fs::create_dir(dir.path().join(name)).unwrap();
    }
    render(dir.path(), shown).unwrap()
}

#[test]
fn the_listing_is_pythons_page() {
    let html = listing(&[b"b.txt"], &["A"], b"/x/");
    assert_eq!(
        String::from_utf8(html).unwrap(),
        "<!DOCTYPE HTML>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Directory listing for /x/</title>\n</head>\n<body>\n\
         <h1>Directory listing for /x/</h1>\n<hr>\n<ul>\n\
         <li><a href=\"A/\">A/</a></li>\n<li><a href=\"b.txt\">b.txt</a></li>\n\
         </ul>\n<hr>\n</body>\n</html>\n"
    );
}

#[test]
fn listed_names_sort_case_insensitively() {
    let html = listing(&[b"b", b"C", b"a", b"B"], &[], b"/");
    let text = String::from_utf8(html).unwrap();
    let order: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("<li><a href=\""))
        .map(|l| &l[..1])
        .collect();
    assert_eq!(order, ["a", "B", "b", "C"]);
}

#[test]
fn listed_names_are_escaped_in_text_and_encoded_in_links() {
    let html = listing(&[b"<a&b> \"q\" %.html"], &[], b"/<t>/");
    let text = String::from_utf8(html).unwrap();
    assert!(
        text.contains("<li><a href=\"%3Ca%26b%3E%20%22q%22%20%25.html\">&lt;a&amp;b&gt; \"q\" %.html</a></li>"),
        "{text}"
    );
    assert!(text.contains("<title>Directory listing for /&lt;t&gt;/</title>"));
}

#[test]
fn listed_symlinks_show_an_at_and_dir_links_keep_the_slash() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("f.txt"), b"x").unwrap();
    fs::create_dir(dir.path().join("sub")).unwrap();
    symlink("sub", dir.path().join("to-dir")).unwrap();
    symlink("f.txt", dir.path().join("to-file")).unwrap();
    let text = String::from_utf8(render(dir.path(), b"/").unwrap()).unwrap();
    assert!(
        text.contains(
            "<li><a href=\"f.txt\">f.txt</a></li>\n<li><a href=\"sub/\">sub/</a></li>\n\
             <li><a href=\"to-dir/\">to-dir@</a></li>\n<li><a href=\"to-file\">to-file@</a></li>\n"
        ),
        "{text}"
    );
}

#[test]
fn listed_non_utf8_and_unicode_names_are_percent_encoded_in_links() {
    let html = listing(&[b"caf\xc3\xa9", b"raw\xff"], &[], b"/");
    let has = |needle: &[u8]| html.windows(needle.len()).any(|w| w == needle);
    assert!(has(b"<a href=\"caf%C3%A9\">caf\xc3\xa9<"));
    assert!(has(b"<a href=\"raw%ED%B3%BF\">raw\xff<"));
    // The link decodes back to the name's bytes.
    assert_eq!(&decode("raw%ED%B3%BF")[..], b"raw\xff");
}

#[test]
fn content_types_come_from_the_name() {
    for (name, expected) in [
        ("a.html", "text/html"),
        ("a.txt", "text/plain"),
        ("a.png", "image/png"),
        ("a.tar.gz", "application/gzip"),
        ("a.Z", "application/octet-stream"),
        ("a.bz2", "application/x-bzip2"),
        ("a.xz", "application/x-xz"),
        ("a.JSON", "application/json"),
        ("noext", "application/octet-stream"),
        ("a.unknownext", "application/octet-stream"),
    ] {
        assert_eq!(content_type(Path::new(name)), expected, "{name}");
    }
}

//! Directory listings: Python's page, byte for byte.
//!
//! Names are sorted case-insensitively, HTML-escaped in the text and percent-encoded in
//! the links (as `urllib.parse.quote` does); a directory gets a `/`, a symlink an `@`
//! (a symlink to a directory shows `@` and links with `/`). Names that are not UTF-8 go
//! out as their raw bytes, as Python's `surrogateescape` does.

use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};

use super::response::escape_html;

/// What `urllib.parse.quote` leaves alone: letters, digits, `_.-~` and `/`.
const QUOTE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~')
    .remove(b'/');

/// One entry of a listing.
#[derive(Debug, PartialEq, Eq)]
struct Entry {
    name: Vec<u8>,
    is_dir: bool,
    is_link: bool,
}

/// The HTML listing of `dir`, titled with `shown` (the decoded URL path).
///
/// # Errors
///
/// When the directory cannot be read.
pub fn render(dir: &Path, shown: &[u8]) -> io::Result<Vec<u8>> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let is_link = kind.is_symlink();
        // A symlink shows as a directory when it points at one (os.path.isdir follows).
        let is_dir = if is_link {
            fs::metadata(entry.path()).is_ok_and(|m| m.is_dir())
        } else {
            kind.is_dir()
        };
        entries.push(Entry {
            name: entry.file_name().as_bytes().to_vec(),
            is_dir,
            is_link,
        });
    }
    Ok(page(entries, shown))
}

fn page(mut entries: Vec<Entry>, shown: &[u8]) -> Vec<u8> {
    // Python sorts by `name.lower()`; the raw bytes break ties so the order is stable.
    entries.sort_by_cached_key(|e| {
        (
            String::from_utf8_lossy(&e.name).to_lowercase(),
            e.name.clone(),
        )
    });
    let mut html = Vec::with_capacity(256 + entries.len() * 64);
    let mut title = b"Directory listing for ".to_vec();
    escape_html(shown, &mut title);
    html.extend_from_slice(
        b"<!DOCTYPE HTML>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>",
    );
    html.extend_from_slice(&title);
    html.extend_from_slice(b"</title>\n</head>\n<body>\n<h1>");
    html.extend_from_slice(&title);
    html.extend_from_slice(b"</h1>\n<hr>\n<ul>\n");
    for entry in &entries {
        let mut link = entry.name.clone();
        let mut display = entry.name.clone();
        if entry.is_dir {
            link.push(b'/');
            display.push(b'/');
        }
        if entry.is_link {
            display.truncate(entry.name.len());
            display.push(b'@');
        }
        html.extend_from_slice(b"<li><a href=\"");
        quote(&link, &mut html);
        html.extend_from_slice(b"\">");
        escape_html(&display, &mut html);
        html.extend_from_slice(b"</a></li>\n");
    }
    html.extend_from_slice(b"</ul>\n<hr>\n</body>\n</html>\n");
    html
}

/// `urllib.parse.quote(name, errors='surrogatepass')` of a name Python decoded with
/// `surrogateescape`: valid UTF-8 is percent-encoded as it is, and each byte that is not
/// becomes the UTF-8 form of the lone surrogate U+DC00 + byte, percent-encoded (`\xff`
/// links as `%ED%B3%BF`). [`super::path::decode`] maps it back.
fn quote(name: &[u8], into: &mut Vec<u8>) {
    for chunk in name.utf8_chunks() {
        into.extend(
            percent_encoding::utf8_percent_encode(chunk.valid(), QUOTE).flat_map(str::bytes),
        );
        for &b in chunk.invalid() {
            let surrogate = [0xED, 0xB0 | (b >> 6), 0x80 | (b & 0x3F)];
            into.extend(percent_encoding::percent_encode(&surrogate, QUOTE).flat_map(str::bytes));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &[u8], is_dir: bool, is_link: bool) -> Entry {
        Entry {
            name: name.to_vec(),
            is_dir,
            is_link,
        }
    }

    #[test]
    fn the_page_is_pythons_layout() {
        let html = page(
            vec![entry(b"b.txt", false, false), entry(b"A", true, false)],
            b"/x/",
        );
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
    fn names_sort_case_insensitively() {
        let html = page(
            vec![
                entry(b"b", false, false),
                entry(b"C", false, false),
                entry(b"a", false, false),
                entry(b"B", false, false),
            ],
            b"/",
        );
        let text = String::from_utf8(html).unwrap();
        let order: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("<li><a href=\""))
            .map(|l| &l[..1])
            .collect();
        assert_eq!(order, ["a", "B", "b", "C"]);
    }

    #[test]
    fn names_are_escaped_in_text_and_encoded_in_links() {
        let html = page(vec![entry(b"<a&b> \"q\" %.html", false, false)], b"/<t>/");
        let text = String::from_utf8(html).unwrap();
        assert!(
            text.contains("<li><a href=\"%3Ca%26b%3E%20%22q%22%20%25.html\">&lt;a&amp;b&gt; \"q\" %.html</a></li>"),
            "{text}"
        );
        assert!(text.contains("<title>Directory listing for /&lt;t&gt;/</title>"));
    }

    #[test]
    fn links_show_an_at_and_dir_links_keep_the_slash() {
        let html = page(
            vec![entry(b"to-dir", true, true), entry(b"to-file", false, true)],
            b"/",
        );
        let text = String::from_utf8(html).unwrap();
        assert!(
            text.contains("<li><a href=\"to-dir/\">to-dir@</a></li>"),
            "{text}"
        );
        assert!(
            text.contains("<li><a href=\"to-file\">to-file@</a></li>"),
            "{text}"
        );
    }

    #[test]
    fn non_utf8_and_unicode_names_are_percent_encoded_in_links() {
        let html = page(
            vec![
                entry(b"caf\xc3\xa9", false, false),
                entry(b"raw\xff", false, false),
            ],
            b"/",
        );
        let has = |needle: &[u8]| html.windows(needle.len()).any(|w| w == needle);
        assert!(has(b"<a href=\"caf%C3%A9\">caf\xc3\xa9<"));
        assert!(has(b"<a href=\"raw%ED%B3%BF\">raw\xff<"));
    }

    #[test]
    fn a_real_directory_is_listed() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("f.txt"), b"x").unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        std::os::unix::fs::symlink("sub", dir.path().join("ln")).unwrap();
        let text = String::from_utf8(render(dir.path(), b"/").unwrap()).unwrap();
        assert!(text.contains("<li><a href=\"f.txt\">f.txt</a></li>\n<li><a href=\"ln/\">ln@</a></li>\n<li><a href=\"sub/\">sub/</a></li>\n"), "{text}");
    }
}

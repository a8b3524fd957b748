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

use crate::html;

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
    html::escape(shown, &mut title);
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
        html::escape(&display, &mut html);
        html.extend_from_slice(b"</a></li>\n");
    }
    html.extend_from_slice(b"</ul>\n<hr>\n</body>\n</html>\n");
    html
}

/// `urllib.parse.quote(name, errors='surrogatepass')` of a name Python decoded with
/// `surrogateescape`: valid UTF-8 is percent-encoded as it is, and each byte that is not
/// becomes the UTF-8 form of the lone surrogate U+DC00 + byte, percent-encoded (`\xff`
/// links as `%ED%B3%BF`). [`path::decode`](super::path::decode) maps it back.
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

//! Gzip on the fly: which representation a request gets ([`Coding`]), and compression.
//!
//! Only types that compress well (`text/*`, JavaScript, JSON, XML, SVG) and bodies of
//! at most [`MAX_GZIP_FILE`] bytes (so one response holds at most that much in memory),
//! and never for a `Range` request (ranges are of the file as stored).

use std::io::{self, Read, Write};

use flate2::write::GzEncoder;
use flate2::Compression;

/// Largest file compressed on the fly; bigger ones are sent as they are.
pub const MAX_GZIP_FILE: u64 = 1024 * 1024;

/// Which representation of a body a request gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coding {
    /// Gzip is not on offer for this body (off, not a compressible type, too big): the
    /// bytes as stored, and the response does not vary with `Accept-Encoding`.
    Fixed,
    /// Gzip is on offer but this request does not get it (no `Accept-Encoding: gzip`, or
    /// a `Range`): the bytes as stored, with `Vary: Accept-Encoding`.
    Identity,
    /// Gzip: `Content-Encoding: gzip` and `Vary: Accept-Encoding`.
    Gzip,
}

impl Coding {
    /// The coding for a body of `len` bytes of `content_type`, when gzip is `enabled`,
    /// for a request with these `Accept-Encoding` and `Range` values.
    pub fn choose(
        enabled: bool,
        content_type: &str,
        len: u64,
        accept_encoding: Option<&str>,
        range: Option<&str>,
    ) -> Coding {
        if !enabled || len > MAX_GZIP_FILE || !compressible(content_type) {
            Coding::Fixed
        } else if range.is_none() && accept_encoding.is_some_and(accepts) {
            Coding::Gzip
        } else {
            Coding::Identity
        }
    }

    /// Whether the response says `Vary: Accept-Encoding`.
    pub fn varies(self) -> bool {
        self != Coding::Fixed
    }
}

/// Whether `content_type` is worth compressing.
pub fn compressible(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.starts_with("text/")
        || essence.ends_with("+xml")
        || essence.ends_with("+json")
        || matches!(
            essence,
            "application/javascript"
                | "application/x-javascript"
                | "application/ecmascript"
                | "application/json"
                | "application/xml"
                | "image/svg+xml"
                | "application/wasm"
        )
}

/// Whether an `Accept-Encoding` value allows gzip (`gzip`, `x-gzip` or `*`, with a
/// non-zero quality; an explicit `gzip;q=0` refuses it even when `*` allows).
pub fn accepts(accept_encoding: &str) -> bool {
    let mut star = false;
    for item in accept_encoding.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        let allowed = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .all(|q| q.trim().parse::<f32>().is_ok_and(|q| q > 0.0));
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            return allowed;
        }
        if coding == "*" {
            star = allowed;
        }
    }
    star
}

/// Reads all of `file` (at most `len` bytes) and compresses it.
///
/// # Errors
///
/// When the file cannot be read.
pub fn compress(file: impl Read, len: u64) -> io::Result<Vec<u8>> {
    let mut plain = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(len).read_to_end(&mut plain)?;
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(plain.len() / 3 + 64),
        Compression::default(),
    );
    encoder.write_all(&plain)?;
    encoder.finish()
}

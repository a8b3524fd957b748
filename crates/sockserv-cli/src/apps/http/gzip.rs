//! `--gzip`: text files compressed on the fly for clients that accept it.
//!
//! Only types that compress well (`text/*`, JavaScript, JSON, XML, SVG) and files of at
//! most [`MAX_GZIP_FILE`] bytes (so one response holds at most that much in memory),
//! and never for a `Range` request (ranges are of the file as stored).

use std::io::{self, Read, Write};

use flate2::write::GzEncoder;
use flate2::Compression;

/// Largest file compressed on the fly; bigger ones are sent as they are.
pub const MAX_GZIP_FILE: u64 = 1024 * 1024;

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

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;

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
}

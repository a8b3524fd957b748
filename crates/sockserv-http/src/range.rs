//! `Range: bytes=...` (RFC 9110, 14.2): single, suffix, open and multiple ranges.
//!
//! A header that does not parse, or asks for more than [`MAX_RANGES`] ranges, is
//! ignored (the whole file is served, as the RFC allows). Ranges past the end are
//! dropped; if none is left the answer is 416. When the ranges left add up to more bytes
//! than the file (`bytes=0-,0-`: CVE-2011-3192's amplification), the whole file is served
//! instead, as nginx does; so is it when several ranges are so small that their
//! multipart framing ([`PART_FRAMING`] bytes a part) would outweigh the file. Otherwise
//! the ranges are sorted and those that overlap or touch are coalesced (RFC 9110, 14.3),
//! so a response never carries more than the file's bytes plus the framing of at most
//! [`MAX_RANGES`] parts.

/// Most ranges served in one multipart response; a request for more gets the whole file.
pub const MAX_RANGES: usize = 16;

/// What one part of a `multipart/byteranges` body costs besides its bytes, about: the
/// boundary, `Content-Type` and `Content-Range` lines. Several ranges whose parts would
/// add up to more than the file get the whole file instead.
pub const PART_FRAMING: u64 = 100;

/// What a `Range` header asks of a file of a given length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ranges {
    /// Serve the whole file (no usable `Range`).
    Whole,
    /// Serve these inclusive `(first, last)` byte ranges, each within the file.
    Parts(Vec<(u64, u64)>),
    /// No range is within the file: 416.
    Unsatisfiable,
}

/// Parses `header` for a file of `len` bytes.
pub fn parse(header: &str, len: u64) -> Ranges {
    let header = header.trim();
    let Some(unit_end) = header.find('=') else {
        return Ranges::Whole;
    };
    if !header[..unit_end].trim().eq_ignore_ascii_case("bytes") {
        return Ranges::Whole;
    }
    let mut parts = Vec::new();
    let mut count = 0;
    for spec in header[unit_end + 1..].split(',').map(str::trim) {
        if spec.is_empty() {
            continue;
        }
        count += 1;
        if count > MAX_RANGES {
            return Ranges::Whole;
        }
        let Some((first, last)) = spec.split_once('-') else {
            return Ranges::Whole;
        };
        let (first, last) = (first.trim(), last.trim());
        let number = |s: &str| {
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u64>().unwrap_or(u64::MAX))
        };
        let range = match (number(first), number(last)) {
            // bytes=-N: the last N bytes.
            (None, Some(suffix)) if first.is_empty() => {
                (suffix > 0 && len > 0).then(|| (len - suffix.min(len), len - 1))
            }
            // bytes=A-: from A to the end.
            (Some(a), None) if last.is_empty() => (a < len).then(|| (a, len - 1)),
            (Some(a), Some(b)) if a <= b => (a < len).then(|| (a, b.min(len - 1))),
            _ => return Ranges::Whole,
        };
        parts.extend(range);
    }
    let asked: u64 = parts
        .iter()
        .map(|(first, last)| last - first + 1)
        .fold(0, u64::saturating_add);
    match (count, parts.is_empty()) {
        (0, _) => Ranges::Whole,
        (_, true) => Ranges::Unsatisfiable,
        (_, false) if asked > len => Ranges::Whole,
        (_, false) => {
            let parts = coalesce(parts);
            let framing = PART_FRAMING.saturating_mul(parts.len() as u64);
            if parts.len() > 1 && asked.saturating_add(framing) > len {
                Ranges::Whole
            } else {
                Ranges::Parts(parts)
            }
        }
    }
}

/// Sorts `parts` and merges those that overlap or touch.
fn coalesce(mut parts: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    parts.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(parts.len());
    for (first, last) in parts {
        match merged.last_mut() {
            Some((_, end)) if first <= end.saturating_add(1) => *end = (*end).max(last),
            _ => merged.push((first, last)),
        }
    }
    merged
}

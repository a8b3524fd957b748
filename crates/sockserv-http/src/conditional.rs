//! Validators and conditional requests: the ETag, `If-Match`, `If-None-Match`,
//! `If-Modified-Since`, `If-Unmodified-Since` and `If-Range` (RFC 9110, 13).
//!
//! The ETag is strong, made of the file's inode, size and modification time (to the
//! nanosecond): it changes whenever the file does. Preconditions are evaluated in the
//! RFC's order; `If-Modified-Since` is ignored when `If-None-Match` is present (Python
//! does the same) and so is a date that does not parse.

use std::fmt::Write as _;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::headers::Headers;

/// What identifies one version of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validators {
    /// The strong entity tag, quotes included.
    pub etag: String,
    /// The modification time, truncated to whole seconds (what `Last-Modified` says).
    pub modified: SystemTime,
}

impl Validators {
    /// The validators of a file with metadata `meta`.
    pub fn of(meta: &Metadata) -> Validators {
        let nanos = i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec());
        let mut etag = String::with_capacity(40);
        let _ = write!(etag, "\"{:x}-{:x}-{:x}\"", meta.ino(), meta.size(), nanos);
        let seconds = u64::try_from(meta.mtime()).unwrap_or(0);
        Validators {
            etag,
            modified: UNIX_EPOCH + Duration::from_secs(seconds),
        }
    }

    /// The same validators for another representation (gzip): a different strong tag.
    pub fn variant(&self, suffix: &str) -> Validators {
        let base = self.etag.trim_end_matches('"');
        Validators {
            etag: format!("{base}-{suffix}\""),
            modified: self.modified,
        }
    }
}

/// The request's precondition fields; each `None` when absent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Preconditions<'a> {
    /// `If-Match`.
    pub if_match: Option<&'a str>,
    /// `If-None-Match`.
    pub if_none_match: Option<&'a str>,
    /// `If-Modified-Since`.
    pub if_modified_since: Option<&'a str>,
    /// `If-Unmodified-Since`.
    pub if_unmodified_since: Option<&'a str>,
    /// `If-Range`.
    pub if_range: Option<&'a str>,
}

impl<'a> Preconditions<'a> {
    /// The precondition fields of a request with `headers` (the first of each).
    pub fn of(headers: &Headers<'a>) -> Preconditions<'a> {
        let [if_match, if_none_match, if_modified_since, if_unmodified_since, if_range] = headers
            .pick([
                "if-match",
                "if-none-match",
                "if-modified-since",
                "if-unmodified-since",
                "if-range",
            ]);
        Preconditions {
            if_match,
            if_none_match,
            if_modified_since,
            if_unmodified_since,
            if_range,
        }
    }
}

/// What the preconditions say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Serve the request.
    Proceed,
    /// 304 Not Modified.
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

/// Evaluates the preconditions of a GET or HEAD on a file with `validators`.
pub fn evaluate(fields: &Preconditions<'_>, validators: &Validators) -> Outcome {
    if let Some(list) = fields.if_match {
        if !matches(list, &validators.etag, true) {
            return Outcome::Failed;
        }
    } else if let Some(date) = fields.if_unmodified_since.and_then(parse_date) {
        if validators.modified > date {
            return Outcome::Failed;
        }
    }
    if let Some(list) = fields.if_none_match {
        if matches(list, &validators.etag, false) {
            return Outcome::NotModified;
        }
    } else if let Some(date) = fields.if_modified_since.and_then(parse_date) {
        if validators.modified <= date {
            return Outcome::NotModified;
        }
    }
    Outcome::Proceed
}

/// Whether a `Range` may be honoured under `If-Range` (absent: yes). An entity tag must
/// match strongly; a date must equal `Last-Modified` exactly.
pub fn if_range_holds(fields: &Preconditions<'_>, validators: &Validators) -> bool {
    match fields.if_range {
        None => true,
        Some(value) if value.starts_with('"') || value.starts_with("W/") => {
            !value.starts_with("W/") && value == validators.etag
        }
        Some(value) => parse_date(value) == Some(validators.modified),
    }
}

fn parse_date(value: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(value.trim()).ok()
}

/// Whether the entity-tag list `list` (`*`, or `"a", W/"b"`) matches `etag`: strongly
/// (a weak tag never matches) or weakly (the `W/` is ignored).
pub fn matches(list: &str, etag: &str, strong: bool) -> bool {
    let list = list.trim();
    if list == "*" {
        return true;
    }
    let mut rest = list;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return false;
        }
        let weak = rest.starts_with("W/");
        if weak {
            rest = &rest[2..];
        }
        let Some(body) = rest.strip_prefix('"') else {
            return false;
        };
        let Some(end) = body.find('"') else {
            return false;
        };
        let tag = &rest[..end + 2];
        if tag == etag && !(strong && weak) {
            return true;
        }
        rest = &body[end + 1..];
    }
}

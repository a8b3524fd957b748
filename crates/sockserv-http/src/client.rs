//! The client's side: [`ResponseHead`], a response head parsed with httparse, for code
//! that reads HTTP responses (a load generator, tests).

use std::fmt;

use crate::headers::Headers;

/// Most header fields a response head may carry.
pub const MAX_RESPONSE_HEADERS: usize = 100;

/// A parsed response head, borrowing the bytes it was parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHead<'a> {
    /// How many bytes the head took, blank line included: the body starts there.
    pub len: usize,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    /// The status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: &'a str,
    /// Every header field.
    pub headers: Headers<'a>,
    /// `Content-Length`, if sent.
    pub content_length: Option<u64>,
    /// Whether a `Transfer-Encoding` was sent (the body is chunked, or runs to the close).
    pub encoded: bool,
    /// Whether the server keeps the connection open after this response: HTTP/1.1 unless
    /// `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`.
    pub keep_alive: bool,
}

/// Why bytes are not a response head.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeadError {
    /// Not an HTTP/1.x response head (httparse's reason).
    Malformed(httparse::Error),
    /// A `Content-Length` that is not a number.
    ContentLength(String),
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeadError::Malformed(why) => write!(f, "malformed response head ({why})"),
            HeadError::ContentLength(value) => write!(f, "bad Content-Length {value:?}"),
        }
    }
}

impl std::error::Error for HeadError {}

impl<'a> ResponseHead<'a> {
    /// Parses the response head at the start of `buf`: `Ok(None)` while it is incomplete.
    ///
    /// # Errors
    ///
    /// When `buf` does not start with an HTTP/1.x response head.
    pub fn parse(buf: &'a [u8]) -> Result<Option<ResponseHead<'a>>, HeadError> {
        let mut fields = [httparse::EMPTY_HEADER; MAX_RESPONSE_HEADERS];
        let mut response = httparse::Response::new(&mut fields);
        let len = match response.parse(buf) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(HeadError::Malformed(e)),
        };
        let minor = response.version.unwrap_or(1);
        let mut keep_alive = minor == 1;
        let mut content_length = None;
        let mut encoded = false;
        for field in response.headers.iter() {
            let value = std::str::from_utf8(field.value).unwrap_or("").trim();
            if field.name.eq_ignore_ascii_case("content-length") {
                let n = value
                    .parse::<u64>()
                    .map_err(|_| HeadError::ContentLength(value.to_owned()))?;
                content_length = Some(n);
            } else if field.name.eq_ignore_ascii_case("transfer-encoding") {
                encoded = true;
            } else if field.name.eq_ignore_ascii_case("connection") {
                for token in value.split(',').map(str::trim) {
                    if token.eq_ignore_ascii_case("close") {
                        keep_alive = false;
                    } else if token.eq_ignore_ascii_case("keep-alive") && minor == 0 {
                        keep_alive = true;
                    }
                }
            }
        }
        // The fields start after the status line.
        let start = buf[..len]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(len, |i| i + 1);
        Ok(Some(ResponseHead {
            len,
            minor,
            status: response.code.unwrap_or(0),
            reason: response.reason.unwrap_or(""),
            headers: Headers::new(&buf[start..len]),
            content_length,
            encoded,
            keep_alive,
        }))
    }
}

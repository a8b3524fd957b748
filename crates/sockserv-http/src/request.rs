//! Request heads: the request line and header fields, parsed with httparse within limits.
//!
//! Limits, and what breaking them answers (the connection is closed after each):
//! a request line over [`MAX_REQUEST_LINE`] bytes is 414; more than [`MAX_HEADERS`]
//! header fields, or a head over [`MAX_HEAD`] bytes, is 431; a version other than
//! HTTP/1.0 or 1.1 is 505 when it is well formed (`HTTP/2.0`) and 400 when it is not
//! (`HTTP/x`), as Python answers; an HTTP/1.1 request without a `Host` field, or any
//! request with two, is 400 (RFC 9112, 3.2); anything else malformed is 400. The head
//! limit is
//! the caller's ([`parse`]'s `max_head`, [`MAX_HEAD`] by default).

use crate::headers::Headers;
use crate::status::Status;

/// Longest request line accepted, in bytes, without its line ending.
pub const MAX_REQUEST_LINE: usize = 8 * 1024;
/// Most header fields one request may carry (Python's limit too).
pub const MAX_HEADERS: usize = 100;
/// Longest request head (request line, header fields, blank line), in bytes, by default.
pub const MAX_HEAD: usize = 64 * 1024;

/// What a request says about its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestBody {
    /// No body.
    None,
    /// `Content-Length` bytes follow the head.
    Length(u64),
    /// `Transfer-Encoding` (chunked or other): its end cannot be found without decoding.
    Encoded,
}

/// A parsed request head, borrowing the input it was parsed from.
#[derive(Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// The method, as sent (case-sensitive, like every HTTP method).
    pub method: &'a str,
    /// The request target, as sent.
    pub target: &'a str,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    /// Whether the connection stays open after the response (version and `Connection`).
    pub keep_alive: bool,
    /// What follows the head.
    pub body: RequestBody,
    /// Every header field.
    pub headers: Headers<'a>,
    /// The body's bytes (Python's `rfile`), when the connection read them: a
    /// `Content-Length` body of at most [`Http::max_body`](crate::Http::max_body) bytes.
    /// Empty otherwise ([`parse`] reads heads only).
    pub content: &'a [u8],
}

impl Request<'_> {
    /// Whether the method is HEAD: the response's head is sent, not its body.
    pub fn is_head(&self) -> bool {
        self.method == "HEAD"
    }
}

/// A head that is refused: the error status and Python's message for it.
#[derive(Debug, PartialEq, Eq)]
pub struct Reject {
    /// The status to answer with.
    pub status: Status,
    /// The message for the error page.
    pub message: String,
}

/// The outcome of parsing the start of the input.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// The head is not complete yet (and within the limits so far).
    Partial,
    /// A complete head, and how many input bytes it took.
    Complete(Request<'a>, usize),
    /// The input is not a request this server accepts.
    Invalid(Reject),
}

fn reject(status: Status, message: impl Into<String>) -> Parsed<'static> {
    Parsed::Invalid(Reject {
        status,
        message: message.into(),
    })
}

/// Parses the request head at the start of `input`; a head longer than `max_head` bytes
/// is refused (431).
pub fn parse(input: &[u8], max_head: usize) -> Parsed<'_> {
    // Empty lines before a request are allowed (RFC 9112, 2.2); httparse skips them.
    let start = input
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(input.len());
    let line = &input[start..];
    let line_end = memchr_newline(&line[..line.len().min(MAX_REQUEST_LINE + 2)]);
    let line_len = match line_end {
        Some(end) => end - usize::from(end > 0 && line[end - 1] == b'\r'),
        None => line.len(),
    };
    if line_len > MAX_REQUEST_LINE {
        return reject(Status::URI_TOO_LONG, "Request-URI Too Long");
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let parsed = httparse::ParserConfig::default()
        .allow_multiple_spaces_in_request_line_delimiters(true)
        .parse_request(&mut request, input);
    match parsed {
        Ok(httparse::Status::Partial) if input.len() > max_head => {
            reject(Status::HEADERS_TOO_LARGE, "Request header fields too large")
        }
        Ok(httparse::Status::Partial) => Parsed::Partial,
        Ok(httparse::Status::Complete(len)) if len > max_head => {
            reject(Status::HEADERS_TOO_LARGE, "Request header fields too large")
        }
        Ok(httparse::Status::Complete(len)) => {
            // The fields start after the request line's line ending.
            let fields_start = start + line_end.map_or(line.len(), |end| end + 1);
            let headers = Headers::new(&input[fields_start.min(len)..len]);
            match build(&request, headers) {
                Ok(request) => Parsed::Complete(request, len),
                Err(rejected) => Parsed::Invalid(rejected),
            }
        }
        Err(httparse::Error::TooManyHeaders) => {
            reject(Status::HEADERS_TOO_LARGE, "Too many headers")
        }
        // An incomplete line cannot be judged yet (a version still arriving).
        Err(httparse::Error::Version) if line_end.is_none() => Parsed::Partial,
        // Python judges a complete line by its words: the version first, then the count.
        Err(_) if line_end.is_some() => judge_line(&line[..line_len]),
        Err(_) => {
            let shown = String::from_utf8_lossy(&line[..line_len.min(200)]);
            reject(
                Status::BAD_REQUEST,
                format!("Bad request syntax ('{shown}')"),
            )
        }
    }
}

/// Python's verdict on a complete request line httparse refused: with three words or
/// more the last is the version (malformed: 400, 2.0 and up: 505); then anything but
/// three words is 400, as is a three-word line httparse found bad for another reason.
fn judge_line(line: &[u8]) -> Parsed<'static> {
    let words = line
        .split(u8::is_ascii_whitespace)
        .filter(|w| !w.is_empty())
        .count();
    let version_ok = matches!(
        line.split(u8::is_ascii_whitespace).rfind(|w| !w.is_empty()),
        Some(b"HTTP/1.0" | b"HTTP/1.1")
    );
    if words >= 3 && !version_ok {
        return bad_version(line);
    }
    let shown = String::from_utf8_lossy(&line[..line.len().min(200)]);
    reject(
        Status::BAD_REQUEST,
        format!("Bad request syntax ('{shown}')"),
    )
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

/// Python's judgement of a version httparse refused: well formed (`HTTP/M.N`, at most
/// 10 digits each) is 505, anything else 400. (Python would serve `HTTP/1.5` as 1.x;
/// httparse knows only 1.0 and 1.1, so that rare line is a 505 here.)
fn bad_version(line: &[u8]) -> Parsed<'static> {
    let line = String::from_utf8_lossy(line);
    let version = line.split_whitespace().last().unwrap_or("");
    let number = version.strip_prefix("HTTP/").and_then(|n| {
        let (major, minor) = n.split_once('.')?;
        // As Python: digits only, and no component longer than 10 digits.
        let digits = |s: &str| (1..=10).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
        (digits(major) && digits(minor)).then_some(n)
    });
    match number {
        Some(number) => reject(
            Status::VERSION_NOT_SUPPORTED,
            format!("Invalid HTTP version ({number})"),
        ),
        None => {
            let shown: String = version.chars().take(100).collect();
            reject(
                Status::BAD_REQUEST,
                format!("Bad request version ('{shown}')"),
            )
        }
    }
}

fn build<'a>(
    request: &httparse::Request<'_, 'a>,
    headers: Headers<'a>,
) -> Result<Request<'a>, Reject> {
    let bad = |message: &str| Reject {
        status: Status::BAD_REQUEST,
        message: message.to_owned(),
    };
    let minor = request.version.unwrap_or(1);
    let (mut close, mut keep) = (false, false);
    let mut length: Option<u64> = None;
    let mut encoded = false;
    let mut hosts = 0;
    for header in request.headers.iter() {
        let name = header.name;
        let value = std::str::from_utf8(header.value).ok().map(str::trim);
        if name.eq_ignore_ascii_case("host") {
            hosts += 1;
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.unwrap_or("").split(',').map(str::trim) {
                close |= token.eq_ignore_ascii_case("close");
                keep |= token.eq_ignore_ascii_case("keep-alive");
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            // Differing or malformed lengths are how requests get smuggled: refuse them.
            let parsed = value
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| bad("Invalid Content-Length"))?;
            if length.is_some_and(|l| l != parsed) {
                return Err(bad("Conflicting Content-Length"));
            }
            length = Some(parsed);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            encoded = true;
        }
    }
    // RFC 9112, 3.2: a server MUST answer 400 to either.
    if hosts > 1 {
        return Err(bad("Multiple Host header fields"));
    }
    if hosts == 0 && minor >= 1 {
        return Err(bad("Missing Host header field"));
    }
    let body = match (encoded, length) {
        (true, _) => RequestBody::Encoded,
        (false, Some(0) | None) => RequestBody::None,
        (false, Some(n)) => RequestBody::Length(n),
    };
    Ok(Request {
        method: request.method.unwrap_or(""),
        target: request.path.unwrap_or(""),
        minor,
        keep_alive: if minor >= 1 { !close } else { keep && !close },
        body,
        headers,
        content: &[],
    })
}

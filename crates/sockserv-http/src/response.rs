//! [`Response`]: the answer to a request as a value — status, header fields, body — that
//! one [`Writer`](crate::writer::Writer) turns into bytes.
//!
//! Deciding is kept apart from writing: a handler (the file server too) returns a
//! `Response` and never touches the connection, so a decision is checked by looking at
//! the value, without parsing bytes. The writer adds what belongs to the connection:
//! the status line, `Server`, `Date`, `Content-Length` (from the body), `Connection`.

use std::borrow::Cow;
use std::fmt;
use std::fs::File;

use crate::html::error_page;
use crate::status::Status;

/// A header field's name or value: static text costs no allocation.
pub type Text = Cow<'static, str>;

/// What to answer: Python's `send_response`, `send_header` and `wfile.write`, as one
/// value.
///
/// # Examples
///
/// ```
/// use sockserv_http::{Body, Response, Status};
///
/// let response = Response::new(Status::OK)
///     .with_header("Content-Type", "application/json")
///     .with_body(r#"{"hello":"world"}"#);
/// assert_eq!(response.header("content-type"), Some("application/json"));
/// assert!(matches!(&response.body, Body::Bytes(b) if b.starts_with(b"{")));
/// ```
#[derive(Debug)]
pub struct Response {
    /// The status.
    pub status: Status,
    /// Header fields in the order they are sent, after `Server` and `Date`. Leave out
    /// `Content-Length`, `Connection`, `Date` and `Server`: the writer adds them.
    pub headers: Vec<(Text, Text)>,
    /// What follows the head (never sent for HEAD, nor for a [bodiless](Status::is_bodiless)
    /// status).
    pub body: Body,
    /// Whether the connection closes after this response, whatever the client asked.
    pub close: bool,
}

/// The body of a [`Response`].
#[derive(Debug)]
pub enum Body {
    /// No body (`Content-Length: 0`, or none for a bodiless status).
    Empty,
    /// Bytes built in memory.
    Bytes(Vec<u8>),
    /// A range of a file, sent from the file (`sendfile(2)` where the transport allows).
    File(FileSlice),
    /// Several ranges of a file as `multipart/byteranges`.
    Ranges(Multipart),
}

/// `len` bytes of an open file from `offset`.
#[derive(Debug)]
pub struct FileSlice {
    /// The open file.
    pub file: File,
    /// Where the bytes start.
    pub offset: u64,
    /// How many bytes.
    pub len: u64,
}

/// A `multipart/byteranges` body (RFC 9110, 14.6): one part per range of one file.
#[derive(Debug)]
pub struct Multipart {
    /// The open file.
    pub file: File,
    /// Inclusive `(first, last)` byte ranges, in the order sent.
    pub parts: Vec<(u64, u64)>,
    /// The file's media type, given in each part.
    pub content_type: Text,
    /// The file's length, given in each part's `Content-Range`.
    pub file_len: u64,
    /// The boundary between parts: must not occur in the file's bytes.
    pub boundary: String,
}

impl Multipart {
    /// The head of the part for `(first, last)`: boundary, `Content-Type`,
    /// `Content-Range`, blank line.
    pub fn part_head(&self, (first, last): (u64, u64)) -> String {
        format!(
            "--{}\r\nContent-Type: {}\r\nContent-Range: bytes {first}-{last}/{}\r\n\r\n",
            self.boundary, self.content_type, self.file_len
        )
    }

    /// The closing boundary, after the last part.
    pub fn closing(&self) -> String {
        format!("--{}--\r\n", self.boundary)
    }

    /// The whole body's length: every part's head, bytes and CRLF, then the closing.
    pub fn len(&self) -> u64 {
        let parts: u64 = self
            .parts
            .iter()
            .map(|&(first, last)| {
                self.part_head((first, last)).len() as u64 + (last - first + 1) + 2
            })
            .sum();
        parts + self.closing().len() as u64
    }

    /// Whether there are no parts (never the case for a response the file server made).
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }
}

impl Body {
    /// The body's length in bytes: its `Content-Length`.
    pub fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Bytes(bytes) => bytes.len() as u64,
            Body::File(slice) => slice.len,
            Body::Ranges(multipart) => multipart.len(),
        }
    }

    /// Whether the body has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Response {
    /// A response with `status`, no header fields and no body.
    pub fn new(status: Status) -> Response {
        Response {
            status,
            // Room for what the file server sends, so building a response allocates once.
            headers: Vec::with_capacity(6),
            body: Body::Empty,
            close: false,
        }
    }

    /// Python's error page for `status` with `message` (`send_error`): HTML, or nothing
    /// for a bodiless status.
    pub fn error(status: Status, message: &str) -> Response {
        let response = Response::new(status);
        if status.is_bodiless() {
            return response;
        }
        response
            .with_header("Content-Type", "text/html;charset=utf-8")
            .with_body(error_page(status, message))
    }

    /// Adds the field `name: value` (Python's `send_header`).
    pub fn with_header(mut self, name: impl Into<Text>, value: impl Into<Text>) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body to `bytes`.
    pub fn with_body(mut self, bytes: impl Into<Vec<u8>>) -> Response {
        self.body = Body::Bytes(bytes.into());
        self
    }

    /// Sets the body to `len` bytes of `file` from `offset`.
    pub fn with_file(mut self, file: File, offset: u64, len: u64) -> Response {
        self.body = Body::File(FileSlice { file, offset, len });
        self
    }

    /// Sets the body to `multipart`, with its `Content-Type: multipart/byteranges`.
    pub fn with_ranges(self, multipart: Multipart) -> Response {
        let content_type = format!("multipart/byteranges; boundary={}", multipart.boundary);
        let mut response = self.with_header("Content-Type", content_type);
        response.body = Body::Ranges(multipart);
        response
    }

    /// Closes the connection after this response.
    pub fn closing(mut self) -> Response {
        self.close = true;
        self
    }

    /// The value of the first field called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_ref())
    }

    /// The `Content-Length` the writer sends: `None` for a bodiless status.
    pub fn content_length(&self) -> Option<u64> {
        (!self.status.is_bodiless()).then(|| self.body.len())
    }
}

impl fmt::Display for Response {
    /// The status, as a log shows it: `404 Not Found`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.status.fmt(f)
    }
}

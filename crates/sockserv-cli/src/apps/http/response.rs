//! Response heads: status lines, the cached `Date`, header fields, and Python's error page.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// The `Server` field of every response.
pub const SERVER: &str = concat!("sockserv/", env!("CARGO_PKG_VERSION"));

/// An HTTP status code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status(pub u16);

impl Status {
    /// 200.
    pub const OK: Status = Status(200);
    /// 206.
    pub const PARTIAL_CONTENT: Status = Status(206);
    /// 301.
    pub const MOVED_PERMANENTLY: Status = Status(301);
    /// 304.
    pub const NOT_MODIFIED: Status = Status(304);
    /// 400.
    pub const BAD_REQUEST: Status = Status(400);
    /// 404.
    pub const NOT_FOUND: Status = Status(404);
    /// 408.
    pub const REQUEST_TIMEOUT: Status = Status(408);
    /// 412.
    pub const PRECONDITION_FAILED: Status = Status(412);
    /// 414.
    pub const URI_TOO_LONG: Status = Status(414);
    /// 416.
    pub const RANGE_NOT_SATISFIABLE: Status = Status(416);
    /// 431.
    pub const HEADERS_TOO_LARGE: Status = Status(431);
    /// 501.
    pub const NOT_IMPLEMENTED: Status = Status(501);
    /// 505.
    pub const VERSION_NOT_SUPPORTED: Status = Status(505);

    /// The reason phrase and the longer explanation Python's error page shows.
    pub fn texts(self) -> (&'static str, &'static str) {
        match self.0 {
            200 => ("OK", "Request fulfilled, document follows"),
            206 => ("Partial Content", "Partial content follows"),
            301 => ("Moved Permanently", "Object moved permanently -- see URI list"),
            304 => ("Not Modified", "Document has not changed since given time"),
            400 => ("Bad Request", "Bad request syntax or unsupported method"),
            404 => ("Not Found", "Nothing matches the given URI"),
            408 => ("Request Timeout", "Request timed out; try again later"),
            412 => ("Precondition Failed", "Precondition in headers is false"),
            414 => ("URI Too Long", "URI is too long"),
            416 => ("Range Not Satisfiable", "Cannot satisfy request range"),
            431 => (
                "Request Header Fields Too Large",
                "The server is unwilling to process the request because its header fields are too large",
            ),
            501 => ("Not Implemented", "Server does not support this operation"),
            505 => ("HTTP Version Not Supported", "Cannot fulfill request"),
            _ => ("Unknown", "Unknown"),
        }
    }

    /// Whether a response with this status never has a body (RFC 9110: 1xx, 204, 304).
    pub fn is_bodiless(self) -> bool {
        self.0 < 200 || self.0 == 204 || self.0 == 304
    }
}

/// A response head being written: the status line, `Server` and `Date` first, then the
/// caller's fields, then `Connection` and the blank line from [`Head::finish`].
pub struct Head<'a> {
    buf: &'a mut Vec<u8>,
}

impl<'a> Head<'a> {
    /// Starts a head in `buf` (cleared first).
    pub fn new(buf: &'a mut Vec<u8>, status: Status) -> Head<'a> {
        buf.clear();
        let (reason, _) = status.texts();
        let _ = write!(
            Writer(buf),
            "HTTP/1.1 {} {reason}\r\nServer: {SERVER}\r\nDate: ",
            status.0
        );
        with_date(|date| buf.extend_from_slice(date));
        buf.extend_from_slice(b"\r\n");
        Head { buf }
    }

    /// Continues a head that [`Head::new`] started in `buf` and that was not finished.
    pub fn resume(buf: &'a mut Vec<u8>) -> Head<'a> {
        Head { buf }
    }

    /// Adds `name: value`.
    pub fn field(&mut self, name: &str, value: &str) -> &mut Self {
        self.field_bytes(name, value.as_bytes())
    }

    /// Adds `name: value` with a value that need not be UTF-8 (a path).
    pub fn field_bytes(&mut self, name: &str, value: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.extend_from_slice(b": ");
        self.buf.extend_from_slice(value);
        self.buf.extend_from_slice(b"\r\n");
        self
    }

    /// Adds `name: number`.
    pub fn number(&mut self, name: &str, value: u64) -> &mut Self {
        let _ = write!(Writer(self.buf), "{name}: {value}\r\n");
        self
    }

    /// Adds `name: DATE` in the IMF-fixdate form.
    pub fn date(&mut self, name: &str, time: SystemTime) -> &mut Self {
        let date = httpdate::fmt_http_date(time);
        self.field(name, &date)
    }

    /// Adds `Connection` as needed (`close`, or `keep-alive` for an HTTP/1.0 client that
    /// asked for it) and the blank line that ends the head.
    pub fn finish(&mut self, keep_alive: bool, minor: u8) {
        if !keep_alive {
            self.buf.extend_from_slice(b"Connection: close\r\n");
        } else if minor == 0 {
            self.buf.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        self.buf.extend_from_slice(b"\r\n");
    }
}

/// `fmt::Write` over a byte buffer, for numbers without a temporary `String`.
struct Writer<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Writer<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

thread_local! {
    /// The `Date` value, formatted once per second per thread.
    static DATE: RefCell<(u64, [u8; 29])> = const { RefCell::new((u64::MAX, [0; 29])) };
}

/// Calls `f` with the current time as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn with_date<R>(f: impl FnOnce(&[u8]) -> R) -> R {
    let now = SystemTime::now();
    let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    DATE.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != second {
            let text = httpdate::fmt_http_date(now);
            // IMF-fixdate is always 29 bytes; anything else would be a bug in httpdate.
            if text.len() == 29 {
                cached.1.copy_from_slice(text.as_bytes());
                cached.0 = second;
            }
        }
        f(&cached.1)
    })
}

/// Escapes `&`, `<` and `>` (Python's `html.escape(s, quote=False)`), byte for byte.
pub fn escape_html(text: &[u8], into: &mut Vec<u8>) {
    for &b in text {
        match b {
            b'&' => into.extend_from_slice(b"&amp;"),
            b'<' => into.extend_from_slice(b"&lt;"),
            b'>' => into.extend_from_slice(b"&gt;"),
            b => into.push(b),
        }
    }
}

/// The body of Python's error page for `status`, with `message` (escaped).
pub fn error_page(status: Status, message: &str) -> Vec<u8> {
    let (_, explain) = status.texts();
    let mut page = Vec::with_capacity(400);
    let code = status.0;
    let _ = write!(
        Writer(&mut page),
        "<!DOCTYPE HTML>\n<html lang=\"en\">\n    <head>\n        <meta charset=\"utf-8\">\n        \
         <title>Error response</title>\n    </head>\n    <body>\n        <h1>Error response</h1>\n        \
         <p>Error code: {code}</p>\n        <p>Message: "
    );
    escape_html(message.as_bytes(), &mut page);
    let _ = write!(
        Writer(&mut page),
        ".</p>\n        <p>Error code explanation: {code} - {explain}.</p>\n    </body>\n</html>\n"
    );
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_has_status_server_date_fields_and_connection() {
        let mut buf = Vec::new();
        Head::new(&mut buf, Status::NOT_FOUND)
            .number("Content-Length", 12)
            .field("Content-Type", "text/html")
            .finish(false, 1);
        let text = String::from_utf8(buf).unwrap();
        assert!(
            text.starts_with("HTTP/1.1 404 Not Found\r\nServer: sockserv/"),
            "{text}"
        );
        let date = text
            .split("\r\nDate: ")
            .nth(1)
            .unwrap()
            .split("\r\n")
            .next()
            .unwrap();
        assert!(httpdate::parse_http_date(date).is_ok(), "{date}");
        assert!(text.ends_with(
            "\r\nContent-Length: 12\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n"
        ));
    }

    #[test]
    fn keep_alive_is_said_only_to_http_1_0() {
        let mut buf = Vec::new();
        Head::new(&mut buf, Status::OK).finish(true, 1);
        assert!(!String::from_utf8_lossy(&buf).contains("Connection"));
        Head::new(&mut buf, Status::OK).finish(true, 0);
        assert!(buf.ends_with(b"\r\nConnection: keep-alive\r\n\r\n"));
    }

    #[test]
    fn the_cached_date_is_the_current_second() {
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let date = with_date(|d| String::from_utf8(d.to_vec()).unwrap());
        let parsed = httpdate::parse_http_date(&date).unwrap();
        let secs = parsed.duration_since(UNIX_EPOCH).unwrap().as_secs();
        assert!(secs >= before && secs <= before + 1, "{date}");
    }

    #[test]
    fn the_error_page_is_pythons_and_escapes_the_message() {
        let page =
            String::from_utf8(error_page(Status::NOT_FOUND, "File <not> found & gone")).unwrap();
        assert!(page.starts_with("<!DOCTYPE HTML>\n<html lang=\"en\">\n    <head>\n"));
        assert!(page.contains("        <p>Error code: 404</p>\n"));
        assert!(page.contains("<p>Message: File &lt;not&gt; found &amp; gone.</p>"));
        assert!(
            page.contains("<p>Error code explanation: 404 - Nothing matches the given URI.</p>")
        );
        assert!(page.ends_with("</html>\n"));
    }

    #[test]
    fn bodiless_statuses() {
        assert!(Status::NOT_MODIFIED.is_bodiless());
        assert!(!Status::OK.is_bodiless());
        assert!(!Status::NOT_FOUND.is_bodiless());
    }
}

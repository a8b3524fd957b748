//! [`Status`]: a response's status code, its reason phrase and Python's explanation.

use std::fmt;

/// An HTTP status code (RFC 9110, 15).
///
/// The constants name the codes this crate answers with itself; any other code is
/// `Status(code)`. [`Status::reason`] and [`Status::explanation`] are Python's
/// (`http.HTTPStatus`), for the status line and the error page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Status(pub u16);

impl Status {
    /// 101: the connection switches to the protocol the `Upgrade` field names.
    pub const SWITCHING_PROTOCOLS: Status = Status(101);
    /// 200.
    pub const OK: Status = Status(200);
    /// 204.
    pub const NO_CONTENT: Status = Status(204);
    /// 206.
    pub const PARTIAL_CONTENT: Status = Status(206);
    /// 301.
    pub const MOVED_PERMANENTLY: Status = Status(301);
    /// 304.
    pub const NOT_MODIFIED: Status = Status(304);
    /// 400.
    pub const BAD_REQUEST: Status = Status(400);
    /// 403.
    pub const FORBIDDEN: Status = Status(403);
    /// 404.
    pub const NOT_FOUND: Status = Status(404);
    /// 405.
    pub const METHOD_NOT_ALLOWED: Status = Status(405);
    /// 408.
    pub const REQUEST_TIMEOUT: Status = Status(408);
    /// 412.
    pub const PRECONDITION_FAILED: Status = Status(412);
    /// 414.
    pub const URI_TOO_LONG: Status = Status(414);
    /// 416.
    pub const RANGE_NOT_SATISFIABLE: Status = Status(416);
    /// 426: the client must switch to the protocol the `Upgrade` field names.
    pub const UPGRADE_REQUIRED: Status = Status(426);
    /// 431.
    pub const HEADERS_TOO_LARGE: Status = Status(431);
    /// 500.
    pub const INTERNAL_SERVER_ERROR: Status = Status(500);
    /// 501.
    pub const NOT_IMPLEMENTED: Status = Status(501);
    /// 505.
    pub const VERSION_NOT_SUPPORTED: Status = Status(505);

    /// The reason phrase of the status line (`Not Found`); `Unknown` for a code Python
    /// does not name.
    pub fn reason(self) -> &'static str {
        self.texts().0
    }

    /// The longer explanation Python's error page shows.
    pub fn explanation(self) -> &'static str {
        self.texts().1
    }

    fn texts(self) -> (&'static str, &'static str) {
        match self.0 {
            100 => ("Continue", "Request received, please continue"),
            101 => ("Switching Protocols", "Switching to new protocol; obey Upgrade header"),
            200 => ("OK", "Request fulfilled, document follows"),
            201 => ("Created", "Document created, URL follows"),
            202 => ("Accepted", "Request accepted, processing continues off-line"),
            204 => ("No Content", "Request fulfilled, nothing follows"),
            206 => ("Partial Content", "Partial content follows"),
            301 => ("Moved Permanently", "Object moved permanently -- see URI list"),
            302 => ("Found", "Object moved temporarily -- see URI list"),
            303 => ("See Other", "Object moved -- see Method and URL list"),
            304 => ("Not Modified", "Document has not changed since given time"),
            307 => ("Temporary Redirect", "Object moved temporarily -- see URI list"),
            308 => ("Permanent Redirect", "Object moved permanently -- see URI list"),
            400 => ("Bad Request", "Bad request syntax or unsupported method"),
            401 => ("Unauthorized", "No permission -- see authorization schemes"),
            403 => ("Forbidden", "Request forbidden -- authorization will not help"),
            404 => ("Not Found", "Nothing matches the given URI"),
            405 => ("Method Not Allowed", "Specified method is invalid for this resource"),
            408 => ("Request Timeout", "Request timed out; try again later"),
            409 => ("Conflict", "Request conflict"),
            410 => ("Gone", "URI no longer exists and has been permanently removed"),
            411 => ("Length Required", "Client must specify Content-Length"),
            412 => ("Precondition Failed", "Precondition in headers is false"),
            413 => ("Content Too Large", "Content is too large"),
            414 => ("URI Too Long", "URI is too long"),
            415 => ("Unsupported Media Type", "Entity body in unsupported format"),
            416 => ("Range Not Satisfiable", "Cannot satisfy request range"),
            // Python gives 426 no explanation; this is RFC 9110's (15.5.22).
            426 => ("Upgrade Required", "The server refuses the request in the current protocol"),
            429 => (
                "Too Many Requests",
                "The user has sent too many requests in a given amount of time (\"rate limiting\")",
            ),
            431 => (
                "Request Header Fields Too Large",
                "The server is unwilling to process the request because its header fields are too large",
            ),
            500 => ("Internal Server Error", "Server got itself in trouble"),
            501 => ("Not Implemented", "Server does not support this operation"),
            502 => ("Bad Gateway", "Invalid responses from another server/proxy"),
            503 => ("Service Unavailable", "The server cannot process the request due to a high load"),
            504 => ("Gateway Timeout", "The gateway server did not receive a timely response"),
            505 => ("HTTP Version Not Supported", "Cannot fulfill request"),
            _ => ("Unknown", "Unknown"),
        }
    }

    /// Whether a response with this status never has a body, nor a `Content-Length`
    /// (RFC 9110: 1xx, 204, 304).
    pub fn is_bodiless(self) -> bool {
        self.0 < 200 || self.0 == 204 || self.0 == 304
    }
}

impl fmt::Display for Status {
    /// `404 Not Found`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.0, self.reason())
    }
}

//! The web chat's HTTP/1.1 request head (parsed with `httparse`) and its answers: the
//! page's files, the WebSocket upgrade (RFC 6455 section 4.2), the errors.
//!
//! Self-contained on purpose: when the HTTP layer lives in its own crate
//! (`sockserv-http`), this moves onto that crate's head parser.

/// Longest request head accepted; more is 431.
pub const MAX_HEAD: usize = 8 * 1024;
/// Most header fields accepted; more is 431.
const MAX_HEADERS: usize = 64;

/// What the parser made of the bytes so far.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// The head is not complete yet.
    Partial,
    /// A complete head, and how many bytes it took.
    Complete(Request, usize),
    /// No valid request can come from these bytes: answer with this status and close.
    Invalid(Status),
}

/// The parts of a request head the web chat looks at.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// The target without its query string.
    pub path: String,
    /// `Upgrade` lists `websocket`.
    pub upgrade_websocket: bool,
    /// `Connection` lists `upgrade`.
    pub connection_upgrade: bool,
    /// `Sec-WebSocket-Version`.
    pub ws_version: Option<String>,
    /// `Sec-WebSocket-Key`.
    pub ws_key: Option<String>,
    /// `Origin`.
    pub origin: Option<String>,
}

/// An error status the front answers with (the connection closes after it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// 400: malformed, or a bad WebSocket handshake.
    BadRequest,
    /// 403: the Origin is not allowed.
    Forbidden,
    /// 404: no such page.
    NotFound,
    /// 405: not GET or HEAD.
    MethodNotAllowed,
    /// 426: WebSocket version other than 13 (the answer names 13).
    UpgradeRequired,
    /// 431: the head is too large.
    HeadTooLarge,
    /// 505: not HTTP/1.1 (a WebSocket needs 1.1; 1.0 is refused too, simply).
    VersionNotSupported,
}

impl Status {
    fn line(self) -> &'static str {
        match self {
            Status::BadRequest => "400 Bad Request",
            Status::Forbidden => "403 Forbidden",
            Status::NotFound => "404 Not Found",
            Status::MethodNotAllowed => "405 Method Not Allowed",
            Status::UpgradeRequired => "426 Upgrade Required",
            Status::HeadTooLarge => "431 Request Header Fields Too Large",
            Status::VersionNotSupported => "505 HTTP Version Not Supported",
        }
    }
}

/// Parses the request head at the start of `buf`.
pub fn parse(buf: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => {
            return Parsed::Invalid(Status::HeadTooLarge)
        }
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => return Parsed::Invalid(Status::HeadTooLarge),
        Err(httparse::Error::Version) => return Parsed::Invalid(Status::VersionNotSupported),
        Err(_) => return Parsed::Invalid(Status::BadRequest),
    };
    if len > MAX_HEAD {
        return Parsed::Invalid(Status::HeadTooLarge);
    }
    if req.version != Some(1) {
        return Parsed::Invalid(Status::VersionNotSupported);
    }
    let target = req.path.unwrap_or("/");
    let mut request = Request {
        method: req.method.unwrap_or_default().to_owned(),
        path: target.split('?').next().unwrap_or_default().to_owned(),
        ..Request::default()
    };
    for header in req.headers.iter() {
        let Ok(value) = std::str::from_utf8(header.value) else {
            continue;
        };
        let value = value.trim();
        let name = header.name;
        if name.eq_ignore_ascii_case("upgrade") {
            request.upgrade_websocket |= has_token(value, "websocket");
        } else if name.eq_ignore_ascii_case("connection") {
            request.connection_upgrade |= has_token(value, "upgrade");
        } else if name.eq_ignore_ascii_case("sec-websocket-version") {
            request.ws_version = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("sec-websocket-key") {
            request.ws_key = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("origin") {
            request.origin = Some(value.to_owned());
        }
    }
    Parsed::Complete(request, len)
}

/// Whether the comma-separated `list` has `token` (case-insensitive).
fn has_token(list: &str, token: &str) -> bool {
    list.split(',')
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

impl Request {
    /// The `Sec-WebSocket-Accept` value when this is a valid WebSocket upgrade, or the
    /// status that refuses it. `origins` is the allow-list (empty: any origin).
    pub fn accept_upgrade(&self, origins: &[String]) -> Result<String, Status> {
        if self.method != "GET" {
            return Err(Status::MethodNotAllowed);
        }
        if !(self.upgrade_websocket && self.connection_upgrade) {
            return Err(Status::BadRequest);
        }
        if self.ws_version.as_deref() != Some("13") {
            return Err(Status::UpgradeRequired);
        }
        // The key is 16 random bytes in base64: 24 characters.
        let key = self
            .ws_key
            .as_deref()
            .filter(|key| key.len() == 24)
            .ok_or(Status::BadRequest)?;
        if !origin_allowed(self.origin.as_deref(), origins) {
            return Err(Status::Forbidden);
        }
        Ok(tungstenite::handshake::derive_accept_key(key.as_bytes()))
    }
}

/// Whether `origin` is on the allow-list (scheme, host and port compared without case;
/// an empty list allows everyone, a request without Origin only then).
pub fn origin_allowed(origin: Option<&str>, allowed: &[String]) -> bool {
    if allowed.is_empty() {
        return true;
    }
    let Some(origin) = origin else {
        return false;
    };
    let origin = origin.trim_end_matches('/');
    allowed
        .iter()
        .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin))
}

/// The 101 answer that switches the connection to the WebSocket protocol.
pub fn switching_protocols(accept: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    )
    .into_bytes()
}

/// A 200 answer with `body` of `content_type` (only the head for HEAD requests).
pub fn ok(content_type: &str, body: &str, head_only: bool) -> Vec<u8> {
    let mut answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\n\
         Content-Security-Policy: default-src 'self'; connect-src 'self' ws: wss:; \
         img-src 'self' data:; frame-ancestors 'none'\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        answer.extend_from_slice(body.as_bytes());
    }
    answer
}

/// An error answer: the status line, a one-line text body, `Connection: close`.
pub fn error(status: Status) -> Vec<u8> {
    let line = status.line();
    let extra = match status {
        Status::UpgradeRequired => "Sec-WebSocket-Version: 13\r\n",
        Status::MethodNotAllowed => "Allow: GET, HEAD\r\n",
        _ => "",
    };
    let body = format!("{line}\n");
    format!(
        "HTTP/1.1 {line}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
         {extra}Connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

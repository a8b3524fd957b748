//! Protocol upgrades (RFC 9110, 7.8): a request asking to switch the connection to another
//! protocol, and the answers that switch (101) or insist (426).
//!
//! Only the HTTP part lives here. What the new protocol checks in the handshake (a
//! WebSocket's key, version and origin, RFC 6455 4.2.1) and the fields it adds to the
//! 101 are that protocol's, so this crate needs no WebSocket library; after a 101 the
//! connection's bytes are no longer HTTP and the caller hands them to the new protocol.
//!
//! # Examples
//!
//! ```
//! use sockserv_http::request::{parse, Parsed, MAX_HEAD};
//! use sockserv_http::{upgrade, Status};
//!
//! let head = b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
//! let Parsed::Complete(request, _) = parse(head, MAX_HEAD) else { panic!() };
//! assert!(upgrade::requested(&request, "websocket"));
//! let response = upgrade::switching_protocols("websocket");
//! assert_eq!(response.status, Status::SWITCHING_PROTOCOLS);
//! assert_eq!(response.content_length(), None);
//! ```

use crate::request::Request;
use crate::response::{Response, Text};
use crate::status::Status;

/// Whether `request` asks to switch to `protocol`: its `Upgrade` field lists `protocol`
/// and its `Connection` field lists `upgrade` (both case-insensitive, RFC 9110, 7.6.1
/// and 7.8). An HTTP/1.0 request never does: a server must ignore `Upgrade` there.
pub fn requested(request: &Request<'_>, protocol: &str) -> bool {
    request.minor >= 1
        && request.headers.has_token("upgrade", protocol)
        && request.headers.has_token("connection", "upgrade")
}

/// The `101 Switching Protocols` answer that switches to `protocol`: `Upgrade:
/// protocol` and `Connection: Upgrade`; add the new protocol's own fields with
/// [`Response::with_header`].
///
/// Write it with a [`Framing`](crate::writer::Framing) that keeps the connection open:
/// a 1xx status has no `Content-Length` and no body, so the head is all that is sent and
/// the next bytes on the connection are the new protocol's.
pub fn switching_protocols(protocol: impl Into<Text>) -> Response {
    Response::new(Status::SWITCHING_PROTOCOLS)
        .with_header("Upgrade", protocol)
        .with_header("Connection", "Upgrade")
}

/// The `426 Upgrade Required` error page with `message`, naming `protocol` in its
/// `Upgrade` field as RFC 9110 (15.5.22) requires; the connection closes after it.
pub fn required(protocol: impl Into<Text>, message: &str) -> Response {
    Response::error(Status::UPGRADE_REQUIRED, message)
        .with_header("Upgrade", protocol)
        .closing()
}

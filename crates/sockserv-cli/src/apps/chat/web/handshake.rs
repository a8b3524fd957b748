//! The WebSocket opening handshake (RFC 6455, 4.2) on sockserv-http's upgrade: what is
//! WebSocket's own — the version, the key and its accept value, the Origin allow-list —
//! and the 101 or the error page that answers it.

use sockserv_http::{upgrade, Request, Response, Status};

/// The protocol name in `Upgrade`.
const PROTOCOL: &str = "websocket";
/// The one WebSocket version (RFC 6455's), required in `Sec-WebSocket-Version`.
const VERSION: &str = "13";

/// The 101 that opens the WebSocket `request` asks for, or the error that refuses it.
/// `origins` is the allow-list (empty: any origin).
pub fn accept(request: &Request<'_>, origins: &[String]) -> Result<Response, Response> {
    if request.method != "GET" {
        return Err(method_not_allowed("GET"));
    }
    if !upgrade::requested(request, PROTOCOL) {
        return Err(refusal(Status::BAD_REQUEST, "Not a WebSocket upgrade"));
    }
    let [version, key, origin] =
        request
            .headers
            .pick(["sec-websocket-version", "sec-websocket-key", "origin"]);
    if version != Some(VERSION) {
        // RFC 6455, 4.4: the answer names the versions this server speaks.
        return Err(upgrade::required(PROTOCOL, "Unsupported WebSocket version")
            .with_header("Sec-WebSocket-Version", VERSION));
    }
    // The key is 16 random bytes in base64: 24 characters.
    let Some(key) = key.filter(|key| key.len() == 24) else {
        return Err(refusal(Status::BAD_REQUEST, "Bad Sec-WebSocket-Key"));
    };
    if !origin_allowed(origin, origins) {
        return Err(refusal(Status::FORBIDDEN, "Origin not allowed"));
    }
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    Ok(upgrade::switching_protocols(PROTOCOL).with_header("Sec-WebSocket-Accept", accept))
}

/// Whether `origin` is on the allow-list (scheme, host and port compared without case;
/// an empty list allows everyone, a request without Origin only then).
fn origin_allowed(origin: Option<&str>, allowed: &[String]) -> bool {
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

/// An error page that closes the connection.
pub fn refusal(status: Status, message: &str) -> Response {
    Response::error(status, message).closing()
}

/// 405, with the methods the resource allows.
pub fn method_not_allowed(allow: &'static str) -> Response {
    refusal(Status::METHOD_NOT_ALLOWED, "Method not allowed").with_header("Allow", allow)
}

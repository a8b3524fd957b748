//! The little HTML the crate writes itself: escaping, and Python's error page.

use std::fmt::Write as _;

use crate::status::Status;

/// Escapes `&`, `<` and `>` (Python's `html.escape(s, quote=False)`), byte for byte.
pub(crate) fn escape(text: &[u8], into: &mut Vec<u8>) {
    for &b in text {
        match b {
            b'&' => into.extend_from_slice(b"&amp;"),
            b'<' => into.extend_from_slice(b"&lt;"),
            b'>' => into.extend_from_slice(b"&gt;"),
            b => into.push(b),
        }
    }
}

/// The body of Python's error page (`BaseHTTPRequestHandler.error_message_format`) for
/// `status`, with `message` (escaped).
pub(crate) fn error_page(status: Status, message: &str) -> Vec<u8> {
    let code = status.0;
    let mut page = String::with_capacity(400);
    let _ = write!(
        page,
        "<!DOCTYPE HTML>\n<html lang=\"en\">\n    <head>\n        <meta charset=\"utf-8\">\n        \
         <title>Error response</title>\n    </head>\n    <body>\n        <h1>Error response</h1>\n        \
         <p>Error code: {code}</p>\n        <p>Message: "
    );
    let mut page = page.into_bytes();
    escape(message.as_bytes(), &mut page);
    let explain = status.explanation();
    page.extend_from_slice(
        format!(".</p>\n        <p>Error code explanation: {code} - {explain}.</p>\n    </body>\n</html>\n")
            .as_bytes(),
    );
    page
}

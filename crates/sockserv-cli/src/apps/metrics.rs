//! The metrics endpoint: a minimal HTTP/1.x responder for `GET /metrics`, as a sans-IO
//! [`Session`].
//!
//! One request per connection: the session buffers the request head (at most
//! [`MAX_HEAD`] bytes), answers, and closes (`Connection: close`). `GET /metrics` gets
//! the page; any other path 404; any other method 405; a head over the limit 431; a
//! request line that is not `METHOD TARGET HTTP/1.x` 400. A request body is never read.

use std::sync::Arc;

use sockserv::{Output, PeerAddr, Session, SessionFactory};

/// Longest request head (request line and headers) accepted, in bytes.
pub const MAX_HEAD: usize = 8 * 1024;

/// The media type of the Prometheus text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// Renders the page served at `/metrics`, at request time.
pub type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// Makes one [`MetricsSession`] per connection; every one renders with the same function.
#[derive(Clone)]
pub struct MetricsHttp {
    render: Render,
}

impl MetricsHttp {
    /// A responder serving what `render` returns at `GET /metrics`.
    pub fn new(render: impl Fn() -> String + Send + Sync + 'static) -> Self {
        Self {
            render: Arc::new(render),
        }
    }
}

impl SessionFactory for MetricsHttp {
    type Session = MetricsSession;

    fn open(&self, _peer: &PeerAddr) -> MetricsSession {
        MetricsSession {
            render: Arc::clone(&self.render),
            head: Vec::new(),
            answered: false,
        }
    }
}

/// One HTTP connection to the metrics endpoint.
pub struct MetricsSession {
    render: Render,
    /// The request head so far (never more than [`MAX_HEAD`] + 3 bytes: the tail of a
    /// `\r\n\r\n` split across reads must still be found).
    head: Vec<u8>,
    /// The response is written: ignore whatever else arrives.
    answered: bool,
}

impl MetricsSession {
    /// The response to a complete request head.
    fn respond(&self, head: &[u8]) -> Vec<u8> {
        let line_end = head
            .iter()
            .position(|&b| b == b'\r' || b == b'\n')
            .unwrap_or(head.len());
        let Ok(line) = std::str::from_utf8(&head[..line_end]) else {
            return error(400, "Bad Request");
        };
        let mut parts = line.split(' ');
        let (Some(method), Some(target), Some(version), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return error(400, "Bad Request");
        };
        if method.is_empty() || target.is_empty() || !version.starts_with("HTTP/1.") {
            return error(400, "Bad Request");
        }
        if method != "GET" {
            return error(405, "Method Not Allowed");
        }
        let path = target.split_once('?').map_or(target, |(path, _)| path);
        if path != "/metrics" {
            return error(404, "Not Found");
        }
        response(200, "OK", CONTENT_TYPE, (self.render)().as_bytes())
    }
}

impl Session for MetricsSession {
    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        if self.answered {
            return;
        }
        // Search only where the terminator can newly appear: from 3 bytes before `data`.
        let from = self.head.len().saturating_sub(3);
        let room = (MAX_HEAD + 1).saturating_sub(self.head.len());
        self.head.extend_from_slice(&data[..data.len().min(room)]);
        let reply = match head_end(&self.head[from..]) {
            Some(end) if from + end <= MAX_HEAD => self.respond(&self.head[..from + end]),
            _ if self.head.len() > MAX_HEAD => error(431, "Request Header Fields Too Large"),
            _ => return,
        };
        self.answered = true;
        self.head = Vec::new();
        out.write(&reply);
        out.close();
    }
}

/// Where the head ends (just past its blank line), if it does: `\r\n\r\n`, or a bare
/// `\n\n` from a lenient client.
fn head_end(bytes: &[u8]) -> Option<usize> {
    let crlf = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4);
    let lf = bytes.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A complete `Connection: close` response.
fn response(status: u16, reason: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut bytes = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{}Connection: close\r\n\r\n",
        body.len(),
        if status == 405 { "Allow: GET\r\n" } else { "" },
    )
    .into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// An error response whose body is its reason phrase.
fn error(status: u16, reason: &str) -> Vec<u8> {
    let body = format!("{reason}\n");
    response(status, reason, "text/plain; charset=utf-8", body.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockserv::driver::OutputExt;

    fn session(page: &'static str) -> MetricsSession {
        MetricsHttp::new(move || page.to_owned()).open(&PeerAddr::Unix(None))
    }

    /// Feeds `chunks` one read at a time; returns what was written and whether it closed.
    fn pump(session: &mut MetricsSession, chunks: &[&[u8]]) -> (String, bool) {
        let mut out = Output::new();
        for chunk in chunks {
            session.on_data(chunk, &mut out);
        }
        let closing = out.is_closing();
        (String::from_utf8(out.take()).unwrap(), closing)
    }

    #[test]
    fn a_request_split_across_reads_gets_the_exact_page() {
        let mut s = session("up 1\n");
        let (partial, closing) = pump(&mut s, &[b"GET /met", b"rics HTTP/1.1\r\nHost: x\r"]);
        assert_eq!((partial.as_str(), closing), ("", false));
        let (reply, closing) = pump(&mut s, &[b"\n", b"\r", b"\n"]);
        assert_eq!(
            reply,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\
             Content-Length: 5\r\nConnection: close\r\n\r\nup 1\n"
        );
        assert!(closing);
        // Anything after the answer (a pipelined request) is ignored.
        assert_eq!(pump(&mut s, &[b"GET /metrics HTTP/1.1\r\n\r\n"]).0, "");
    }

    #[test]
    fn a_query_string_is_ignored_and_lf_only_heads_are_accepted() {
        let (reply, _) = pump(&mut session("x\n"), &[b"GET /metrics?a=b HTTP/1.0\n\n"]);
        assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    }

    #[test]
    fn other_paths_are_404() {
        let (reply, closing) = pump(&mut session(""), &[b"GET / HTTP/1.1\r\n\r\n"]);
        assert_eq!(
            reply,
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: 10\r\nConnection: close\r\n\r\nNot Found\n"
        );
        assert!(closing);
    }

    #[test]
    fn other_methods_are_405_with_allow() {
        for method in ["POST", "HEAD", "PUT"] {
            let request = format!("{method} /metrics HTTP/1.1\r\n\r\n");
            let (reply, closing) = pump(&mut session(""), &[request.as_bytes()]);
            assert!(
                reply.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
                "{reply}"
            );
            assert!(reply.contains("\r\nAllow: GET\r\n"), "{reply}");
            assert!(closing);
        }
    }

    #[test]
    fn malformed_request_lines_are_400() {
        for request in [
            &b"GET /metrics\r\n\r\n"[..],
            b"GET  /metrics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/2\r\n\r\n",
            b"\xff /metrics HTTP/1.1\r\n\r\n",
        ] {
            let (reply, _) = pump(&mut session(""), &[request]);
            assert!(reply.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{reply}");
        }
    }

    #[test]
    fn a_head_over_the_limit_is_431_and_buffering_stops() {
        let mut s = session("");
        let mut out = Output::new();
        s.on_data(b"GET /metrics HTTP/1.1\r\n", &mut out);
        let filler = vec![b'a'; 1024];
        for _ in 0..MAX_HEAD / 1024 {
            s.on_data(&filler, &mut out);
        }
        assert!(s.head.len() <= MAX_HEAD + 1);
        let reply = String::from_utf8(out.take()).unwrap();
        assert!(
            reply.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
            "{reply}"
        );
        assert!(out.is_closing());
    }

    #[test]
    fn a_head_of_exactly_the_limit_is_served() {
        let start = b"GET /metrics HTTP/1.1\r\nX: ";
        let mut request = start.to_vec();
        request.resize(MAX_HEAD - 4, b'a');
        request.extend_from_slice(b"\r\n\r\n");
        assert_eq!(request.len(), MAX_HEAD);
        let (reply, _) = pump(&mut session("ok\n"), &[&request]);
        assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    }

    #[test]
    fn eof_before_a_complete_head_closes_without_an_answer() {
        let mut s = session("");
        let mut out = Output::new();
        s.on_data(b"GET /metr", &mut out);
        s.on_eof(&mut out);
        assert!(out.pending().is_empty());
        assert!(out.is_closing());
    }
}

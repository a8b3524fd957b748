//! The metrics endpoint: `GET /metrics` answered with the Prometheus page, as an
//! [`Http`] handler.
//!
//! One request per connection: every answer closes (`Connection: close`). `GET /metrics`
//! gets the page; any other path 404; any other method 405; a head over [`MAX_HEAD`]
//! bytes 431, and what sockserv-http refuses (a malformed request line 400, ...) gets
//! its error page. A request body is never read.

use std::sync::Arc;

use sockserv::PeerAddr;
use sockserv_http::{Handler, Http, Request, Response, Status};

/// Longest request head (request line and headers) accepted, in bytes.
pub const MAX_HEAD: usize = 8 * 1024;

/// The media type of the Prometheus text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// Renders the page served at `/metrics`, at request time.
pub type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// The handler of the metrics endpoint.
pub struct MetricsPage {
    render: Render,
}

impl MetricsPage {
    /// The endpoint serving what `render` returns at `GET /metrics`.
    pub fn http(render: impl Fn() -> String + Send + Sync + 'static) -> Http<MetricsPage> {
        Http::new(MetricsPage {
            render: Arc::new(render),
        })
        .max_head(MAX_HEAD)
    }
}

impl Handler for MetricsPage {
    fn respond(&self, request: &Request<'_>, _peer: &PeerAddr) -> Response {
        let path = request
            .target
            .split_once('?')
            .map_or(request.target, |(path, _)| path);
        let response = if request.method != "GET" {
            text(Status::METHOD_NOT_ALLOWED).with_header("Allow", "GET")
        } else if path != "/metrics" {
            text(Status::NOT_FOUND)
        } else {
            Response::new(Status::OK)
                .with_header("Content-Type", CONTENT_TYPE)
                .with_body((self.render)())
        };
        response.closing()
    }
}

/// An error response whose body is its reason phrase.
fn text(status: Status) -> Response {
    Response::new(status)
        .with_header("Content-Type", "text/plain; charset=utf-8")
        .with_body(format!("{}\n", status.reason()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockserv::driver::InMemory;
    use sockserv::SessionFactory;
    use sockserv_http::client::ResponseHead;
    use sockserv_http::HttpSession;

    type Conn = InMemory<HttpSession<MetricsPage>>;

    fn session(page: &'static str) -> Conn {
        InMemory::open(MetricsPage::http(move || page.to_owned()).open(&PeerAddr::Unix(None)))
    }

    /// Feeds `chunks` one read at a time; returns what the peer then reads and whether
    /// the connection is closing (or closed).
    fn pump(conn: &mut Conn, chunks: &[&[u8]]) -> (Vec<u8>, bool) {
        for chunk in chunks {
            conn.feed(chunk);
        }
        let closing = conn.is_closing();
        (conn.transmit().unwrap(), closing)
    }

    /// The status, the named field and the body of the one response in `bytes`.
    fn read(bytes: &[u8], field: &str) -> (u16, Option<String>, String) {
        let head = ResponseHead::parse(bytes)
            .unwrap()
            .expect("a complete head");
        let body = &bytes[head.len..];
        assert_eq!(head.content_length, Some(body.len() as u64));
        assert!(!head.keep_alive, "every answer closes");
        let value = head.headers.get(field).map(str::to_owned);
        (
            head.status,
            value,
            String::from_utf8_lossy(body).into_owned(),
        )
    }

    #[test]
    fn a_request_split_across_reads_gets_the_exact_page() {
        let mut s = session("up 1\n");
        let (partial, closing) = pump(&mut s, &[b"GET /met", b"rics HTTP/1.1\r\nHost: x\r"]);
        assert_eq!((partial.len(), closing), (0, false));
        let (reply, closing) = pump(&mut s, &[b"\n", b"\r", b"\n"]);
        assert_eq!(
            read(&reply, "Content-Type"),
            (200, Some(CONTENT_TYPE.to_owned()), "up 1\n".to_owned())
        );
        assert!(closing);
        // Anything after the answer (a pipelined request) is ignored.
        assert!(pump(&mut s, &[b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n"])
            .0
            .is_empty());
    }

    #[test]
    fn a_query_string_is_ignored_and_lf_only_heads_are_accepted() {
        let (reply, _) = pump(&mut session("x\n"), &[b"GET /metrics?a=b HTTP/1.0\n\n"]);
        assert_eq!(read(&reply, "Content-Type").0, 200);
    }

    #[test]
    fn other_paths_are_404() {
        let (reply, closing) = pump(&mut session(""), &[b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"]);
        assert_eq!(
            read(&reply, "Content-Type"),
            (
                404,
                Some("text/plain; charset=utf-8".to_owned()),
                "Not Found\n".to_owned()
            )
        );
        assert!(closing);
    }

    #[test]
    fn other_methods_are_405_with_allow() {
        for method in ["POST", "HEAD", "PUT"] {
            let request = format!("{method} /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
            let (reply, closing) = pump(&mut session(""), &[request.as_bytes()]);
            let head = ResponseHead::parse(&reply).unwrap().unwrap();
            assert_eq!((head.status, head.reason), (405, "Method Not Allowed"));
            assert_eq!(head.headers.get("Allow"), Some("GET"));
            assert!(closing);
        }
    }

    #[test]
    fn malformed_request_lines_are_400_and_close() {
        for request in [
            &b"GET /metrics\r\n\r\n"[..],
            b"GET /metrics HTTP/x\r\n\r\n",
            b"\xff /metrics HTTP/1.1\r\nHost: t\r\n\r\n",
        ] {
            let (reply, closing) = pump(&mut session(""), &[request]);
            assert_eq!(read(&reply, "Content-Type").0, 400, "{request:?}");
            assert!(closing);
        }
    }

    #[test]
    fn a_head_over_the_limit_is_431_and_buffering_stops() {
        let mut s = session("");
        s.feed(b"GET /metrics HTTP/1.1\r\nHost: t\r\n");
        let filler = vec![b'a'; 1024];
        for _ in 0..MAX_HEAD / 1024 {
            s.feed(&filler);
        }
        assert!(s.session().buffered() <= MAX_HEAD + 1024);
        assert!(s.is_closing());
        assert_eq!(read(&s.transmit().unwrap(), "Content-Type").0, 431);
    }

    #[test]
    fn a_head_of_exactly_the_limit_is_served() {
        let start = b"GET /metrics HTTP/1.1\r\nHost: t\r\nX: ";
        let mut request = start.to_vec();
        request.resize(MAX_HEAD - 4, b'a');
        request.extend_from_slice(b"\r\n\r\n");
        assert_eq!(request.len(), MAX_HEAD);
        let (reply, _) = pump(&mut session("ok\n"), &[&request]);
        assert_eq!(read(&reply, "Content-Type").0, 200);
    }

    #[test]
    fn eof_before_a_complete_head_closes_without_an_answer() {
        let mut s = session("");
        s.feed(b"GET /metr");
        s.eof();
        assert!(s.is_closing());
        assert!(s.transmit().unwrap().is_empty());
    }
}

//! A custom HTTP handler: Python's `BaseHTTPRequestHandler` with a `do_GET`.
//!
//! Python:
//!
//! ```python
//! class Hello(http.server.BaseHTTPRequestHandler):
//!     def do_GET(self):
//!         if self.path != "/hello":
//!             self.send_error(404, "Try /hello")
//!             return
//!         body = b'{"hello": "world"}'
//!         self.send_response(200)
//!         self.send_header("Content-Type", "application/json")
//!         self.send_header("Content-Length", str(len(body)))
//!         self.end_headers()
//!         self.wfile.write(body)
//! http.server.ThreadingHTTPServer(("127.0.0.1", 8080), Hello).serve_forever()
//! ```
//!
//! Run: `cargo run -p sockserv-http --example hello_http [URL]` (default
//! `tcp://127.0.0.1:8080`), then `curl http://127.0.0.1:8080/hello`. It prints
//! `listening on URL` (with the real port, for port 0) to stderr once it is ready, and
//! serves until Ctrl-C (or SIGTERM), which lets requests in flight finish for up to 5 s.

use std::time::Duration;

use sockserv::{PeerAddr, Server, Strategy};
use sockserv_http::{Handler, Http, Request, Response, Status};

/// The handler: one method for every request, the routing in a `match`.
struct Hello;

impl Handler for Hello {
    fn respond(&self, request: &Request<'_>, _peer: &PeerAddr) -> Response {
        // HEAD is answered as GET: the connection leaves the body out.
        match (request.method, request.target) {
            ("GET" | "HEAD", "/hello") => Response::new(Status::OK) // send_response(200)
                .with_header("Content-Type", "application/json") // send_header(...)
                .with_body(r#"{"hello": "world"}"#), // wfile.write(body); the length is added
            ("GET" | "HEAD", _) => Response::error(Status::NOT_FOUND, "Try /hello"), // send_error
            // Python answers a method without a do_METHOD with 501 too.
            (method, _) => Response::error(
                Status::NOT_IMPLEMENTED,
                &format!("Unsupported method ('{method}')"),
            ),
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "tcp://127.0.0.1:8080".to_owned());
    let server = Server::builder(url.as_str())
        .strategy(Strategy::Threads) // ThreadingHTTPServer; any strategy works
        .session_factory(Http::new(Hello))
        .bind()?;
    eprintln!("listening on {}", server.local_endpoint());
    // serve_forever(), then server_close() once a signal asks to stop.
    let report = server.serve_until_signal(Duration::from_secs(5))?;
    eprintln!("stopped: {} finished, {} cut", report.finished, report.cut);
    Ok(())
}

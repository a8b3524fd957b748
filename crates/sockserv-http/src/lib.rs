//! sockserv-http: HTTP/1.1 on [sockserv], as Python's `http.server` is on
//! `socketserver`.
//!
//! You write a [`Handler`] — a request in, a [`Response`] out, Python's `do_GET` with the
//! routing left to you — and [`Http`] makes it a sockserv [`Session`](sockserv::Session):
//! it runs under every strategy (threads, pool, fork, the per-core event loops), behind
//! TLS, and is tested in memory. The connection ([`HttpSession`]) does the protocol:
//! request heads parsed with httparse within limits (Python's 400, 414, 431 and 505 for
//! bad ones), keep-alive, pipelining answered in order with bounded memory, request
//! bodies read whole up to [`Http::max_body`] (else skipped), HEAD, an optional header
//! timeout (408), an access log line per request through `tracing`, and [`Counters`] by
//! status class.
//!
//! A handler decides; it never writes. Its [`Response`] is a value — status, fields,
//! [`Body`] (bytes, a file range, several ranges) — that one
//! [`Writer`](writer::Writer) turns into bytes, so a decision is checked without parsing
//! any. [`FileServer`] is the handler of `python -m http.server`: files sent with
//! `sendfile(2)`, directory listings, ranges, validators, optional gzip.
//!
//! ```no_run
//! use sockserv::Server;
//! use sockserv_http::{Http, Response, Status};
//!
//! let http = Http::from_fn(|request, _peer| match (request.method, request.target) {
//!     ("GET" | "HEAD", "/hello") => Response::new(Status::OK)
//!         .with_header("Content-Type", "application/json")
//!         .with_body(r#"{"hello":"world"}"#),
//!     ("GET" | "HEAD", _) => Response::error(Status::NOT_FOUND, "Nothing here"),
//!     _ => Response::error(Status::NOT_IMPLEMENTED, "Unsupported method").closing(),
//! });
//! let mut server = Server::builder("tcp://127.0.0.1:8080").session_factory(http).bind()?;
//! server.serve()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The modules, for what the root does not re-export: [`request`] (parsing and its
//! limits), [`session`] (the connection's limits), [`writer`] (a response to bytes, for a
//! Session of your own), [`conditional`], [`range`] and [`gzip`] (the representation
//! helpers), [`files`] (paths and listings), [`client`] (response heads, for clients),
//! [`offload`] (deciding responses off an event loop's thread), [`upgrade`] (switching a
//! connection to another protocol, as a WebSocket does).
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

pub mod client;
pub mod conditional;
pub mod files;
pub mod gzip;
mod handler;
mod headers;
mod html;
pub mod offload;
pub mod range;
pub mod request;
mod response;
mod server;
pub mod session;
mod status;
pub mod upgrade;
pub mod writer;

pub use files::FileServer;
pub use handler::{FnHandler, Handler};
pub use headers::Headers;
pub use request::Request;
pub use response::{Body, FileSlice, Multipart, Response, Text};
pub use server::{Counters, Http};
pub use session::HttpSession;
pub use status::Status;
pub use writer::Protocol;

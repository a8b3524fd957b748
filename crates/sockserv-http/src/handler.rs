//! [`Handler`]: what a user writes — a request in, a [`Response`] out — in the spirit of
//! Python's `BaseHTTPRequestHandler.do_GET`.

use sockserv::PeerAddr;

use crate::request::Request;
use crate::response::Response;

/// Answers requests: Python's `do_GET`, `do_HEAD`, `do_POST`... in one method, with the
/// routing left to you (match on [`Request::method`] and [`Request::target`]).
///
/// The connection does the rest: it parses heads (a malformed one is answered with
/// Python's error page and never reaches the handler), keeps the connection alive,
/// answers pipelined requests in order, leaves the body out for HEAD (answer HEAD as you
/// answer GET), reads or skips request bodies, and enforces the limits. The handler runs on the
/// connection's thread — an event loop under `Strategy::Events` — so it must not block
/// for long; a file is best returned with [`Response::with_file`], which sends it
/// without reading it into memory.
///
/// Request bodies are skipped unless [`Http::max_body`](crate::Http::max_body) asks for
/// them: then one of at most that many bytes is read whole first and comes in
/// [`Request::content`].
///
/// A closure works too, through [`Http::from_fn`](crate::Http::from_fn).
pub trait Handler: Send + Sync + 'static {
    /// The response to `request` from `peer`.
    fn respond(&self, request: &Request<'_>, peer: &PeerAddr) -> Response;
}

/// A closure as a [`Handler`] (made by [`Http::from_fn`](crate::Http::from_fn)).
#[derive(Clone, Copy, Debug)]
pub struct FnHandler<F>(pub F);

impl<F> Handler for FnHandler<F>
where
    F: Fn(&Request<'_>, &PeerAddr) -> Response + Send + Sync + 'static,
{
    fn respond(&self, request: &Request<'_>, peer: &PeerAddr) -> Response {
        (self.0)(request, peer)
    }
}

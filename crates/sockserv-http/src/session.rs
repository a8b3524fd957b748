//! [`HttpSession`]: one HTTP connection's state machine — buffering, pipelining,
//! keep-alive, body skipping, limits, the access log — around the user's [`Handler`].
//!
//! Requests are answered in order as soon as their head is complete. While more than
//! [`PAUSE_ABOVE`] bytes of output are queued, parsing stops (the rest waits, bounded by
//! [`MAX_INPUT`]) and resumes in [`Session::on_drained`]. A request body of at most
//! [`Http::max_body`](crate::Http::max_body) bytes (none by default) is read whole and
//! given to the handler in [`Request::content`]; a larger one is skipped when its
//! `Content-Length` is at most [`MAX_SKIPPED_BODY`] bytes, and a larger or chunked one ends
//! the connection after the response. A malformed head is
//! answered (400, 414, 431, 505) and the connection closed; so is a response the
//! handler marked [closing](crate::Response::closing). A head still incomplete after the
//! header timeout (a timer set when its first byte arrives) gets 408, whether the client
//! went silent or keeps trickling.
//!
//! When the server drains ([`Session::on_shutdown`]), an idle connection closes at once
//! (as nginx closes idle keep-alive connections); a request in flight is completed and
//! answered with `Connection: close`, and the connection closes after it.

use std::fmt;
use std::sync::{Arc, Mutex};

use sockserv::{Output, PeerAddr, Session, SessionWaker};

use crate::handler::Handler;
use crate::offload::{decide, Offloaded};
use crate::request::{self, Parsed, Request, RequestBody};
use crate::response::Response;
use crate::server::Shared;
use crate::status::Status;
use crate::writer::{Framing, Protocol, Writer};

/// Queued output above which pipelined requests wait.
pub const PAUSE_ABOVE: u64 = 256 * 1024;
/// Largest request body skipped to keep the connection; a larger one closes it.
pub const MAX_SKIPPED_BODY: u64 = 64 * 1024;
/// Most unparsed input kept while paused; past it the connection is dropped.
pub const MAX_INPUT: usize = 1024 * 1024;
/// Largest [`Http::max_body`](crate::Http::max_body): a head and its body must fit in
/// [`MAX_INPUT`].
pub const MAX_BODY: u64 = 512 * 1024;

/// One HTTP connection answered by `H` (made by [`Http`](crate::Http)).
pub struct HttpSession<H> {
    shared: Arc<Shared<H>>,
    peer: PeerAddr,
    /// Received and not yet parsed (a partial head, or requests waiting while paused).
    input: Vec<u8>,
    /// Bytes of a request body still to discard.
    skip: u64,
    /// Bytes the request at the start of `input` needs (head and body) once its head
    /// showed a body to read; 0 otherwise.
    awaited: usize,
    /// Turns responses into bytes (its head buffer is reused across requests).
    writer: Writer,
    /// The header timer runs: the incomplete head in `input` started arriving.
    head_timer: bool,
    /// The server is draining: the next response closes the connection.
    draining: bool,
    /// The connection is closing: ignore whatever else arrives.
    done: bool,
    /// The peer sent EOF.
    eof: bool,
    /// Parsing waits for the output to drain.
    paused: bool,
    /// Wakes this connection when an offloaded response is ready (with an offload pool).
    waker: Option<SessionWaker>,
    /// The request a worker is answering: parsing waits for it.
    offloaded: Option<Offloaded>,
}

impl<H: Handler> HttpSession<H> {
    pub(crate) fn new(shared: Arc<Shared<H>>, peer: PeerAddr) -> HttpSession<H> {
        HttpSession {
            writer: Writer::with_protocol(shared.protocol),
            shared,
            peer,
            input: Vec::new(),
            skip: 0,
            awaited: 0,
            head_timer: false,
            draining: false,
            done: false,
            eof: false,
            paused: false,
            waker: None,
            offloaded: None,
        }
    }

    /// Answers the complete requests at the start of `input`; returns the bytes used.
    fn serve(&mut self, input: &[u8], out: &mut Output) -> usize {
        let mut used = 0;
        while !self.done && self.offloaded.is_none() {
            if self.skip > 0 {
                let n = self.skip.min((input.len() - used) as u64);
                used += n as usize;
                self.skip -= n;
                if self.skip > 0 {
                    break;
                }
            }
            if used == input.len() {
                break;
            }
            if out.queued() > PAUSE_ABOVE {
                self.paused = true;
                break;
            }
            // A head whose body is still arriving is parsed again only once it is all in.
            if input.len() - used < self.awaited {
                break;
            }
            match request::parse(&input[used..], self.shared.max_head) {
                Parsed::Partial => break,
                Parsed::Complete(mut request, len) => {
                    let content = match request.body {
                        RequestBody::Length(n) if n <= self.shared.max_body => n as usize,
                        _ => 0,
                    };
                    if input.len() - used - len < content {
                        self.awaited = len + content;
                        break;
                    }
                    request.content = &input[used + len..used + len + content];
                    let whole = &input[used..used + len + content];
                    used += len + content;
                    self.awaited = 0;
                    // The next head, if any, gets a timer of its own.
                    self.head_timer = false;
                    if self.offload(&request, whole) {
                        break;
                    }
                    self.answer(&request, out);
                }
                Parsed::Invalid(reject) => {
                    self.refuse(reject.status, &reject.message, out);
                }
            }
        }
        used
    }

    fn answer(&mut self, request: &Request<'_>, out: &mut Output) {
        let framing = self.framing(request);
        let response = self.shared.handler.respond(request, &self.peer);
        self.deliver(request.method, request.target, response, framing, out);
    }

    /// How the response to `request` is framed, before the handler's say (a closing
    /// response closes too); starts skipping a body that is not read.
    fn framing(&mut self, request: &Request<'_>) -> Framing {
        // An HTTP/1.0 server answers one request per connection, as Python's.
        let mut keep_alive = request.keep_alive && self.shared.protocol == Protocol::Http11;
        match request.body {
            RequestBody::None => {}
            // Read already, into `request.content`.
            RequestBody::Length(n) if n == request.content.len() as u64 => {}
            RequestBody::Length(n) if n <= MAX_SKIPPED_BODY => self.skip = n,
            RequestBody::Length(_) | RequestBody::Encoded => keep_alive = false,
        }
        Framing {
            keep_alive,
            minor: request.minor,
            head_only: request.is_head(),
        }
    }

    /// Sends the handler's `response`, then closes if it or the framing says so.
    fn deliver(
        &mut self,
        method: &str,
        target: &str,
        response: Response,
        mut framing: Framing,
        out: &mut Output,
    ) {
        framing.keep_alive &= !response.close && !self.draining;
        self.send(method, target, response, framing, out);
        if !framing.keep_alive || out.is_closing() {
            self.finish(out);
        }
    }

    /// Hands `request` (whose head and read body are `whole`) to a worker of the offload
    /// pool, if there is one and its queue has room; parsing then waits for `on_wake`.
    /// Returns whether it did.
    fn offload(&mut self, request: &Request<'_>, whole: &[u8]) -> bool {
        let (Some(pool), Some(waker)) = (&self.shared.offload, &self.waker) else {
            return false;
        };
        if self.eof {
            // The driver ends the connection once its output is out: answer now.
            return false;
        }
        let slot = Arc::new(Mutex::new(None));
        let whole: Arc<[u8]> = whole.into();
        let job = {
            let shared = Arc::clone(&self.shared);
            let (peer, waker) = (self.peer.clone(), waker.clone());
            let (slot, whole) = (Arc::clone(&slot), Arc::clone(&whole));
            Box::new(move || {
                let response = decide(&shared, &whole, &peer);
                *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(response);
                waker.wake();
            })
        };
        if pool.try_run(job).is_err() {
            // The queue is full: decide here, as without a pool (bounded memory).
            return false;
        }
        let framing = self.framing(request);
        self.offloaded = Some(Offloaded {
            slot,
            whole,
            method: request.method.to_owned(),
            target: request.target.to_owned(),
            framing,
        });
        true
    }

    /// Answers a head that cannot be served with Python's error page, and closes.
    fn refuse(&mut self, status: Status, message: &str, out: &mut Output) {
        let framing = Framing {
            keep_alive: false,
            minor: 1,
            head_only: false,
        };
        self.send("-", "-", Response::error(status, message), framing, out);
        self.finish(out);
    }

    /// Writes `response`, counts it and logs it.
    fn send(
        &mut self,
        method: &str,
        target: &str,
        response: Response,
        framing: Framing,
        out: &mut Output,
    ) {
        let status = response.status;
        let bytes = self.writer.write(response, framing, out);
        self.shared.counters.count(status);
        tracing::info!(
            peer = %self.peer,
            method,
            target,
            status = status.0,
            bytes,
            "request"
        );
    }

    /// Closes once everything queued is sent; nothing more is read.
    fn finish(&mut self, out: &mut Output) {
        self.done = true;
        self.input = Vec::new();
        out.close();
    }

    /// Serves what `input` holds plus `data`, keeping the unparsed rest.
    fn feed(&mut self, data: &[u8], out: &mut Output) {
        if self.input.is_empty() {
            // The common case: whole requests in one read, parsed without a copy.
            let used = self.serve(data, out);
            if !self.done {
                self.input.extend_from_slice(&data[used..]);
            }
        } else {
            let mut input = std::mem::take(&mut self.input);
            input.extend_from_slice(data);
            let used = self.serve(&input, out);
            if !self.done {
                input.drain(..used);
                self.input = input;
            }
        }
        if self.done {
            return;
        }
        if self.input.len() > MAX_INPUT {
            tracing::debug!(peer = %self.peer, "too much pipelined input: closing");
            return self.finish(out);
        }
        self.time_head(out);
        // After EOF nothing more is coming to answer; while draining, nothing more is
        // awaited once the requests in flight are answered.
        let ended = self.eof && !self.paused && self.offloaded.is_none();
        if ended || (self.draining && self.is_idle()) {
            self.finish(out);
        }
    }

    /// Whether nothing is in flight: no partial request received, none waiting or being
    /// answered (a response may still be queued).
    fn is_idle(&self) -> bool {
        !self.done
            && self.input.is_empty()
            && self.skip == 0
            && !self.paused
            && self.offloaded.is_none()
    }

    /// Starts the header timer when a head has begun to arrive, clears it once no head
    /// is incomplete: a head trickling in slower than the timeout (slowloris), or one a
    /// client left half-sent, is answered 408 in `on_timer`.
    fn time_head(&mut self, out: &mut Output) {
        let Some(limit) = self.shared.header_timeout else {
            return;
        };
        let head_arriving =
            !self.paused && self.offloaded.is_none() && !self.input.is_empty() && self.skip == 0;
        if !head_arriving {
            out.clear_timer();
        } else if !self.head_timer {
            out.set_timer(limit);
        }
        self.head_timer = head_arriving;
    }
}

impl<H: Handler> HttpSession<H> {
    /// Sends the `response` to the `offloaded` request, then serves what arrived
    /// meanwhile: more requests, or the peer's EOF.
    fn complete(&mut self, offloaded: Offloaded, response: Response, out: &mut Output) {
        let Offloaded {
            method,
            target,
            framing,
            ..
        } = offloaded;
        self.deliver(&method, &target, response, framing, out);
        self.feed(&[], out);
    }
}

impl<H> HttpSession<H> {
    /// Bytes received and not answered yet (a partial head, or pipelined requests waiting
    /// for the output to drain): bounded by the head limit, or by [`MAX_INPUT`] while
    /// paused.
    pub fn buffered(&self) -> usize {
        self.input.len()
    }
}

impl<H> fmt::Debug for HttpSession<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSession")
            .field("peer", &self.peer)
            .field("buffered", &self.input.len())
            .field("skip", &self.skip)
            .field("paused", &self.paused)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<H: Handler> Session for HttpSession<H> {
    fn on_open(&mut self, out: &mut Output) {
        if self.shared.offload.is_some() {
            self.waker = Some(out.waker());
        }
    }

    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        if !self.done {
            self.feed(data, out);
        }
    }

    fn on_eof(&mut self, out: &mut Output) {
        self.eof = true;
        // With nothing queued, the driver ends the connection after an EOF: the request a
        // worker is answering is decided here instead (its worker's answer is dropped).
        if let Some(offloaded) = self.offloaded.take() {
            let response = decide(&self.shared, &offloaded.whole, &self.peer);
            return self.complete(offloaded, response, out);
        }
        // Requests waiting for the output to drain are still answered (in `on_drained`);
        // an incomplete head is dropped without an answer, as Python does.
        if !self.done && !self.paused {
            self.finish(out);
        }
    }

    fn on_timer(&mut self, out: &mut Output) {
        if std::mem::take(&mut self.head_timer) && !self.done {
            self.refuse(
                Status::REQUEST_TIMEOUT,
                "Request head not received in time",
                out,
            );
        }
    }

    fn on_shutdown(&mut self, out: &mut Output) {
        self.draining = true;
        // An idle keep-alive connection closes now (after a response still queued); one
        // with a request in flight closes after answering it.
        if self.is_idle() {
            self.finish(out);
        }
    }

    fn on_drained(&mut self, out: &mut Output) {
        if self.paused && !self.done && self.offloaded.is_none() {
            self.paused = false;
            self.feed(&[], out);
        }
    }

    fn on_wake(&mut self, out: &mut Output) {
        let Some(offloaded) = self
            .offloaded
            .take_if(|o| o.slot.lock().unwrap_or_else(|e| e.into_inner()).is_some())
        else {
            return;
        };
        let response = offloaded
            .slot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let (Some(response), false) = (response, self.done) {
            self.complete(offloaded, response, out);
        }
    }
}

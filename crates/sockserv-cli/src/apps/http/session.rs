//! One HTTP connection: buffering, pipelining, keep-alive, body skipping, limits, and the
//! access log.
//!
//! Requests are answered in order as soon as their head is complete. While more than
//! [`PAUSE_ABOVE`] bytes of output are queued, parsing stops (the rest waits, bounded by
//! [`MAX_INPUT`]) and resumes in [`Session::on_drained`]. A body on a GET or HEAD is
//! skipped when its `Content-Length` is at most [`MAX_SKIPPED_BODY`] bytes; a larger
//! one, or a chunked one, ends the connection after the response. A malformed head is
//! answered (400, 414, 431, 505) and the connection closed; so is any method but GET
//! and HEAD (501). A head still incomplete after the header timeout gets 408.

use std::sync::Arc;
use std::time::Instant;

use sockserv::{Output, PeerAddr, Session};

use super::files::{self, Answer, Reply};
use super::head::{self, Body, Parsed, Request};
use super::response::Status;
use super::{HttpConfig, HttpCounters};

/// Queued output above which pipelined requests wait.
pub const PAUSE_ABOVE: u64 = 256 * 1024;
/// Largest request body skipped to keep the connection; a larger one closes it.
pub const MAX_SKIPPED_BODY: u64 = 64 * 1024;
/// Most unparsed input kept while paused; past it the connection is dropped.
pub const MAX_INPUT: usize = 1024 * 1024;

/// One connection to the file server.
pub struct HttpSession {
    config: Arc<HttpConfig>,
    counters: Arc<HttpCounters>,
    peer: PeerAddr,
    /// Received and not yet parsed (a partial head, or requests waiting while paused).
    pub(super) input: Vec<u8>,
    /// Bytes of a request body still to discard.
    skip: u64,
    /// Response heads are built here, then written to the output in one piece.
    scratch: Vec<u8>,
    /// When the incomplete head in `input` started arriving.
    head_since: Option<Instant>,
    /// The connection is closing: ignore whatever else arrives.
    done: bool,
    /// The peer sent EOF.
    eof: bool,
    /// Parsing waits for the output to drain.
    pub(super) paused: bool,
}

impl HttpSession {
    /// A session for a connection from `peer`.
    pub fn new(
        config: Arc<HttpConfig>,
        counters: Arc<HttpCounters>,
        peer: PeerAddr,
    ) -> HttpSession {
        HttpSession {
            config,
            counters,
            peer,
            input: Vec::new(),
            skip: 0,
            scratch: Vec::with_capacity(512),
            head_since: None,
            done: false,
            eof: false,
            paused: false,
        }
    }

    /// Answers the complete requests at the start of `input`; returns the bytes used.
    fn serve(&mut self, input: &[u8], out: &mut Output) -> usize {
        let mut used = 0;
        while !self.done {
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
            match head::parse(&input[used..]) {
                Parsed::Partial => break,
                Parsed::Complete(request, len) => {
                    used += len;
                    self.head_since = None;
                    self.answer(&request, out);
                }
                Parsed::Invalid(reject) => {
                    let answer = self
                        .reply(out, false, 1, false)
                        .error(reject.status, &reject.message);
                    self.log("-", "-", answer);
                    self.finish(out);
                }
            }
        }
        used
    }

    fn answer(&mut self, request: &Request<'_>, out: &mut Output) {
        let mut keep_alive = request.keep_alive;
        match request.body {
            Body::None => {}
            Body::Length(n) if n <= MAX_SKIPPED_BODY => self.skip = n,
            Body::Length(_) | Body::Encoded => keep_alive = false,
        }
        let head_only = request.method == "HEAD";
        let answer = if head_only || request.method == "GET" {
            let mut reply = Reply {
                scratch: &mut self.scratch,
                out,
                keep_alive,
                minor: request.minor,
                head_only,
            };
            let answer = files::respond(&self.config, request, &mut reply);
            // A malformed path closes the connection too.
            keep_alive = reply.keep_alive;
            answer
        } else {
            // Python closes after a 501 too: the body of the unknown method was not read.
            keep_alive = false;
            let message = format!("Unsupported method ('{}')", request.method);
            self.reply(out, false, request.minor, false)
                .error(Status::NOT_IMPLEMENTED, &message)
        };
        self.log(request.method, request.target, answer);
        if !keep_alive || out.is_closing() {
            self.finish(out);
        }
    }

    fn reply<'a>(
        &'a mut self,
        out: &'a mut Output,
        keep_alive: bool,
        minor: u8,
        head_only: bool,
    ) -> Reply<'a> {
        Reply {
            scratch: &mut self.scratch,
            out,
            keep_alive,
            minor,
            head_only,
        }
    }

    fn log(&self, method: &str, target: &str, answer: Answer) {
        self.counters.count(answer.status.0);
        tracing::info!(
            peer = %self.peer,
            method,
            target,
            status = answer.status.0,
            bytes = answer.bytes,
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
        self.check_header_timeout(out);
        if self.eof && !self.paused {
            self.finish(out);
        }
    }

    /// A head trickling in slower than the header timeout (slowloris) gets 408.
    fn check_header_timeout(&mut self, out: &mut Output) {
        let Some(limit) = self.config.header_timeout else {
            return;
        };
        if self.paused || self.input.is_empty() || self.skip > 0 {
            self.head_since = None;
            return;
        }
        let since = *self.head_since.get_or_insert_with(Instant::now);
        if since.elapsed() > limit {
            let answer = self
                .reply(out, false, 1, false)
                .error(Status::REQUEST_TIMEOUT, "Request head not received in time");
            self.log("-", "-", answer);
            self.finish(out);
        }
    }
}

impl Session for HttpSession {
    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        if !self.done {
            self.feed(data, out);
        }
    }

    fn on_eof(&mut self, out: &mut Output) {
        self.eof = true;
        // Requests waiting for the output to drain are still answered (in `on_drained`);
        // an incomplete head is dropped without an answer, as Python does.
        if !self.done && !self.paused {
            self.finish(out);
        }
    }

    fn on_drained(&mut self, out: &mut Output) {
        if self.paused && !self.done {
            self.paused = false;
            self.feed(&[], out);
        }
    }
}

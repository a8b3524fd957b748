//! [`WsSession`]: a WebSocket (RFC 6455) between the driver's bytes and an inner line
//! Session — one text message is one line, both ways.

use std::io::ErrorKind;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sockserv::driver::{OutputExt, Relay, WakeSource};
use sockserv::{Output, Session, SessionWaker};
use tungstenite::error::Error as WsError;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::frame::{CloseFrame, Frame};
use tungstenite::protocol::{Role, WebSocketConfig, WebSocketContext};
use tungstenite::Message;

use super::pipe::Pipe;

/// How much of an inner Session's queued file is read per step (chat sends none).
const LOAD_CHUNK: usize = 16 * 1024;

/// Limits of one WebSocket connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsLimits {
    /// Largest message (after reassembling fragments) and largest single frame, in
    /// bytes; more is closed with 1009.
    pub max_message: usize,
    /// Send a ping after this long without hearing from the peer; close it when the
    /// next interval passes without an answer. `None`: no pings.
    pub ping_interval: Option<Duration>,
}

/// Tells whether the server is going away (close code 1001) rather than the member
/// leaving (1000) when the inner Session closes.
pub type GoingAway = Arc<dyn Fn() -> bool + Send + Sync>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Messages flow both ways.
    Open,
    /// Our close frame is sent; waiting for the peer's.
    ClosingByUs,
    /// The peer's close frame came; ours answers it and the connection ends.
    ClosedByPeer,
    /// The outer output is closing: nothing more is read or written.
    Done,
}

/// Keep-alive bookkeeping: when the peer was last heard from, when a ping went unanswered.
struct Liveness {
    interval: Duration,
    last_heard: Instant,
    ping_sent: Option<Instant>,
}

/// A [`Session`] that runs an inner line Session over a WebSocket, after the HTTP
/// upgrade (the front in `web.rs` does that, then hands the connection over).
///
/// Every text message from the peer reaches the inner Session as one line (`TEXT\n`; a
/// message with newlines in it is several lines); every line the inner Session writes
/// leaves as one text message, without its `\n`. Framing, fragments, masking, UTF-8, ping
/// answers and the close handshake are tungstenite's protocol core, run over an
/// in-memory stream. Errors close the connection with the RFC's codes: 1009 for a message
/// or frame over [`WsLimits::max_message`], 1007 for invalid UTF-8 in text, 1003 for
/// binary messages, 1002 for protocol errors (unmasked client frames, bad opcodes,
/// continuation without a start, ...). When the inner Session closes, the close
/// handshake starts (1000, or 1001 when the server is going away) and the connection ends
/// when the peer answers; a peer dropped as too slow (the inner Session took back its
/// backlog) gets 1008 and no wait.
///
/// As with TLS, the inner Session's [`Output::queued`] keeps counting what the peer has
/// not been sent: a line stays queued there until the driver has sent its frame, so the
/// chat room's slow-member policy works unchanged. The connection's timer is the
/// keep-alive's ([`WsLimits::ping_interval`]): an inner Session's own timer is not run
/// (the chat member sets none).
pub struct WsSession<S> {
    ctx: WebSocketContext,
    pipe: Pipe,
    inner: S,
    inner_out: Output,
    inner_wake: Option<WakeSource>,
    /// The first `relay.handed()` pending bytes of `inner_out` are framed (in the
    /// driver's output); they leave `inner_out` once the driver has sent their frames.
    relay: Relay,
    /// The inner Session has heard EOF (or closed by itself).
    inner_eof: bool,
    /// The inner Session took back output it had queued: it dropped a peer that could
    /// not keep up, which will not answer a close handshake either.
    taken_back: bool,
    state: State,
    going_away: GoingAway,
    liveness: Option<Liveness>,
}

impl<S: Session> WsSession<S> {
    /// Runs `inner` over a WebSocket whose handshake is done.
    pub fn new(inner: S, limits: &WsLimits, going_away: GoingAway) -> Self {
        let config = WebSocketConfig::default()
            .max_message_size(Some(limits.max_message))
            .max_frame_size(Some(limits.max_message))
            // Every frame goes to the driver at once; the driver's Output is the buffer.
            .write_buffer_size(0);
        WsSession {
            ctx: WebSocketContext::new(Role::Server, Some(config)),
            pipe: Pipe::default(),
            inner,
            inner_out: Output::new(),
            inner_wake: None,
            relay: Relay::new(),
            inner_eof: false,
            taken_back: false,
            state: State::Open,
            going_away,
            liveness: limits.ping_interval.map(|interval| Liveness {
                interval,
                last_heard: Instant::now(),
                ping_sent: None,
            }),
        }
    }

    /// Opens the inner Session; `waker` wakes this connection (the front asked for it in
    /// its own `on_open`, the only place a driver hands one out).
    pub fn open(&mut self, waker: SessionWaker, out: &mut Output) {
        if let Some(live) = &self.liveness {
            out.set_timer(live.interval);
        }
        self.inner.on_open(&mut self.inner_out);
        if let Some(source) = self.inner_out.wake_source() {
            source.set_notify(move || waker.wake());
            self.inner_wake = Some(source);
        }
        self.after_inner(out);
    }

    /// Moves the frames tungstenite wrote (pongs, close frames, messages) to the driver.
    fn flush_pipe(&mut self, out: &mut Output) {
        if !self.pipe.output.is_empty() {
            out.write(&self.pipe.output);
            self.relay.wrote(self.pipe.output.len());
            self.pipe.output.clear();
        }
    }

    /// Frames the complete lines the inner Session wrote; once it has closed and all is
    /// framed, starts the close handshake (1001 when the server is going away, else 1000).
    fn after_inner(&mut self, out: &mut Output) {
        if self.state != State::Open {
            return;
        }
        // The inner Session may take back its queued output (dropping a slow member).
        self.taken_back |= self.relay.forget_taken_back(&self.inner_out);
        loop {
            let fresh = &self.inner_out.pending()[self.relay.handed()..];
            let end = match fresh.iter().rposition(|&b| b == b'\n') {
                Some(last) => last + 1,
                // An unfinished last line goes out as it is once the inner Session closes.
                None if self.inner_out.is_closing() && !fresh.is_empty() => fresh.len(),
                None => match self.inner_out.load(LOAD_CHUNK) {
                    Ok(0) => break,
                    Ok(_) => continue,
                    Err(e) => return self.fail(CloseCode::Error, &e.to_string(), out),
                },
            };
            let batch = &fresh[..end];
            let texts: Vec<String> = batch
                .split_inclusive(|&b| b == b'\n')
                .map(|line| {
                    let line = line.strip_suffix(b"\n").unwrap_or(line);
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    String::from_utf8_lossy(line).into_owned()
                })
                .collect();
            for text in texts {
                if let Err(e) = self.ctx.write(&mut self.pipe, Message::text(text)) {
                    return self.protocol_error(e, out);
                }
            }
            if let Err(e) = self.ctx.flush(&mut self.pipe) {
                return self.protocol_error(e, out);
            }
            self.flush_pipe(out);
            self.relay.handed_on(end);
        }
        if self.inner_out.is_closing() && self.relay.handed() as u64 == self.inner_out.queued() {
            if self.taken_back {
                return self.fail(CloseCode::Policy, "too slow", out);
            }
            let (code, reason) = if (self.going_away)() {
                (CloseCode::Away, "server shutting down")
            } else {
                (CloseCode::Normal, "bye")
            };
            let frame = CloseFrame {
                code,
                reason: reason.into(),
            };
            self.state = State::ClosingByUs;
            match self.ctx.close(&mut self.pipe, Some(frame)) {
                Ok(()) => self.flush_pipe(out),
                Err(e) => self.protocol_error(e, out),
            }
        }
    }

    /// Reads every complete message in the pipe and acts on it.
    fn read_messages(&mut self, out: &mut Output) {
        while self.state != State::Done {
            match self.ctx.read(&mut self.pipe) {
                Ok(Message::Text(text)) => {
                    if self.state == State::Open && !self.inner_out.is_closing() {
                        let mut line = String::with_capacity(text.len() + 1);
                        line.push_str(text.as_str());
                        line.push('\n');
                        self.inner.on_data(line.as_bytes(), &mut self.inner_out);
                        self.after_inner(out);
                    }
                }
                Ok(Message::Binary(_)) => {
                    return self.fail(CloseCode::Unsupported, "text messages only", out)
                }
                Ok(Message::Close(_)) => {
                    // tungstenite queued the answer (or this acknowledges ours).
                    if self.state == State::Open {
                        self.state = State::ClosedByPeer;
                    }
                    self.inner_hears_eof();
                }
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
                Err(e) => return self.protocol_error(e, out),
            }
            self.flush_pipe(out);
        }
    }

    fn inner_hears_eof(&mut self) {
        if !self.inner_eof {
            self.inner_eof = true;
            self.inner.on_eof(&mut self.inner_out);
        }
    }

    /// Maps a tungstenite error to the end it calls for.
    fn protocol_error(&mut self, error: WsError, out: &mut Output) {
        match error {
            WsError::Io(e) if e.kind() == ErrorKind::WouldBlock => self.flush_pipe(out),
            // The close handshake is complete.
            WsError::ConnectionClosed | WsError::AlreadyClosed => {
                self.flush_pipe(out);
                self.end(out);
            }
            WsError::Capacity(e) => self.fail(CloseCode::Size, &e.to_string(), out),
            WsError::Utf8(_) => self.fail(CloseCode::Invalid, "invalid UTF-8 in text", out),
            WsError::Protocol(e) => self.fail(CloseCode::Protocol, &e.to_string(), out),
            e => self.fail(CloseCode::Error, &e.to_string(), out),
        }
    }

    /// Fails the connection: a close frame with `code` (unless one was sent), then close.
    fn fail(&mut self, code: CloseCode, reason: &str, out: &mut Output) {
        tracing::debug!("websocket closed with {code}: {reason}");
        self.flush_pipe(out);
        if self.state == State::Open {
            // A close reason is at most 123 bytes; ours are short ASCII.
            let reason: String = reason.chars().take(100).collect();
            let mut frame = Vec::new();
            let close = Frame::close(Some(CloseFrame {
                code,
                reason: reason.into(),
            }));
            if close.format(&mut frame).is_ok() {
                out.write(&frame);
                self.relay.wrote(frame.len());
            }
        }
        self.end(out);
    }

    fn end(&mut self, out: &mut Output) {
        self.state = State::Done;
        out.close();
    }

    /// The keep-alive timer: pings a peer not heard from for an interval, closes one that
    /// left a ping unanswered for another, and sets the timer for the next check.
    fn keep_alive(&mut self, out: &mut Output) {
        let Some(live) = &mut self.liveness else {
            return;
        };
        let now = Instant::now();
        let quiet = now.duration_since(live.last_heard);
        if quiet < live.interval {
            // Heard from meanwhile: check again an interval after that.
            out.set_timer(live.interval - quiet);
            return;
        }
        match live.ping_sent {
            Some(sent) if now.duration_since(sent) >= live.interval => {
                tracing::debug!("websocket peer did not answer a ping: closing");
                self.end(out);
            }
            Some(sent) => out.set_timer(live.interval - now.duration_since(sent)),
            None => {
                live.ping_sent = Some(now);
                out.set_timer(live.interval);
                let ping = self
                    .ctx
                    .write(&mut self.pipe, Message::Ping(Vec::new().into()))
                    .and_then(|()| self.ctx.flush(&mut self.pipe));
                match ping {
                    Ok(()) => self.flush_pipe(out),
                    Err(e) => self.protocol_error(e, out),
                }
            }
        }
    }
}

impl<S: Session> Session for WsSession<S> {
    fn on_open(&mut self, out: &mut Output) {
        let waker = out.waker();
        self.open(waker, out);
    }

    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        if self.state == State::Done {
            return;
        }
        if let Some(live) = &mut self.liveness {
            live.last_heard = Instant::now();
            live.ping_sent = None;
        }
        self.relay.sync_sent(&mut self.inner_out, out);
        self.pipe.input.extend_from_slice(data);
        self.read_messages(out);
    }

    fn on_eof(&mut self, out: &mut Output) {
        // The peer left without (finishing) the close handshake: nothing more to say.
        self.inner_hears_eof();
        self.end(out);
    }

    fn on_wake(&mut self, out: &mut Output) {
        if self.state == State::Done {
            return;
        }
        self.relay.sync_sent(&mut self.inner_out, out);
        if self.inner_wake.as_ref().is_some_and(WakeSource::take) {
            self.inner.on_wake(&mut self.inner_out);
            self.after_inner(out);
        }
    }

    fn on_timer(&mut self, out: &mut Output) {
        if self.state != State::Done {
            self.keep_alive(out);
        }
    }

    fn on_drained(&mut self, out: &mut Output) {
        if self.state == State::Done {
            return;
        }
        self.relay.sync_sent(&mut self.inner_out, out);
        self.after_inner(out);
        if self.inner_out.queued() == 0 && !self.inner_out.is_closing() {
            self.inner.on_drained(&mut self.inner_out);
            self.after_inner(out);
        }
    }

    fn on_close(&mut self) {
        self.inner.on_close();
    }
}

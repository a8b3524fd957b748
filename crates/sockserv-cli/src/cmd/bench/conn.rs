//! One load connection (its socket and its place in the exchange) and what every load
//! shares: the counters and the [`Load`] trait the driver runs.
use std::io;
use std::time::Instant;

use hdrhistogram::Histogram;

use super::target::Stream;
use super::tls::TlsLayer;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Non-blocking connect in progress (the first one).
    Connecting,
    /// Connect in progress again, after the server closed at a response boundary.
    Reconnecting,
    /// Connected and exchanging traffic.
    Open,
    /// Failed or broken; deregistered and shut down.
    Closed,
}

/// Why a connection stopped.
#[derive(Debug)]
pub enum Broken {
    /// Reset, broken pipe, unexpected EOF or another I/O error.
    Reset,
    /// What came back was wrong: an echo that differs from what was sent (or more than
    /// was sent), or a bad HTTP response.
    Mismatch,
}

/// What the driver does with a connection after pumping it.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    /// Keep it; wait for the next readiness event.
    Continue,
    /// The server closes it after a complete response: open a new one in its place.
    Reconnect,
}

/// The socket, with TLS if asked for, read and written like a non-blocking socket.
pub struct Link {
    /// The socket.
    pub stream: Stream,
    /// `--tls`: the rustls client between the traffic and the socket.
    pub tls: Option<TlsLayer>,
    /// Set when a write would block, cleared by the next writable event.
    pub write_blocked: bool,
    /// Set when the last event said the peer closed or reset the connection.
    pub peer_closed: bool,
}

impl Link {
    /// A link over a socket whose connect was just started.
    pub fn new(stream: Stream, tls: Option<TlsLayer>) -> Self {
        Link {
            stream,
            tls,
            write_blocked: false,
            peer_closed: false,
        }
    }

    /// Plaintext bytes from the server.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.tls {
            Some(tls) => tls.read(&self.stream, buf),
            None => self.stream.read(buf),
        }
    }

    /// Plaintext bytes to the server.
    pub fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.tls {
            Some(tls) => tls.write(&self.stream, buf),
            None => self.stream.write(buf),
        }
    }

    /// Under TLS, records left over from a full socket go first, even with nothing new
    /// to send.
    pub fn flush_tls(&mut self) -> io::Result<()> {
        match &mut self.tls {
            Some(tls) => tls.flush(&self.stream),
            None => Ok(()),
        }
    }

    /// Whether a short read proves the socket drained. Linux raises a new edge for
    /// anything that arrives later, so the extra read that would say WouldBlock can be
    /// skipped; not under TLS, where a short read is one record and the socket may hold
    /// more, and not once the peer closed: its EOF or reset raises no further edge.
    pub fn short_read_drains(&self) -> bool {
        self.tls.is_none() && !self.peer_closed
    }
}

/// A connection: its link and its position `P` in the load's exchange.
pub struct Conn<P> {
    /// The socket.
    pub link: Link,
    /// Life-cycle state.
    pub phase: Phase,
    /// When the connect started, for the connect timeout.
    pub connect_started: Instant,
    /// Position in the exchange, reset on a reconnect.
    pub pos: P,
}

/// What the loads count; nothing is counted while `measuring` is false (warm-up).
pub struct Counters {
    /// False during warm-up.
    pub measuring: bool,
    /// Echoed messages, or complete HTTP responses.
    pub msgs: u64,
    /// Echoed bytes, or HTTP body bytes.
    pub bytes: u64,
    /// Round trips in microseconds.
    pub latency: Histogram<u64>,
    /// Why the first mismatch was one (HTTP: status, length or body), for the message.
    pub first_mismatch: Option<String>,
}

impl Counters {
    /// All at zero.
    pub fn new() -> Self {
        Counters {
            measuring: false,
            msgs: 0,
            bytes: 0,
            // 1 µs to 1 hour at 3 significant digits; out-of-range values saturate.
            latency: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds"),
            first_mismatch: None,
        }
    }

    /// Records one round trip that started at `sent`, if measuring.
    pub fn record_latency(&mut self, sent: Instant) {
        if self.measuring {
            let micros = sent.elapsed().as_micros().max(1);
            self.latency
                .saturating_record(u64::try_from(micros).unwrap_or(u64::MAX));
        }
    }
}

/// A kind of traffic the driver runs over every connection.
pub trait Load {
    /// One connection's position in the exchange.
    type Pos;

    /// Whether a connection that broke (reset, EOF mid-exchange) is replaced by a new
    /// one, as an HTTP client would retry, or stays closed.
    const RECONNECT_AFTER_RESET: bool;

    /// The position of connection `index` when it (re)connects.
    fn start(&self, index: usize) -> Self::Pos;

    /// Reads (if `readable`) and writes until the socket would block.
    ///
    /// # Errors
    ///
    /// How the connection broke; the caller closes it and counts the error.
    fn pump(
        &mut self,
        link: &mut Link,
        pos: &mut Self::Pos,
        readable: bool,
        counters: &mut Counters,
    ) -> Result<Flow, Broken>;
}

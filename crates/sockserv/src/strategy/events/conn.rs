//! One connection of an event loop: its socket, Session and pending output.

use std::io::{self, ErrorKind, Read};
use std::os::fd::AsRawFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

use crate::drive::{is_disconnect, send_queued, HIGH_WATER};
use crate::handler::close_nonblocking;
use crate::proxied::{HeaderBuffer, HEADER_TIMEOUT};
use crate::proxy::ProxyHeader;
use crate::{Output, PeerAddr, Session, Stream, WakeSource};

/// Most reads of one connection in one step. A peer that sends faster than its Session
/// consumes would otherwise keep the loop reading it forever (the socket always has a
/// full buffer waiting), starving every other connection of the loop; past the budget the
/// loop moves on and comes back to it (see `EventLoop::again`).
const READ_BUDGET: usize = 16;
/// Most `on_drained` rounds of one connection in one step, for the same reason: a Session
/// that refills its output each time it drains would keep the loop on it forever.
const DRAIN_BUDGET: usize = 16;

/// Whether the connection stays open after a step.
pub(super) enum Step {
    Open,
    Done,
}

pub(super) struct Connection {
    stream: Stream,
    peer: PeerAddr,
    session: Box<dyn Session>,
    out: Output,
    wake: Option<WakeSource>,
    /// The socket may have unread bytes (edge-triggered: remember until WouldBlock).
    read_ready: bool,
    /// The peer's FIN arrived (reported by an event); reads go on until EOF.
    peer_closed: bool,
    eof: bool,
    writing: bool,
    /// The output drained but the drain budget ran out before the Session was told.
    drain_due: bool,
    /// When bytes last came in, and when output last made progress (or started waiting).
    last_read: Instant,
    last_write: Instant,
    /// The loop's clock, read once per wake-up (a clock read per message costs more than
    /// the timeouts it serves need).
    now: Instant,
    opened: Instant,
    bytes_in: u64,
    bytes_out: u64,
    /// Behind a PROXY-protocol balancer: the header gathered so far. While `Some`, the
    /// Session is a placeholder and `notify` waits for the real one.
    header: Option<HeaderBuffer>,
    notify: Option<Box<dyn Fn() + Send + Sync>>,
}

/// Stands in for the Session until the PROXY header names the client.
struct Pending;

impl Session for Pending {
    fn on_data(&mut self, _data: &[u8], _out: &mut Output) {}
}

impl Connection {
    pub(super) fn register(
        stream: Stream,
        peer: PeerAddr,
        session: Box<dyn Session>,
        registry: &Registry,
        token: Token,
        now: Instant,
    ) -> io::Result<Connection> {
        Connection::register_with(stream, peer, Some(session), registry, token, now)
    }

    /// Registers a connection whose PROXY header must come first (no Session yet).
    pub(super) fn register_proxied(
        stream: Stream,
        peer: PeerAddr,
        registry: &Registry,
        token: Token,
        now: Instant,
    ) -> io::Result<Connection> {
        Connection::register_with(stream, peer, None, registry, token, now)
    }

    fn register_with(
        stream: Stream,
        peer: PeerAddr,
        session: Option<Box<dyn Session>>,
        registry: &Registry,
        token: Token,
        now: Instant,
    ) -> io::Result<Connection> {
        let header = session.is_none().then(HeaderBuffer::default);
        let session = session.unwrap_or_else(|| Box::new(Pending));
        stream.set_nonblocking(true)?;
        registry.register(
            &mut SourceFd(&stream.as_raw_fd()),
            token,
            Interest::READABLE,
        )?;
        Ok(Connection {
            stream,
            peer,
            session,
            out: Output::new(),
            wake: None,
            read_ready: true,
            peer_closed: false,
            eof: false,
            writing: false,
            drain_due: false,
            last_read: now,
            last_write: now,
            now,
            opened: now,
            bytes_in: 0,
            bytes_out: 0,
            header,
            notify: None,
        })
    }

    /// Opens the Session; `notify` is how its waker reaches this loop.
    pub(super) fn open(
        &mut self,
        notify: impl Fn() + Send + Sync + 'static,
        buf: &mut [u8],
    ) -> io::Result<Step> {
        self.session.on_open(&mut self.out);
        if let Some(source) = self.out.wake_source() {
            source.set_notify(notify);
            self.wake = Some(source);
        }
        self.pump(buf)
    }

    pub(super) fn peer(&self) -> &PeerAddr {
        &self.peer
    }

    /// Whether the PROXY header is still awaited.
    pub(super) fn awaiting_header(&self) -> bool {
        self.header.is_some()
    }

    /// Keeps the waker hook until the real Session exists.
    pub(super) fn set_notify(&mut self, notify: impl Fn() + Send + Sync + 'static) {
        self.notify = Some(Box::new(notify));
    }

    /// Reads what there is of the PROXY header; `Some((header, rest))` once complete.
    pub(super) fn read_header(
        &mut self,
        buf: &mut [u8],
    ) -> io::Result<Option<(ProxyHeader, Vec<u8>)>> {
        let Some(header) = &mut self.header else {
            return Ok(None);
        };
        let done = header.read_from(&self.stream, buf)?;
        if let Some((_, rest)) = &done {
            self.bytes_in += rest.len() as u64;
        }
        Ok(done)
    }

    /// The header named the client: start its Session, feeding it the bytes that came
    /// after the header.
    pub(super) fn start(
        &mut self,
        peer: PeerAddr,
        session: Box<dyn Session>,
        rest: &[u8],
        buf: &mut [u8],
    ) -> io::Result<Step> {
        self.peer = peer;
        self.session = session;
        self.header = None;
        self.session.on_open(&mut self.out);
        if let (Some(source), Some(notify)) = (self.out.wake_source(), self.notify.take()) {
            source.set_notify(notify);
            self.wake = Some(source);
        }
        if !rest.is_empty() && !self.out.is_closing() {
            self.session.on_data(rest, &mut self.out);
        }
        self.pump(buf)
    }

    /// A readiness event; `read_closed`: the peer's FIN (or an error) is already here.
    pub(super) fn on_ready(
        &mut self,
        readable: bool,
        read_closed: bool,
        buf: &mut [u8],
        now: Instant,
    ) -> io::Result<Step> {
        self.now = now;
        self.read_ready |= readable || read_closed;
        self.peer_closed |= read_closed;
        self.pump(buf)
    }

    pub(super) fn on_wake(&mut self, buf: &mut [u8], now: Instant) -> io::Result<Step> {
        self.now = now;
        if self.wake.as_ref().is_some_and(WakeSource::take) {
            self.session.on_wake(&mut self.out);
        }
        self.pump(buf)
    }

    /// Reads what is there (unless output is backed up), feeds the Session, writes.
    fn pump(&mut self, buf: &mut [u8]) -> io::Result<Step> {
        let mut reads = 0;
        while self.can_read() && reads < READ_BUDGET {
            reads += 1;
            match (&self.stream).read(buf) {
                Ok(0) => {
                    self.eof = true;
                    self.session.on_eof(&mut self.out);
                }
                Ok(n) => {
                    self.last_read = self.now;
                    self.bytes_in += n as u64;
                    // A short read drained the socket: with edge-triggered readiness a new
                    // event comes when more arrives, so skip the read that would say EAGAIN
                    // (unless the FIN already came: no event would announce the EOF).
                    self.read_ready = n == buf.len() || self.peer_closed;
                    self.session.on_data(&buf[..n], &mut self.out);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => self.read_ready = false,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if is_disconnect(&e) => return Ok(Step::Done),
                Err(e) => return Err(e),
            }
            // Writing after every read keeps latency low and output below the high-water
            // mark; once the peer drains it, reading resumes in this same loop.
            if self.flush()? {
                return Ok(Step::Done);
            }
        }
        if self.flush()? {
            return Ok(Step::Done);
        }
        if self.out.queued() == 0 && !self.drain_due && (self.out.is_closing() || self.eof) {
            return Ok(Step::Done);
        }
        Ok(Step::Open)
    }

    /// Whether this connection wants another step without a new event: the read budget
    /// or the drain budget ran out with work left.
    pub(super) fn has_more(&self) -> bool {
        self.can_read() || self.drain_due
    }

    /// Whether to read now: bytes may be waiting and output is not backed up. True after
    /// a step means the read budget ran out with bytes still waiting.
    pub(super) fn can_read(&self) -> bool {
        self.read_ready
            && !self.eof
            && !self.out.is_closing()
            && self.out.queued() < HIGH_WATER as u64
    }

    /// Writes queued output until the socket is full, telling the Session each time it
    /// has all gone out; true if the peer is gone.
    fn flush(&mut self) -> io::Result<bool> {
        if !self.writing {
            // Output was not waiting before this step: the write clock starts now.
            self.last_write = self.now;
        }
        let due = std::mem::take(&mut self.drain_due);
        let mut rounds = 0;
        loop {
            let mut sent = 0;
            let result = send_queued(&self.stream, &mut self.out, &mut sent);
            self.bytes_out += sent;
            if sent > 0 {
                self.last_write = self.now;
            }
            match result {
                Err(e) if is_disconnect(&e) => return Ok(true),
                other => other?,
            }
            if self.out.queued() > 0 || self.out.is_closing() {
                return Ok(false);
            }
            // Drained now only if this round sent the last bytes (or a drain is owed).
            if sent == 0 && !(rounds == 0 && due) {
                return Ok(false);
            }
            if rounds == DRAIN_BUDGET {
                self.drain_due = true;
                return Ok(false);
            }
            rounds += 1;
            self.session.on_drained(&mut self.out);
        }
    }

    /// Which timeout this connection has run past at `now`, if any.
    pub(super) fn expired(
        &self,
        now: Instant,
        settings: &crate::handler::ConnSettings,
    ) -> Option<io::Error> {
        let past = |since: Instant, limit: Option<Duration>| {
            limit.filter(|&l| now.saturating_duration_since(since) > l)
        };
        if self.header.is_some() && now.saturating_duration_since(self.opened) > HEADER_TIMEOUT {
            return Some(io::Error::new(
                ErrorKind::TimedOut,
                "no PROXY header in time",
            ));
        }
        let waiting = self.out.queued() > 0;
        let last_activity = if waiting {
            self.last_read
        } else {
            self.last_read.max(self.last_write)
        };
        let (what, limit) = if let Some(l) = past(last_activity, settings.idle_timeout) {
            ("idle", l)
        } else if let Some(l) = past(self.last_read, settings.read_timeout) {
            ("read", l)
        } else if let Some(l) = past(self.last_write, settings.write_timeout.filter(|_| waiting)) {
            ("write", l)
        } else {
            return None;
        };
        Some(io::Error::new(
            ErrorKind::TimedOut,
            format!("{what} timeout ({limit:?}) expired"),
        ))
    }

    /// Asks for writability only while output is pending.
    pub(super) fn update_interest(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        let want = self.out.queued() > 0;
        if want != self.writing {
            self.writing = want;
            let interest = if want {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            registry.reregister(&mut SourceFd(&self.stream.as_raw_fd()), token, interest)?;
        }
        Ok(())
    }

    /// Drops a connection refused before its Session started (no valid PROXY header, or
    /// the verify hook said no): no Session to tell, nothing to count as served.
    pub(super) fn refuse(self, registry: &Registry) {
        let _ = registry.deregister(&mut SourceFd(&self.stream.as_raw_fd()));
        crate::proxied::refuse(&self.stream);
    }

    /// Half-closes (the peer reads every byte sent, then EOF) and closes; tells the Session.
    /// Returns who it was, when it opened and its traffic `(in, out)`, for the counters.
    pub(super) fn close(self) -> (PeerAddr, Instant, (u64, u64)) {
        let Connection {
            stream,
            mut session,
            peer,
            opened,
            bytes_in,
            bytes_out,
            eof,
            ..
        } = self;
        // Closing the only descriptor of the socket also takes it out of the epoll set.
        // After the peer's EOF there is nothing unread left to discard.
        if eof {
            drop(stream);
        } else {
            close_nonblocking(stream);
        }
        // A panic in on_close must not take the loop down; the connection is gone anyway.
        let _ = catch_unwind(AssertUnwindSafe(|| session.on_close()));
        (peer, opened, (bytes_in, bytes_out))
    }
}

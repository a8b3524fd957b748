//! One connection of an event loop: its socket, its registration and the PROXY header
//! still to come; the Session itself runs in a [`Pump`].

use std::io;
use std::os::fd::AsRawFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

use crate::endpoint::PeerAddr;
use crate::output::Output;
use crate::proxied::{HeaderBuffer, HEADER_TIMEOUT};
use crate::proxy::ProxyHeader;
use crate::pump::{close_nonblocking, ConnSettings, Pump, Step};
use crate::session::Session;
use crate::transport::Stream;

pub(super) struct Connection {
    stream: Stream,
    peer: PeerAddr,
    pump: Pump<Box<dyn Session>>,
    /// Write interest is registered (output was pending after the last step).
    writing: bool,
    opened: Instant,
    /// Behind a PROXY-protocol balancer: the header gathered so far. While `Some`, the
    /// Session is a placeholder and `notify` waits for the real one.
    header: Option<HeaderBuffer>,
    notify: Option<Box<dyn Fn() + Send + Sync>>,
    /// The Session's timer as the loop last scheduled it.
    scheduled: Option<Instant>,
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
        high_water: u64,
    ) -> io::Result<Connection> {
        Connection::register_with(
            stream,
            peer,
            Some(session),
            registry,
            (token, now, high_water),
        )
    }

    /// Registers a connection whose PROXY header must come first (no Session yet).
    pub(super) fn register_proxied(
        stream: Stream,
        peer: PeerAddr,
        registry: &Registry,
        token: Token,
        now: Instant,
        high_water: u64,
    ) -> io::Result<Connection> {
        Connection::register_with(stream, peer, None, registry, (token, now, high_water))
    }

    fn register_with(
        stream: Stream,
        peer: PeerAddr,
        session: Option<Box<dyn Session>>,
        registry: &Registry,
        (token, now, high_water): (Token, Instant, u64),
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
            pump: Pump::new(session, now, high_water),
            writing: false,
            opened: now,
            header,
            notify: None,
            scheduled: None,
        })
    }

    /// Opens the Session; `notify` is how its waker reaches this loop.
    pub(super) fn open(
        &mut self,
        notify: impl Fn() + Send + Sync + 'static,
        buf: &mut [u8],
    ) -> io::Result<Step> {
        if let Some(source) = self.pump.open() {
            source.set_notify(notify);
        }
        self.pump.step(&self.stream, buf)
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
        header.read_from(&self.stream, buf)
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
        self.header = None;
        self.pump.replace_session(session);
        if let (Some(source), Some(notify)) = (self.pump.open(), self.notify.take()) {
            source.set_notify(notify);
        }
        self.pump.feed(rest);
        self.pump.step(&self.stream, buf)
    }

    /// A readiness event; `read_closed`: the peer's FIN (or an error) is already here.
    pub(super) fn on_ready(
        &mut self,
        readable: bool,
        read_closed: bool,
        buf: &mut [u8],
        now: Instant,
    ) -> io::Result<Step> {
        self.pump.tick(now);
        self.pump.ready(readable, read_closed);
        self.pump.step(&self.stream, buf)
    }

    pub(super) fn on_wake(&mut self, buf: &mut [u8], now: Instant) -> io::Result<Step> {
        self.pump.tick(now);
        self.pump.wake();
        self.pump.step(&self.stream, buf)
    }

    /// The Session's timer went off (by `now`): a step calls `on_timer`.
    pub(super) fn on_timer(&mut self, buf: &mut [u8], now: Instant) -> io::Result<Step> {
        self.scheduled = None;
        self.pump.tick(now);
        self.pump.step(&self.stream, buf)
    }

    /// The server began to drain: the Session hears `on_shutdown` (one still waiting for
    /// its PROXY header hears it once started).
    pub(super) fn on_shutdown(&mut self, buf: &mut [u8], now: Instant) -> io::Result<Step> {
        if self.header.is_some() {
            return Ok(Step::Open);
        }
        self.pump.tick(now);
        self.pump.shutdown();
        self.pump.step(&self.stream, buf)
    }

    /// The Session's timer, if it changed since the loop last scheduled it: the loop
    /// schedules it now.
    pub(super) fn reschedule(&mut self) -> Option<Instant> {
        let timer = self.pump.timer();
        if timer == self.scheduled {
            return None;
        }
        self.scheduled = timer;
        timer
    }

    /// The Session's timer as the loop last scheduled it.
    pub(super) fn scheduled(&self) -> Option<Instant> {
        self.scheduled
    }

    /// Whether the Session's timer is due at `at` (a scheduled entry still stands).
    pub(super) fn timer_is(&self, at: Instant) -> bool {
        self.pump.timer() == Some(at)
    }

    /// Whether this connection wants another step without a new event (see
    /// [`Pump::has_more`]).
    pub(super) fn has_more(&self) -> bool {
        self.pump.has_more()
    }

    /// Which timeout this connection has run past at `now`, if any.
    pub(super) fn expired(&self, now: Instant, settings: &ConnSettings) -> Option<io::Error> {
        if self.header.is_some() && now.saturating_duration_since(self.opened) > HEADER_TIMEOUT {
            return Some(io::Error::new(
                io::ErrorKind::TimedOut,
                "no PROXY header in time",
            ));
        }
        self.pump.expired(now, settings)
    }

    /// Asks for writability only while output is pending.
    pub(super) fn update_interest(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        let want = self.pump.wants_write();
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
            mut pump,
            peer,
            opened,
            ..
        } = self;
        // Closing the only descriptor of the socket also takes it out of the epoll set.
        // After the peer's EOF there is nothing unread left to discard.
        if pump.saw_eof() {
            drop(stream);
        } else {
            close_nonblocking(stream);
        }
        // A panic in on_close must not take the loop down; the connection is gone anyway.
        let _ = catch_unwind(AssertUnwindSafe(|| pump.close()));
        (peer, opened, pump.traffic())
    }
}

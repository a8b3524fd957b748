//! [`Pump`]: one connection's Session state machine, the same for every driver — the
//! event loops and both blocking drivers ([`blocking`]).
//!
//! The pump owns the Session and its [`Output`] and decides everything between the
//! socket and the Session: when to read (a read budget per step, no reading while output
//! is backed up past the high-water mark, none after EOF or once closing), when to write
//! and tell the Session its output drained (a drain budget per step), when its timer goes
//! off and when it hears the server drain, when the connection is finished, and when it
//! has run past a timeout. Its I/O is one `read` on a [`Stream`]
//! and [`send_queued`]; readiness, wake-ups and the clock come from the driver, so a
//! driver is only a way of waiting: an event loop's poller, a per-connection poller, or a
//! blocking socket.

use std::io::{self, ErrorKind, Read};
use std::time::{Duration, Instant};

use crate::driver::OutputExt;
use crate::output::Output;
use crate::session::{Session, WakeSource};
use crate::transport::Stream;

pub(crate) mod blocking;
mod close;
mod send;
mod timeouts;

pub(crate) use close::{close_nonblocking, close_stream};
pub(crate) use send::{is_disconnect, send_queued, LOAD_CHUNK};
pub(crate) use timeouts::{name_timeout, ConnSettings};

/// Most reads of one connection in one step. A peer that sends faster than its Session
/// consumes would otherwise keep its driver reading forever (the socket always has a full
/// buffer waiting): starving every other connection of an event loop, or the replies and
/// wake-ups of its own; past the budget the driver comes back to it (see
/// [`Pump::has_more`]).
const READ_BUDGET: usize = 16;
/// Most `on_drained` rounds of one connection in one step, for the same reason: a Session
/// that refills its output each time it drains would keep the driver on it forever.
const DRAIN_BUDGET: usize = 16;

/// Whether the connection stays open after a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Open,
    Done,
}

/// What one [`Pump::read`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Input {
    /// Bytes, handed to the Session.
    Data,
    /// The peer's EOF, told to the Session.
    Eof,
    /// Nothing to read now (`WouldBlock`: on a blocking socket, its read timeout).
    Dry,
    /// The peer reset the connection: it is over.
    Gone,
}

/// One connection's Session, its output and what the driver has seen of its socket.
pub(crate) struct Pump<S> {
    session: S,
    out: Output,
    wake: Option<WakeSource>,
    /// The socket may have unread bytes (edge-triggered: remember until WouldBlock).
    read_ready: bool,
    /// The peer's FIN arrived (reported by an event); reads go on until EOF.
    peer_closed: bool,
    eof: bool,
    /// Output was waiting when the last step ended: the write clock is running.
    waiting: bool,
    /// The output drained but the drain budget ran out before the Session was told.
    drain_due: bool,
    /// When bytes last came in, and when output last made progress (or started waiting).
    last_read: Instant,
    last_write: Instant,
    /// The driver's clock, read once per wake-up (a clock read per message costs more
    /// than the timeouts it serves need).
    now: Instant,
    bytes_in: u64,
    bytes_out: u64,
    /// When the Session's timer goes off ([`Output::set_timer`]).
    timer: Option<Instant>,
    /// The Session heard `on_shutdown`.
    told_shutdown: bool,
}

impl<S: Session> Pump<S> {
    /// A pump for `session`, whose connection opened at `now` and stops reading while
    /// `high_water` bytes of output wait; nothing is called yet.
    pub(crate) fn new(session: S, now: Instant, high_water: u64) -> Pump<S> {
        let mut out = Output::new();
        out.set_high_water(high_water);
        Pump {
            session,
            out,
            wake: None,
            read_ready: true,
            peer_closed: false,
            eof: false,
            waiting: false,
            drain_due: false,
            last_read: now,
            last_write: now,
            now,
            bytes_in: 0,
            bytes_out: 0,
            timer: None,
            told_shutdown: false,
        }
    }

    /// Puts `session` in place of the current one, which has not been opened (behind a
    /// PROXY-protocol balancer, the real Session replaces a placeholder).
    pub(crate) fn replace_session(&mut self, session: S) {
        self.session = session;
    }

    /// Opens the Session. Returns its wake source if it asked for a waker: the driver
    /// installs how it is notified.
    pub(crate) fn open(&mut self) -> Option<&WakeSource> {
        self.session.on_open(&mut self.out);
        self.wake = self.out.wake_source();
        self.wake.as_ref()
    }

    /// Hands the Session bytes that arrived before it started (after a PROXY header).
    pub(crate) fn feed(&mut self, data: &[u8]) {
        self.bytes_in += data.len() as u64;
        if !data.is_empty() && !self.out.is_closing() {
            self.session.on_data(data, &mut self.out);
        }
    }

    /// Sets the clock: the driver read it when it woke up.
    pub(crate) fn tick(&mut self, now: Instant) {
        self.now = now;
    }

    /// A readiness event; `read_closed`: the peer's FIN (or an error) is already here.
    pub(crate) fn ready(&mut self, readable: bool, read_closed: bool) {
        self.read_ready |= readable || read_closed;
        self.peer_closed |= read_closed;
    }

    /// Tells the Session about a pending wake-up, if there is one.
    pub(crate) fn wake(&mut self) {
        if self.wake.as_ref().is_some_and(WakeSource::take) {
            self.session.on_wake(&mut self.out);
        }
    }

    /// One step: reads what is there (up to the read budget, unless output is backed
    /// up), feeds the Session, writes after every read and once more at the end.
    ///
    /// # Errors
    ///
    /// A socket error other than the peer leaving; reading a queued file failed.
    pub(crate) fn step(&mut self, stream: &Stream, buf: &mut [u8]) -> io::Result<Step> {
        self.fire_timer();
        let step = self.step_io(stream, buf);
        self.take_timer();
        step
    }

    fn step_io(&mut self, stream: &Stream, buf: &mut [u8]) -> io::Result<Step> {
        let mut reads = 0;
        while self.can_read() && reads < READ_BUDGET {
            reads += 1;
            if self.read(stream, buf)? == Input::Gone {
                return Ok(Step::Done);
            }
            // Writing after every read keeps latency low and output below the high-water
            // mark; once the peer drains it, reading resumes in this same loop.
            if self.flush(stream)? == Step::Done {
                return Ok(Step::Done);
            }
        }
        if self.flush(stream)? == Step::Done {
            return Ok(Step::Done);
        }
        if self.out.queued() == 0 && !self.drain_due && (self.out.is_closing() || self.eof) {
            return Ok(Step::Done);
        }
        self.waiting = self.out.queued() > 0;
        Ok(Step::Open)
    }

    /// Takes the Session's timer change, if it made one, as a deadline from now.
    fn take_timer(&mut self) {
        if let Some(change) = self.out.take_timer() {
            self.timer = change.map(|after| self.now + after);
        }
    }

    /// Calls `on_timer` if the Session's timer has gone off (by the clock of the last
    /// [`tick`](Pump::tick)); it fires once.
    fn fire_timer(&mut self) {
        self.take_timer();
        if self.timer.is_some_and(|at| at <= self.now) {
            self.timer = None;
            if !self.out.is_closing() {
                self.session.on_timer(&mut self.out);
                self.take_timer();
            }
        }
    }

    /// When the Session's timer goes off, if it set one.
    pub(crate) fn timer(&self) -> Option<Instant> {
        self.timer
    }

    /// The server began to drain: tells the Session (once, unless it is closing already).
    /// A step follows, which ends the connection if the Session closed with nothing left
    /// to send.
    pub(crate) fn shutdown(&mut self) {
        if !std::mem::replace(&mut self.told_shutdown, true) && !self.out.is_closing() {
            self.session.on_shutdown(&mut self.out);
        }
    }

    /// Reads once from `stream` (retrying `EINTR`) and tells the Session what came: no
    /// more than fits below the high-water mark, so an echo never queues past it.
    ///
    /// # Errors
    ///
    /// A read error other than `WouldBlock` or the peer leaving.
    pub(crate) fn read(&mut self, stream: &Stream, buf: &mut [u8]) -> io::Result<Input> {
        let room = self.out.high_water().saturating_sub(self.out.queued());
        let len = usize::try_from(room)
            .unwrap_or(usize::MAX)
            .clamp(1, buf.len());
        let buf = &mut buf[..len];
        loop {
            match (&*stream).read(buf) {
                Ok(0) => {
                    self.eof = true;
                    self.session.on_eof(&mut self.out);
                    return Ok(Input::Eof);
                }
                Ok(n) => {
                    self.last_read = self.now;
                    self.bytes_in += n as u64;
                    // A short read drained the socket: with edge-triggered readiness a new
                    // event comes when more arrives, so skip the read that would say EAGAIN
                    // (unless the FIN already came: no event would announce the EOF).
                    self.read_ready = n == buf.len() || self.peer_closed;
                    self.session.on_data(&buf[..n], &mut self.out);
                    return Ok(Input::Data);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.read_ready = false;
                    return Ok(Input::Dry);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if is_disconnect(&e) => return Ok(Input::Gone),
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes queued output until all is sent or the socket would block, telling the
    /// Session each time it has all gone out (up to the drain budget); `Done` if the peer
    /// is gone.
    ///
    /// # Errors
    ///
    /// A write error other than the peer leaving; reading a queued file failed.
    pub(crate) fn flush(&mut self, stream: &Stream) -> io::Result<Step> {
        if !self.waiting {
            // Output was not waiting before this step: the write clock starts now.
            self.last_write = self.now;
        }
        let due = std::mem::take(&mut self.drain_due);
        let mut rounds = 0;
        loop {
            let mut sent = 0;
            // Nothing queued (the echo's output went out in the round before, and
            // `on_drained` added none): no call, as the step's closing flush finds too.
            let result = if self.out.queued() == 0 {
                Ok(())
            } else {
                send_queued(stream, &mut self.out, &mut sent)
            };
            self.bytes_out += sent;
            if sent > 0 {
                self.last_write = self.now;
            }
            match result {
                Err(e) if is_disconnect(&e) => return Ok(Step::Done),
                other => other?,
            }
            if self.out.queued() > 0 || self.out.is_closing() {
                return Ok(Step::Open);
            }
            // Drained now only if this round sent the last bytes (or a drain is owed).
            if sent == 0 && !(rounds == 0 && due) {
                return Ok(Step::Open);
            }
            if rounds == DRAIN_BUDGET {
                self.drain_due = true;
                return Ok(Step::Open);
            }
            rounds += 1;
            self.session.on_drained(&mut self.out);
        }
    }

    /// Whether the pump wants another step without a new event: the read budget or the
    /// drain budget ran out with work left.
    pub(crate) fn has_more(&self) -> bool {
        self.can_read() || self.drain_due
    }

    /// Whether the drain budget ran out before the Session was told its output drained.
    pub(crate) fn drain_due(&self) -> bool {
        self.drain_due
    }

    /// Whether the Session asked to close.
    pub(crate) fn is_closing(&self) -> bool {
        self.out.is_closing()
    }

    /// The Session's wake source, if it asked for a waker when it opened.
    pub(crate) fn wake_source(&self) -> Option<&WakeSource> {
        self.wake.as_ref()
    }

    /// Whether to read now: bytes may be waiting and output is not backed up. True after
    /// a step means the read budget ran out with bytes still waiting.
    pub(crate) fn can_read(&self) -> bool {
        self.read_ready && !self.eof && !self.out.is_closing() && !self.out.is_backed_up()
    }

    /// Whether output waits for the socket to take it (the driver asks for writability).
    pub(crate) fn wants_write(&self) -> bool {
        self.out.queued() > 0
    }

    /// Bytes queued and not yet sent.
    pub(crate) fn queued(&self) -> u64 {
        self.out.queued()
    }

    /// Whether the peer's EOF was read (nothing unread is left to discard on close).
    pub(crate) fn saw_eof(&self) -> bool {
        self.eof
    }

    /// Bytes received and sent: `(in, out)`.
    pub(crate) fn traffic(&self) -> (u64, u64) {
        (self.bytes_in, self.bytes_out)
    }

    /// Tells the Session its connection is gone.
    pub(crate) fn close(&mut self) {
        self.session.on_close();
    }

    /// The timeouts, in the order they are reported, each with the instant it counts
    /// from: idle (no traffic either way; while output waits for the peer, only input
    /// counts), read (no input), write (output waiting without progress).
    fn timeouts(&self, settings: &ConnSettings) -> [(&'static str, Instant, Option<Duration>); 3] {
        let waiting = self.out.queued() > 0;
        let last_activity = if waiting {
            self.last_read
        } else {
            self.last_read.max(self.last_write)
        };
        [
            ("idle", last_activity, settings.idle_timeout),
            ("read", self.last_read, settings.read_timeout),
            (
                "write",
                self.last_write,
                settings.write_timeout.filter(|_| waiting),
            ),
        ]
    }

    /// Which timeout this connection has run past at `now`, if any, as the error that
    /// ends it.
    pub(crate) fn expired(&self, now: Instant, settings: &ConnSettings) -> Option<io::Error> {
        let (what, limit) =
            self.timeouts(settings)
                .into_iter()
                .find_map(|(what, since, limit)| {
                    limit
                        .filter(|&l| now.saturating_duration_since(since) > l)
                        .map(|l| (what, l))
                })?;
        Some(io::Error::new(
            ErrorKind::TimedOut,
            format!("{what} timeout ({limit:?}) expired"),
        ))
    }

    /// The instant the driver must wake this connection by: the first timeout that
    /// [`expired`](Pump::expired) would report, or the Session's timer.
    pub(crate) fn deadline(&self, settings: &ConnSettings) -> Option<Instant> {
        self.timeouts(settings)
            .into_iter()
            .filter_map(|(_, since, limit)| since.checked_add(limit?))
            .chain(self.timer)
            .min()
    }
}

#[cfg(test)]
mod tests;

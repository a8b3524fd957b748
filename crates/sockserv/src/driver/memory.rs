//! [`InMemory`]: one Session driven without a socket, for tests and tools.

use std::fmt;
use std::io;
use std::time::Duration;

use super::{OutputExt, WakeSource};
use crate::output::Output;
use crate::pump::LOAD_CHUNK;
use crate::session::Session;

/// Runs one [`Session`] in memory the way sockserv's drivers run it over a socket, with
/// no socket, thread or clock: the test plays the peer and decides when things happen.
///
/// * [`open`](InMemory::open) calls `on_open` and takes the Session's waker, if it asks
///   for one;
/// * [`feed`](InMemory::feed) hands it bytes from the peer, [`eof`](InMemory::eof) the
///   peer's EOF, [`wake`](InMemory::wake) a pending wake-up — each only while a driver
///   would (not once the Session is closing, nor after EOF);
/// * [`transmit`](InMemory::transmit) is the peer reading: it takes everything queued
///   (file ranges read into bytes), tells the Session `on_drained` when its output has
///   all gone out, and ends the connection (`on_close`) once the Session closed or the
///   peer sent EOF and nothing is left to send. Not calling it is a peer that does not
///   read: output piles up, as on a real connection;
/// * [`advance`](InMemory::advance) moves the connection's clock (it starts at zero and
///   moves only here) and fires the Session's timer if it is due
///   ([`Output::set_timer`]); [`timer`](InMemory::timer) says when it would go off;
/// * [`shutdown`](InMemory::shutdown) tells the Session the server began to drain;
/// * [`close`](InMemory::close) ends the connection at once (a reset), and dropping an
///   open one does too: `on_close` is called exactly once, last.
///
/// # Examples
///
/// ```
/// use sockserv::driver::InMemory;
/// use sockserv::{Output, Session};
///
/// /// Answers each chunk with its length, and closes after `bye`.
/// struct Counter;
///
/// impl Session for Counter {
///     fn on_data(&mut self, data: &[u8], out: &mut Output) {
///         out.write(format!("{}\n", data.len()).as_bytes());
///         if data == b"bye" {
///             out.close();
///         }
///     }
/// }
///
/// let mut conn = InMemory::open(Counter);
/// assert!(conn.feed(b"hello"));
/// assert!(conn.feed(b"bye"));
/// assert_eq!(conn.transmit()?, b"5\n3\n");
/// assert!(conn.is_closed());
/// assert!(!conn.feed(b"late")); // a closed connection reads nothing more
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct InMemory<S: Session> {
    session: S,
    out: Output,
    wake: Option<WakeSource>,
    eof: bool,
    closed: bool,
    /// The connection's clock: time since it opened, moved by `advance`.
    now: Duration,
    /// When the Session's timer goes off, on that clock.
    timer: Option<Duration>,
    told_shutdown: bool,
}

impl<S: Session> InMemory<S> {
    /// Opens `session` as a driver does when its connection arrives: `on_open`, and the
    /// Session's waker, if it asked for one, is taken for [`wake`](InMemory::wake).
    pub fn open(mut session: S) -> InMemory<S> {
        let mut out = Output::new();
        session.on_open(&mut out);
        let wake = out.wake_source();
        let mut conn = InMemory {
            session,
            out,
            wake,
            eof: false,
            closed: false,
            now: Duration::ZERO,
            timer: None,
            told_shutdown: false,
        };
        conn.take_timer();
        conn
    }

    /// Takes the Session's timer change after a callback, as a deadline on this clock.
    fn take_timer(&mut self) {
        if let Some(change) = self.out.take_timer() {
            self.timer = change.map(|after| self.now + after);
        }
    }

    /// Moves the connection's clock on by `by`; if the Session's timer is due then (and
    /// the connection is open and the Session not closing), it fires: `on_timer`, once.
    /// Returns whether it fired.
    pub fn advance(&mut self, by: Duration) -> bool {
        self.now += by;
        if self.closed || !self.timer.is_some_and(|at| at <= self.now) {
            return false;
        }
        self.timer = None;
        if self.out.is_closing() {
            return false;
        }
        self.session.on_timer(&mut self.out);
        self.take_timer();
        true
    }

    /// How long until the Session's timer goes off, if one is set (zero if it is due).
    pub fn timer(&self) -> Option<Duration> {
        self.timer.map(|at| at.saturating_sub(self.now))
    }

    /// The server began to drain: `on_shutdown`, once, if the connection is open and the
    /// Session not closing. Returns whether the Session heard it. A Session that closes
    /// here with nothing queued ends at the next [`transmit`](InMemory::transmit).
    pub fn shutdown(&mut self) -> bool {
        if self.closed || self.out.is_closing() || std::mem::replace(&mut self.told_shutdown, true)
        {
            return false;
        }
        self.session.on_shutdown(&mut self.out);
        self.take_timer();
        true
    }

    /// Bytes from the peer: `on_data`, if a driver would still read (the connection is
    /// open, the Session is not closing, no EOF came) and `data` is not empty. Returns
    /// whether the Session got them. Unlike a socket driver, it goes on reading while
    /// output is backed up: the test decides how far the peer runs ahead.
    pub fn feed(&mut self, data: &[u8]) -> bool {
        if self.closed || self.eof || self.out.is_closing() || data.is_empty() {
            return false;
        }
        self.session.on_data(data, &mut self.out);
        self.take_timer();
        true
    }

    /// The peer's EOF: `on_eof`, if a driver would still read. Returns whether the
    /// Session heard it.
    pub fn eof(&mut self) -> bool {
        if self.closed || self.eof || self.out.is_closing() {
            return false;
        }
        self.eof = true;
        self.session.on_eof(&mut self.out);
        self.take_timer();
        true
    }

    /// Delivers a pending wake-up: `on_wake`, if the Session's waker was woken since the
    /// last delivery and the connection is open. Returns whether it was delivered.
    pub fn wake(&mut self) -> bool {
        if self.closed || !self.wake.as_ref().is_some_and(WakeSource::take) {
            return false;
        }
        self.session.on_wake(&mut self.out);
        self.take_timer();
        true
    }

    /// The peer reads: takes everything queued, in order, file ranges read into bytes.
    /// If that drained the output, the Session hears `on_drained`; what it queues then
    /// waits for the next call (call until it returns nothing to take all). Once the
    /// Session closed, or the peer sent EOF, and nothing is left, the connection ends:
    /// `on_close`. Returns the bytes the peer received.
    ///
    /// # Errors
    ///
    /// Reading a file the Session queued failed (or the file is shorter than the range).
    pub fn transmit(&mut self) -> io::Result<Vec<u8>> {
        let mut sent = Vec::new();
        if self.closed {
            return Ok(sent);
        }
        loop {
            sent.extend_from_slice(&self.out.take());
            if self.out.load(LOAD_CHUNK)? == 0 && self.out.pending().is_empty() {
                break;
            }
        }
        if !sent.is_empty() && !self.out.is_closing() {
            self.session.on_drained(&mut self.out);
            self.take_timer();
        }
        if self.out.queued() == 0 && (self.out.is_closing() || self.eof) {
            self.close();
        }
        Ok(sent)
    }

    /// Ends the connection now, unsent output and all (a reset, or the driver giving up):
    /// `on_close`, unless it was already called.
    pub fn close(&mut self) {
        if !std::mem::replace(&mut self.closed, true) {
            self.session.on_close();
        }
    }

    /// Whether the Session asked to close ([`Output::close`]); the connection ends once
    /// its output has gone out.
    pub fn is_closing(&self) -> bool {
        self.out.is_closing()
    }

    /// Whether the connection has ended (`on_close` was called).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The Session's output, as the driver holds it: what is still unsent
    /// ([`Output::queued`], [`OutputExt::pending`]), its waker
    /// ([`OutputExt::wake_source`]).
    pub fn output(&self) -> &Output {
        &self.out
    }

    /// The Session, to look at its state.
    pub fn session(&self) -> &S {
        &self.session
    }

    /// The Session, to change its state between events.
    pub fn session_mut(&mut self) -> &mut S {
        &mut self.session
    }
}

impl<S: Session> Drop for InMemory<S> {
    /// An open connection ends when its driver goes: `on_close` (not while a panic
    /// unwinds, where a second panic would abort the test).
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.close();
        }
    }
}

impl<S: Session> fmt::Debug for InMemory<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemory")
            .field("queued", &self.out.queued())
            .field("closing", &self.out.is_closing())
            .field("eof", &self.eof)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    /// Echoes; counts `on_drained` and `on_close`; writes `more` once on its first drain.
    #[derive(Default)]
    struct Probe {
        drained: usize,
        closed: Arc<AtomicUsize>,
    }

    impl Session for Probe {
        fn on_data(&mut self, data: &[u8], out: &mut Output) {
            out.write(data);
        }

        fn on_wake(&mut self, out: &mut Output) {
            out.write(b"woken");
        }

        fn on_drained(&mut self, out: &mut Output) {
            self.drained += 1;
            if self.drained == 1 {
                out.write(b"more");
            }
        }

        fn on_close(&mut self) {
            self.closed.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn on_drained_follows_a_drained_transmit_and_its_output_waits_for_the_next() {
        let mut conn = InMemory::open(Probe::default());
        assert_eq!(conn.transmit().unwrap(), b"", "nothing queued: no drain");
        assert_eq!(conn.session().drained, 0);
        conn.feed(b"ab");
        assert_eq!(conn.output().queued(), 2, "a peer that does not read");
        assert_eq!(conn.transmit().unwrap(), b"ab");
        assert_eq!(conn.session().drained, 1);
        assert_eq!(conn.transmit().unwrap(), b"more");
        assert_eq!(conn.session().drained, 2);
        assert_eq!(conn.transmit().unwrap(), b"");
    }

    #[test]
    fn eof_ends_the_connection_once_output_is_sent_and_on_close_comes_once() {
        let closed = Arc::new(AtomicUsize::new(0));
        let mut conn = InMemory::open(Probe {
            closed: Arc::clone(&closed),
            ..Probe::default()
        });
        conn.feed(b"last");
        assert!(conn.eof());
        assert!(conn.is_closing(), "the default on_eof closes");
        assert!(!conn.feed(b"late"), "nothing is read after EOF");
        assert_eq!(conn.transmit().unwrap(), b"last");
        assert!(conn.is_closed());
        assert_eq!(closed.load(Ordering::SeqCst), 1);
        conn.close();
        drop(conn);
        assert_eq!(closed.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn dropping_an_open_connection_closes_it() {
        let closed = Arc::new(AtomicUsize::new(0));
        let conn = InMemory::open(Probe {
            closed: Arc::clone(&closed),
            ..Probe::default()
        });
        drop(conn);
        assert_eq!(closed.load(Ordering::SeqCst), 1);
    }

    /// Takes a waker on open.
    struct Waking;

    impl Session for Waking {
        fn on_open(&mut self, out: &mut Output) {
            out.waker().wake();
        }

        fn on_data(&mut self, _data: &[u8], _out: &mut Output) {}

        fn on_wake(&mut self, out: &mut Output) {
            out.write(b"woken");
        }
    }

    #[test]
    fn a_wake_up_is_delivered_once_and_not_after_close() {
        let mut conn = InMemory::open(Waking);
        assert!(conn.wake());
        assert!(!conn.wake(), "one wake-up, one delivery");
        assert_eq!(conn.transmit().unwrap(), b"woken");
        let mut probe = InMemory::open(Probe::default());
        assert!(!probe.wake(), "no waker asked for");
        let mut conn = InMemory::open(Waking);
        conn.close();
        assert!(!conn.wake());
    }

    /// Ticks on its timer until told to stop; says goodbye on a drain.
    struct Clocked {
        ticks: usize,
    }

    impl Session for Clocked {
        fn on_open(&mut self, out: &mut Output) {
            out.set_timer(Duration::from_secs(1));
        }

        fn on_data(&mut self, data: &[u8], out: &mut Output) {
            match data {
                b"stop" => out.clear_timer(),
                b"soon" => out.set_timer(Duration::from_millis(10)),
                _ => {}
            }
        }

        fn on_timer(&mut self, out: &mut Output) {
            self.ticks += 1;
            out.write(b"tick\n");
            out.set_timer(Duration::from_secs(1));
        }

        fn on_shutdown(&mut self, out: &mut Output) {
            out.write(b"bye\n");
            out.close();
        }
    }

    #[test]
    fn timers_fire_on_the_tests_clock_and_can_be_replaced_or_cleared() {
        let mut conn = InMemory::open(Clocked { ticks: 0 });
        assert_eq!(conn.timer(), Some(Duration::from_secs(1)));
        assert!(!conn.advance(Duration::from_millis(999)));
        assert_eq!(conn.timer(), Some(Duration::from_millis(1)));
        assert!(conn.advance(Duration::from_millis(1)));
        assert_eq!(conn.transmit().unwrap(), b"tick\n");
        // Replaced by a sooner one: only that one fires.
        conn.feed(b"soon");
        assert_eq!(conn.timer(), Some(Duration::from_millis(10)));
        assert!(conn.advance(Duration::from_millis(10)));
        assert_eq!(conn.session().ticks, 2);
        conn.feed(b"stop");
        assert_eq!(conn.timer(), None);
        assert!(!conn.advance(Duration::from_secs(3600)));
        assert_eq!(conn.session().ticks, 2);
    }

    #[test]
    fn a_shutdown_is_told_once_and_stops_the_timer() {
        let mut conn = InMemory::open(Clocked { ticks: 0 });
        assert!(conn.shutdown());
        assert!(!conn.shutdown(), "once");
        assert!(!conn.advance(Duration::from_secs(5)), "closing: no timer");
        assert_eq!(conn.transmit().unwrap(), b"bye\n");
        assert!(conn.is_closed());
        assert_eq!(conn.session().ticks, 0);
    }
}

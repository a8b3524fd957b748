//! The echo Session: every byte back, in order.

use std::time::{Duration, Instant};

use sockserv::{Output, Session};

/// How long a client must have sent nothing (since it connected, or since its last
/// bytes), with nothing owed to it, for its echo to count as idle when the server drains.
/// A client that connected just before the drain gets this long to send its first bytes.
const QUIET: Duration = Duration::from_secs(1);

/// Echoes what it receives. On EOF the default `on_eof` closes once everything is sent,
/// so a client that half-closes still gets its whole echo.
///
/// When the server drains, an idle connection (nothing owed, nothing received for
/// [`QUIET`]) closes at once, as nginx closes idle keep-alive connections; one still
/// streaming is served on (a timer looks again every [`QUIET`]) until it goes quiet or
/// half-closes, so a client mid-stream still gets its whole echo.
#[derive(Default)]
pub struct Echo {
    /// When the connection opened or bytes last came (a clock read per read: tens of
    /// nanoseconds beside the read and write syscalls of every echo).
    last_data: Option<Instant>,
}

impl Echo {
    /// Closes if the connection is idle; otherwise looks again after [`QUIET`].
    fn close_if_idle(&mut self, out: &mut Output) {
        let quiet = !self.last_data.is_some_and(|at| at.elapsed() < QUIET);
        if quiet && out.queued() == 0 {
            out.close();
        } else {
            out.set_timer(QUIET);
        }
    }
}

impl Session for Echo {
    fn on_open(&mut self, _out: &mut Output) {
        self.last_data = Some(Instant::now());
    }

    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        out.write(data);
        self.last_data = Some(Instant::now());
    }

    fn on_shutdown(&mut self, out: &mut Output) {
        self.close_if_idle(out);
    }

    fn on_timer(&mut self, out: &mut Output) {
        self.close_if_idle(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockserv::driver::InMemory;

    #[test]
    fn echoes_in_order_and_closes_after_eof() {
        let mut echo = InMemory::open(Echo::default());
        assert_eq!(echo.transmit().unwrap(), b"", "no greeting");
        echo.feed(b"hello ");
        echo.feed(b"world");
        echo.eof();
        assert!(echo.is_closing());
        assert!(!echo.is_closed(), "the echo is still to be sent");
        assert_eq!(echo.transmit().unwrap(), b"hello world");
        assert!(echo.is_closed());
    }

    #[test]
    fn a_drain_closes_an_idle_echo_at_once() {
        let mut echo = InMemory::open(Echo::default());
        // Connected QUIET ago and silent since.
        echo.session_mut().last_data = Some(Instant::now() - QUIET);
        assert!(echo.shutdown());
        assert!(echo.is_closing());
        assert_eq!(echo.transmit().unwrap(), b"");
        assert!(echo.is_closed());
    }

    #[test]
    fn a_drain_gives_a_client_that_just_connected_time_to_send() {
        let mut echo = InMemory::open(Echo::default());
        assert!(echo.shutdown());
        assert!(!echo.is_closing());
        assert!(echo.feed(b"first bytes"));
        assert_eq!(echo.transmit().unwrap(), b"first bytes");
    }

    #[test]
    fn a_drain_serves_an_echo_still_owed_until_it_is_sent_and_quiet() {
        let mut echo = InMemory::open(Echo::default());
        echo.feed(b"in flight");
        assert!(echo.shutdown());
        assert!(!echo.is_closing(), "the echo is still owed");
        assert_eq!(echo.timer(), Some(QUIET));
        assert!(echo.feed(b" and more"), "still reading while streaming");
        assert_eq!(echo.transmit().unwrap(), b"in flight and more");
        // Data came less than QUIET ago by the real clock: look again.
        assert!(echo.advance(QUIET));
        assert!(!echo.is_closing());
        assert_eq!(echo.timer(), Some(QUIET));
        // Quiet since, by the Session's own clock: closed.
        echo.session_mut().last_data = Some(Instant::now() - QUIET);
        assert!(echo.advance(QUIET));
        assert!(echo.is_closing());
        assert_eq!(echo.transmit().unwrap(), b"");
        assert!(echo.is_closed());
    }
}

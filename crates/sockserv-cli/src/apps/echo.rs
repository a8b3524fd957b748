//! The echo Session: every byte back, in order.

use sockserv::{Output, Session};

/// Echoes what it receives. On EOF the default `on_eof` closes once everything is sent,
/// so a client that half-closes still gets its whole echo. When the server drains, an
/// echo has no request in flight to finish: it closes once what it owes is sent, so idle
/// connections end at once.
pub struct Echo;

impl Session for Echo {
    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        out.write(data);
    }

    fn on_shutdown(&mut self, out: &mut Output) {
        out.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockserv::driver::InMemory;

    #[test]
    fn echoes_in_order_and_closes_after_eof() {
        let mut echo = InMemory::open(Echo);
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
    fn a_drain_closes_after_the_echo_owed() {
        let mut echo = InMemory::open(Echo);
        echo.feed(b"last words");
        assert!(echo.shutdown());
        assert!(!echo.feed(b"late"), "nothing more is read");
        assert_eq!(echo.transmit().unwrap(), b"last words");
        assert!(echo.is_closed());
    }
}

//! The echo Session: every byte back, in order.

use sockserv::{Output, Session};

/// Echoes what it receives. On EOF the default `on_eof` closes once everything is sent,
/// so a client that half-closes still gets its whole echo.
pub struct Echo;

impl Session for Echo {
    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        out.write(data);
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
}

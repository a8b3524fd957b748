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
    use sockserv::driver::OutputExt;

    #[test]
    fn echoes_in_order_and_closes_after_eof() {
        let mut echo = Echo;
        let mut out = Output::new();
        echo.on_open(&mut out);
        assert!(out.pending().is_empty());
        echo.on_data(b"hello ", &mut out);
        echo.on_data(b"world", &mut out);
        assert_eq!(out.pending(), b"hello world");
        echo.on_eof(&mut out);
        assert!(out.is_closing());
        assert_eq!(out.pending(), b"hello world");
    }
}

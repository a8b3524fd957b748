//! [`Pipe`]: the in-memory stream a WebSocket runs over inside a Session.

use std::io::{self, ErrorKind, Read, Write};

/// The in-memory stream tungstenite reads from and writes to: bytes from the peer in,
/// frames for the peer out. An empty input is `WouldBlock`, never EOF (the driver's EOF
/// comes through `on_eof`).
#[derive(Default)]
pub struct Pipe {
    /// Bytes from the peer; the first `read` of them are consumed.
    pub input: Vec<u8>,
    read: usize,
    /// Bytes for the peer, until the wrapper moves them to the driver's output.
    pub output: Vec<u8>,
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let rest = &self.input[self.read..];
        if rest.is_empty() {
            return Err(ErrorKind::WouldBlock.into());
        }
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.read += n;
        if self.read == self.input.len() {
            self.input.clear();
            self.read = 0;
        }
        Ok(n)
    }
}

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

//! [`Conn`]: one connection as a blocking handler sees it.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use crate::endpoint::PeerAddr;
use crate::transport::Stream;

/// One connection as a handler sees it: a buffered reader (Python's `rfile`, 8 KiB), an
/// unbuffered writer that never writes partially (`wfile`), and the peer's address.
///
/// `Read`/`BufRead` go through the buffer. `Write::write` sends the whole slice before it
/// returns (retrying on `EINTR` and short writes) and returns its full length, so there
/// is nothing to flush.
#[derive(Debug)]
pub struct Conn {
    reader: BufReader<Counted>,
    written: u64,
    peer: PeerAddr,
}

/// The socket under the reader, counting the bytes that come in.
#[derive(Debug)]
struct Counted {
    stream: Stream,
    read: u64,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (&self.stream).read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

impl Conn {
    /// Wraps an accepted stream.
    pub fn new(stream: Stream, peer: PeerAddr) -> Conn {
        Conn {
            reader: BufReader::with_capacity(8 * 1024, Counted { stream, read: 0 }),
            written: 0,
            peer,
        }
    }

    /// The peer's address (Python's `client_address`).
    pub fn peer_addr(&self) -> &PeerAddr {
        &self.peer
    }

    /// The underlying socket (Python's `request`/`connection`). Reading from it directly
    /// skips bytes already in the reader's buffer.
    pub fn stream(&self) -> &Stream {
        &self.reader.get_ref().stream
    }

    /// Bytes received and sent so far: `(in, out)`.
    pub fn traffic(&self) -> (u64, u64) {
        (self.reader.get_ref().read, self.written)
    }

    /// Bounds every later read: a read that waits longer fails with `WouldBlock` or
    /// `TimedOut` (Python's `StreamRequestHandler.timeout`). `None` waits forever.
    ///
    /// # Errors
    ///
    /// The OS error; a zero duration is refused.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.stream().set_read_timeout(timeout)
    }

    /// Bounds every later write (a peer that does not read). `None` waits forever.
    ///
    /// # Errors
    ///
    /// The OS error; a zero duration is refused.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.stream().set_write_timeout(timeout)
    }

    pub(crate) fn into_stream(self) -> Stream {
        self.reader.into_inner().stream
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

impl BufRead for Conn {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.reader.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        self.reader.consume(amt);
    }
}

impl Write for Conn {
    /// Sends all of `buf` (never a partial count), like Python's `_SocketWriter`.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut stream: &Stream = &self.reader.get_ref().stream;
        stream.write_all(buf)?;
        self.written += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsRawFd for Conn {
    fn as_raw_fd(&self) -> RawFd {
        self.stream().as_raw_fd()
    }
}

//! [`Conn`]: one connection as a blocking handler sees it.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use crate::endpoint::PeerAddr;
use crate::lines::{read_line_max, ReadLine};
use crate::transport::Stream;

/// One connection as a handler sees it: a buffered reader (Python's `rfile`, 8 KiB), an
/// unbuffered writer that never writes partially (`wfile`), and the peer's address.
///
/// `Read`/`BufRead` go through the buffer. `Write::write` sends the whole slice before it
/// returns (retrying on `EINTR` and short writes) and returns its full length, so there
/// is nothing to flush; `write!`/`writeln!` format first and send the text in one go (one
/// TCP segment for a short reply, not one per fragment).
///
/// For line protocols, [`next_line`](Conn::next_line) and
/// [`read_line_max`](Conn::read_line_max) read a line of bounded length and return it
/// owned, so the loop body can write to the same `Conn` (`BufRead::lines` borrows the
/// connection for the whole loop).
///
/// # Examples
///
/// ```no_run
/// use std::io::Write;
///
/// let server = sockserv::Server::builder("127.0.0.1:0").handler(|conn| {
///     while let Some(line) = conn.next_line(1024)? {
///         writeln!(conn, "you said {line}")?;
///     }
///     Ok(())
/// });
/// ```
#[derive(Debug)]
pub struct Conn {
    reader: BufReader<Counted>,
    written: u64,
    /// Where `write!` formats before its one send; kept for the next one.
    formatted: Vec<u8>,
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
            formatted: Vec::new(),
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

    /// Reads one line of at most `max` bytes (not counting its `\r\n`), holding no more
    /// than that in memory: Python's `rfile.readline(limit)`, with the outcomes told apart
    /// — a line, a line that was too long (read through its `\n` and dropped; the next
    /// call reads the following line), or EOF. The line is returned owned, so the caller
    /// may write to this `Conn` while holding it.
    ///
    /// # Errors
    ///
    /// The socket's error (a read timeout is `WouldBlock`/`TimedOut`), or `InvalidData`
    /// for a line that is not UTF-8 (it has been consumed).
    pub fn read_line_max(&mut self, max: usize) -> io::Result<ReadLine> {
        read_line_max(&mut self.reader, max)
    }

    /// The next line of at most `max` bytes, or `None` at EOF: the loop of a line
    /// protocol, `while let Some(line) = conn.next_line(1024)? { ... }`, in which the
    /// body may write to `conn`.
    ///
    /// # Errors
    ///
    /// `InvalidData` for a line longer than `max` (it has been read and dropped; the
    /// connection can go on) or not UTF-8; otherwise the socket's error.
    pub fn next_line(&mut self, max: usize) -> io::Result<Option<String>> {
        match self.read_line_max(max)? {
            ReadLine::Line(line) => Ok(Some(line)),
            ReadLine::Eof => Ok(None),
            ReadLine::TooLong => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("line longer than {max} bytes"),
            )),
        }
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

    /// Formats everything first, then sends it in one write (the default would send
    /// every literal piece and argument separately).
    fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> io::Result<()> {
        if let Some(text) = args.as_str() {
            return self.write_all(text.as_bytes());
        }
        let mut text = std::mem::take(&mut self.formatted);
        text.clear();
        text.write_fmt(args)?;
        let sent = self.write_all(&text);
        // Keep a modest buffer for the next reply; drop a huge one.
        if text.capacity() <= 64 * 1024 {
            self.formatted = text;
        }
        sent
    }
}

impl AsRawFd for Conn {
    fn as_raw_fd(&self) -> RawFd {
        self.stream().as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::OwnedFd;
    use std::os::unix::net::UnixStream;

    /// A `Conn` over one end of a `SOCK_SEQPACKET` pair: every send is one record, so
    /// the other end sees how many sends there were.
    fn seqpacket_conn() -> (Conn, socket2::Socket) {
        let (ours, theirs) =
            socket2::Socket::pair(socket2::Domain::UNIX, socket2::Type::SEQPACKET, None).unwrap();
        let stream = Stream::Unix(UnixStream::from(OwnedFd::from(ours)));
        let peer = PeerAddr::Unix(None);
        (Conn::new(stream, peer), theirs)
    }

    #[test]
    fn writeln_with_arguments_is_one_send() {
        let (mut conn, peer) = seqpacket_conn();
        let n = 1;
        writeln!(conn, "OK {n} {}", n + 1).unwrap();
        write!(conn, "plain").unwrap();
        let mut buf = [0u8; 64];
        let n = (&peer).read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"OK 1 2\n", "the whole line in one record");
        let n = (&peer).read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"plain");
        assert_eq!(conn.traffic(), (0, 12));
    }

    #[test]
    fn next_line_reads_while_the_loop_writes() {
        let (mut conn, peer) = seqpacket_conn();
        (&peer).write_all(b"hello\n").unwrap();
        (&peer).write_all(b"world\n").unwrap();
        peer.shutdown(std::net::Shutdown::Write).unwrap();
        let mut seen = 0;
        while let Some(line) = conn.next_line(16).unwrap() {
            writeln!(conn, "{}", line.to_uppercase()).unwrap();
            seen += 1;
        }
        assert_eq!(seen, 2);
        let mut buf = [0u8; 64];
        let n = (&peer).read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"HELLO\n");
    }
}

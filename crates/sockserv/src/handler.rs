//! Blocking handlers, as in Python: [`StreamHandler`] over a [`Conn`], and
//! [`DatagramHandler`] over one [`Datagram`].

use std::io;

use crate::conn::Conn;
use crate::endpoint::PeerAddr;

/// Serves one stream connection, blocking: Python's `StreamRequestHandler`.
///
/// The server calls [`setup`](StreamHandler::setup), then [`handle`](StreamHandler::handle),
/// then [`finish`](StreamHandler::finish) — `finish` runs even when `handle` fails or
/// panics, but not when `setup` fails (as in Python). Afterwards the server half-closes
/// the connection (the peer reads every byte, then EOF) and closes it. One handler value
/// serves every connection, possibly from many threads at once: per-connection state
/// lives in `handle`'s locals, shared state in the handler (behind a `Mutex` or atomics).
///
/// Any `Fn(&mut Conn) -> io::Result<()>` closure is a handler.
///
/// # Examples
///
/// ```
/// use std::io::{BufRead, Write};
/// use sockserv::Conn;
///
/// // Echo one line back, upper-cased.
/// let handler = |conn: &mut Conn| {
///     let mut line = String::new();
///     conn.read_line(&mut line)?;
///     conn.write_all(line.to_uppercase().as_bytes())
/// };
/// # let _: &dyn sockserv::StreamHandler = &handler;
/// ```
pub trait StreamHandler: Send + Sync + 'static {
    /// Runs before [`handle`](StreamHandler::handle). An error skips `handle` and `finish`.
    ///
    /// # Errors
    ///
    /// Any error ends the connection and is reported to the error hook.
    fn setup(&self, conn: &mut Conn) -> io::Result<()> {
        let _ = conn;
        Ok(())
    }

    /// Serves the connection.
    ///
    /// # Errors
    ///
    /// Any error ends the connection and is reported to the error hook; the server goes on.
    fn handle(&self, conn: &mut Conn) -> io::Result<()>;

    /// Runs after [`handle`](StreamHandler::handle), whether it succeeded, failed or panicked.
    ///
    /// # Errors
    ///
    /// Reported to the error hook.
    fn finish(&self, conn: &mut Conn) -> io::Result<()> {
        let _ = conn;
        Ok(())
    }
}

impl<F> StreamHandler for F
where
    F: Fn(&mut Conn) -> io::Result<()> + Send + Sync + 'static,
{
    fn handle(&self, conn: &mut Conn) -> io::Result<()> {
        self(conn)
    }
}

/// One received datagram, as a [`DatagramHandler`] sees it.
#[derive(Debug)]
pub struct Datagram<'a> {
    data: &'a [u8],
    peer: &'a PeerAddr,
    truncated: bool,
}

impl<'a> Datagram<'a> {
    /// A datagram (drivers and tests build these).
    pub fn new(data: &'a [u8], peer: &'a PeerAddr, truncated: bool) -> Self {
        Datagram {
            data,
            peer,
            truncated,
        }
    }

    /// The payload (at most `max_packet_size` bytes).
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// The sender.
    pub fn peer_addr(&self) -> &'a PeerAddr {
        self.peer
    }

    /// Whether the datagram was longer than `max_packet_size` and was cut to it.
    /// (Python truncates silently; sockserv tells you.)
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }
}

/// Serves one datagram: Python's `DatagramRequestHandler`.
///
/// Whatever the handler writes into `reply` is sent back to the sender as one datagram
/// after `handle` returns `Ok`. **An empty reply is not sent** (Python always sends one,
/// even empty, which a client can mistake for data); on `Err` or a panic nothing is sent.
///
/// Any `Fn(&Datagram<'_>, &mut Vec<u8>) -> io::Result<()>` closure is a datagram handler:
/// [`Builder::datagram_handler`](crate::Builder::datagram_handler) takes one, its types
/// inferred. A type of yours that implements this trait goes in as
/// `move |request, reply| handler.handle(request, reply)`.
pub trait DatagramHandler: Send + Sync + 'static {
    /// Handles one datagram, writing the reply (if any) into `reply`.
    ///
    /// # Errors
    ///
    /// Reported to the error hook; no reply is sent.
    fn handle(&self, request: &Datagram<'_>, reply: &mut Vec<u8>) -> io::Result<()>;
}

impl<F> DatagramHandler for F
where
    F: Fn(&Datagram<'_>, &mut Vec<u8>) -> io::Result<()> + Send + Sync + 'static,
{
    fn handle(&self, request: &Datagram<'_>, reply: &mut Vec<u8>) -> io::Result<()> {
        self(request, reply)
    }
}

//! `sockserv bench --tls`: a rustls client per connection, driven sans-IO over the
//! non-blocking socket, so the echo pattern is checked in plaintext.
use std::io::{self, ErrorKind, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};

use super::target::Stream;

/// Whether a TLS error was printed: a bad certificate fails every connection alike, and
/// the report only counts them as resets.
static ERROR_REPORTED: AtomicBool = AtomicBool::new(false);

/// What every TLS connection of a run starts from.
#[derive(Debug, Clone)]
pub struct TlsPlan {
    /// Trust roots or `--insecure`.
    pub config: Arc<ClientConfig>,
    /// The name the server's certificate must carry.
    pub name: ServerName<'static>,
}

/// One connection's TLS state. Reads and writes behave like a non-blocking socket's:
/// `WouldBlock` means wait for the next readiness event.
pub struct TlsLayer {
    conn: ClientConnection,
}

impl TlsLayer {
    /// A fresh client connection (its ClientHello waits to be flushed).
    pub fn new(plan: &TlsPlan) -> io::Result<TlsLayer> {
        let mut conn = ClientConnection::new(Arc::clone(&plan.config), plan.name.clone())
            .map_err(io::Error::other)?;
        // The bench's own window (one message, or 4 MiB in stream mode) bounds what waits
        // for the handshake; rustls's limit would only add a stall to reason about.
        conn.set_buffer_limit(None);
        Ok(TlsLayer { conn })
    }

    /// Decrypted bytes into `buf`; `Ok(0)` at the server's close_notify or EOF.
    pub fn read(&mut self, stream: &Stream, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            if self.conn.read_tls(&mut SocketIo(stream))? == 0 {
                return Ok(0);
            }
            if let Err(e) = self.conn.process_new_packets() {
                // Send the alert if the socket takes it; the connection is over anyway.
                let _ = self.flush(stream);
                if !ERROR_REPORTED.swap(true, Ordering::Relaxed) {
                    eprintln!("sockserv bench: TLS error (counted as a reset): {e}");
                }
                return Err(io::Error::other(e));
            }
            // Handshake replies, and plaintext written before the handshake completed.
            self.flush(stream)?;
        }
    }

    /// Encrypts `buf` whole, unless records from before still wait for a full socket.
    pub fn write(&mut self, stream: &Stream, buf: &[u8]) -> io::Result<usize> {
        self.flush(stream)?;
        if self.conn.wants_write() {
            return Err(ErrorKind::WouldBlock.into());
        }
        let n = self.conn.writer().write(buf)?;
        self.flush(stream)?;
        Ok(n)
    }

    /// Sends waiting records until the socket is full (the rest goes on the next
    /// writable event).
    pub fn flush(&mut self, stream: &Stream) -> io::Result<()> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut SocketIo(stream)) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// The socket as `io::Read`/`io::Write` for rustls.
struct SocketIo<'a>(&'a Stream);

impl Read for SocketIo<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for SocketIo<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

//! [`TlsSession`]: rustls between the driver's ciphertext and the inner Session's plaintext.

use std::fmt;
use std::io::{self, ErrorKind, Read, Write};

use rustls::ServerConnection;

use crate::driver::{OutputExt, Relay};
use crate::output::Output;
use crate::session::{Session, WakeSource};

/// Most plaintext rustls buffers for sending (before the handshake completes, or while
/// records wait): beyond it the inner Session's output waits in its own [`Output`].
const SEND_BUFFER_LIMIT: usize = 64 * 1024;
/// Plaintext handed to the inner Session per `on_data` call: one TLS record at most.
const PLAINTEXT_CHUNK: usize = 16 * 1024;

/// A [`Session`] that runs an inner Session over TLS (see [`TlsAcceptor`]).
///
/// Ciphertext from the driver is decrypted and handed to the inner Session's
/// [`on_data`](Session::on_data); what the inner Session writes is encrypted (held by
/// rustls until the handshake completes) and sent. The peer's `close_notify` is the inner
/// Session's EOF; when the inner Session closes, a `close_notify` is sent first. A TLS
/// error (a plaintext client, garbage, a failed handshake) sends rustls's alert and closes
/// the connection; the inner Session only sees [`on_close`](Session::on_close).
///
/// Memory is bounded per call: each driver read is decrypted in record-sized chunks, and
/// the inner Session's output is encrypted into the driver's [`Output`] at once, where the
/// driver's own back-pressure applies. The inner Session's [`Output::queued`] still counts
/// what the peer has not been sent yet (its plaintext stays queued until the driver has
/// sent the matching ciphertext), so a Session that limits a slow reader's backlog, like
/// the chat room, works the same over TLS. Wake-ups work as usual: an inner Session that asks
/// for a waker in [`on_open`](Session::on_open) gets one that wakes this connection.
///
/// [`TlsAcceptor`]: super::TlsAcceptor
pub struct TlsSession<S> {
    conn: ServerConnection,
    inner: S,
    /// What the inner Session wrote and the driver has not sent yet, as plaintext: the
    /// first `relay.handed()` bytes are with rustls or in the driver's output already.
    inner_out: Output,
    relay: Relay,
    inner_wake: Option<WakeSource>,
    /// The inner Session was told EOF.
    inner_eof: bool,
    /// The outer output is closing: nothing more is read or written.
    done: bool,
}

impl<S: Session> TlsSession<S> {
    /// Runs `inner` over the server side of `conn`, a fresh connection.
    pub fn new(mut conn: ServerConnection, inner: S) -> TlsSession<S> {
        conn.set_buffer_limit(Some(SEND_BUFFER_LIMIT));
        TlsSession {
            conn,
            inner,
            inner_out: Output::new(),
            relay: Relay::new(),
            inner_wake: None,
            inner_eof: false,
            done: false,
        }
    }

    /// The inner Session.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The rustls connection: the negotiated protocol, SNI name, ALPN protocol.
    pub fn connection(&self) -> &ServerConnection {
        &self.conn
    }

    /// Sends whatever rustls has ready (handshake, alerts, records) to the driver.
    fn send_tls(&mut self, out: &mut Output) {
        let before = out.pending().len();
        let mut sink = OutputWriter(out);
        while self.conn.wants_write() {
            // Writing into an Output cannot fail.
            if self.conn.write_tls(&mut sink).is_err() {
                break;
            }
        }
        self.relay.wrote(out.pending().len() - before);
    }

    /// Drops from the inner Session's output the plaintext whose ciphertext the driver has
    /// sent since the last call.
    fn sync_sent(&mut self, out: &Output) {
        self.relay.sync_sent(&mut self.inner_out, out);
    }

    /// Encrypts what the inner Session wrote while the driver's output is not backed up
    /// (its high-water mark is the read-ahead: bytes and files are encrypted as the peer
    /// takes them, not all at once, and the driver stops reading meanwhile); closes (with
    /// `close_notify`) once the inner Session closed and all it queued has gone to rustls.
    fn after_inner(&mut self, out: &mut Output) {
        // The inner Session's timer is this connection's.
        match self.inner_out.take_timer() {
            Some(Some(after)) => out.set_timer(after),
            Some(None) => out.clear_timer(),
            None => {}
        }
        if self.done {
            return;
        }
        // The inner Session may have taken back output it had queued (the chat room
        // drops a slow member's backlog this way).
        self.relay.forget_taken_back(&self.inner_out);
        loop {
            if out.is_backed_up() {
                break;
            }
            if self.relay.handed() == self.inner_out.pending().len() {
                match self.inner_out.load(PLAINTEXT_CHUNK) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) => return self.fail(&e, out),
                }
            }
            let fresh = &self.inner_out.pending()[self.relay.handed()..];
            let n = self.conn.writer().write(fresh).unwrap_or(0);
            if n == 0 {
                // rustls's buffer is full until the handshake completes.
                break;
            }
            self.send_tls(out);
            self.relay.handed_on(n);
        }
        self.send_tls(out);
        if self.inner_out.is_closing()
            && self.relay.handed() as u64 == self.inner_out.queued()
            && !self.conn.is_handshaking()
        {
            self.finish(out);
        }
    }

    /// Sends `close_notify` and closes the connection once it is sent.
    fn finish(&mut self, out: &mut Output) {
        self.conn.send_close_notify();
        self.send_tls(out);
        out.close();
        self.done = true;
    }

    /// A TLS error: send the alert rustls queued, if any, and close.
    fn fail(&mut self, error: &dyn fmt::Display, out: &mut Output) {
        tracing::debug!("TLS error: {error}");
        self.send_tls(out);
        out.close();
        self.done = true;
    }

    /// Hands the decrypted plaintext to the inner Session, chunk by chunk, and tells it
    /// EOF once the peer's `close_notify` has arrived.
    fn deliver_plaintext(&mut self, out: &mut Output) {
        let mut buf = [0; PLAINTEXT_CHUNK];
        while !self.inner_eof && !self.done && !self.inner_out.is_closing() {
            match self.conn.reader().read(&mut buf) {
                Ok(0) => {
                    self.inner_eof = true;
                    self.inner.on_eof(&mut self.inner_out);
                }
                Ok(n) => self.inner.on_data(&buf[..n], &mut self.inner_out),
                // WouldBlock: no more plaintext for now.
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => return self.fail(&e, out),
            }
            self.after_inner(out);
        }
        self.after_inner(out);
    }
}

impl<S: Session> Session for TlsSession<S> {
    fn on_open(&mut self, out: &mut Output) {
        // The connection's output budget is split: half for ciphertext waiting for the
        // peer (where the driver stops reading), half for the inner Session's plaintext
        // not yet encrypted (what one read's worth of input can produce meanwhile); the
        // plaintext kept for accounting until sent is the ciphertext's twin.
        let half = (out.high_water() / 2).max(1024);
        out.set_high_water(half);
        self.inner_out.set_high_water(half);
        self.inner.on_open(&mut self.inner_out);
        if let Some(source) = self.inner_out.wake_source() {
            // The inner waker wakes this connection; on_wake passes it on.
            let outer = out.waker();
            source.set_notify(move || outer.wake());
            self.inner_wake = Some(source);
        }
        self.after_inner(out);
    }

    fn on_data(&mut self, mut data: &[u8], out: &mut Output) {
        self.sync_sent(out);
        while !data.is_empty() && !self.done {
            // read_tls takes at most a record's worth; process and drain before the next.
            match self.conn.read_tls(&mut data) {
                Ok(_) => {}
                Err(e) => return self.fail(&e, out),
            }
            if let Err(e) = self.conn.process_new_packets() {
                return self.fail(&e, out);
            }
            self.send_tls(out);
            self.deliver_plaintext(out);
        }
    }

    fn on_eof(&mut self, out: &mut Output) {
        if self.done {
            return;
        }
        self.sync_sent(out);
        if self.conn.is_handshaking() {
            // The peer left mid-handshake: nothing to say to it.
            out.close();
            self.done = true;
            return;
        }
        if !self.inner_eof {
            // EOF without close_notify: the inner Session still hears the end.
            self.inner_eof = true;
            self.inner.on_eof(&mut self.inner_out);
        }
        self.after_inner(out);
    }

    fn on_wake(&mut self, out: &mut Output) {
        if self.done {
            return;
        }
        self.sync_sent(out);
        if let Some(source) = &self.inner_wake {
            source.take();
        }
        self.inner.on_wake(&mut self.inner_out);
        self.after_inner(out);
    }

    fn on_timer(&mut self, out: &mut Output) {
        if self.done {
            return;
        }
        self.sync_sent(out);
        self.inner.on_timer(&mut self.inner_out);
        self.after_inner(out);
    }

    fn on_shutdown(&mut self, out: &mut Output) {
        if self.done {
            return;
        }
        self.sync_sent(out);
        self.inner.on_shutdown(&mut self.inner_out);
        self.after_inner(out);
    }

    fn on_drained(&mut self, out: &mut Output) {
        if self.done {
            return;
        }
        self.sync_sent(out);
        self.after_inner(out);
        if self.inner_out.queued() == 0 && !self.inner_out.is_closing() {
            self.inner.on_drained(&mut self.inner_out);
            self.after_inner(out);
        }
    }

    fn on_close(&mut self) {
        self.inner.on_close();
    }
}

impl<S> fmt::Debug for TlsSession<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSession")
            .field("handshaking", &self.conn.is_handshaking())
            .field("inner_out", &self.inner_out)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// The driver's [`Output`] as an `io::Write` for `write_tls`.
struct OutputWriter<'a>(&'a mut Output);

impl Write for OutputWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

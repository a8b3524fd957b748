//! One load connection's traffic: what to write next, checking what comes back.
use std::io;
use std::time::Instant;

use hdrhistogram::Histogram;

use super::pattern::{Pattern, MAX_CHUNK};
use super::target::Stream;
use super::tls::TlsLayer;
use super::Mode;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Non-blocking connect in progress.
    Connecting,
    /// Connected and exchanging echoes.
    Open,
    /// Failed or broken; deregistered and shut down.
    Closed,
}

/// Why a connection stopped.
#[derive(Debug)]
pub enum Broken {
    /// Reset, broken pipe, unexpected EOF or another I/O error.
    Reset,
    /// The echo differed from what was sent (or more came back than was sent).
    Mismatch,
}

/// A connection and its position in its byte stream.
pub struct Conn {
    /// The socket.
    pub stream: Stream,
    /// `--tls`: the rustls client between the pattern and the socket.
    pub tls: Option<TlsLayer>,
    /// Life-cycle state.
    pub phase: Phase,
    /// When the connect started, for the connect timeout.
    pub connect_started: Instant,
    base: u64,
    tx: u64,
    rx: u64,
    write_blocked: bool,
    /// `(offset, sent at)`: the timed message is fully echoed once `rx` reaches `offset`.
    probe: Option<(u64, Instant)>,
}

impl Conn {
    /// A connection with index `index` whose connect was just started.
    pub fn new(stream: Stream, tls: Option<TlsLayer>, index: usize, now: Instant) -> Self {
        Conn {
            stream,
            tls,
            phase: Phase::Connecting,
            connect_started: now,
            base: Pattern::base(index),
            tx: 0,
            rx: 0,
            write_blocked: false,
            probe: None,
        }
    }

    /// Marks the socket writable after a writable event.
    pub fn set_writable(&mut self) {
        self.write_blocked = false;
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.tls {
            Some(tls) => tls.read(&self.stream, buf),
            None => self.stream.read(buf),
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.tls {
            Some(tls) => tls.write(&self.stream, buf),
            None => self.stream.write(buf),
        }
    }
}

/// What all connections share: the pattern, one read buffer, and the counters.
pub struct Traffic {
    /// Ping-pong or stream.
    pub mode: Mode,
    /// Message size in bytes.
    pub size: u64,
    /// Most bytes a stream connection keeps unechoed.
    pub window: u64,
    /// False during warm-up: nothing is counted then.
    pub measuring: bool,
    /// Messages fully echoed while measuring.
    pub msgs: u64,
    /// Bytes echoed and verified while measuring.
    pub bytes: u64,
    /// Round trips in microseconds, while measuring.
    pub latency: Histogram<u64>,
    pattern: Pattern,
    buf: Box<[u8]>,
}

impl Traffic {
    /// Counters at zero and a fresh read buffer.
    pub fn new(mode: Mode, size: u64, window: u64) -> Self {
        Traffic {
            mode,
            size,
            window,
            measuring: false,
            msgs: 0,
            bytes: 0,
            // 1 µs to 1 hour at 3 significant digits; out-of-range values saturate.
            latency: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds"),
            pattern: Pattern::new(),
            buf: vec![0; MAX_CHUNK].into_boxed_slice(),
        }
    }

    /// Reads (if `readable`) and writes until the socket would block.
    ///
    /// # Errors
    ///
    /// How the connection broke; the caller closes it and counts the error.
    pub fn pump(&mut self, conn: &mut Conn, readable: bool) -> Result<(), Broken> {
        if readable {
            self.read(conn)?;
        }
        self.write(conn)
    }

    fn read(&mut self, conn: &mut Conn) -> Result<(), Broken> {
        loop {
            let n = match conn.read(&mut self.buf) {
                Ok(0) => return Err(Broken::Reset),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Err(Broken::Reset),
            };
            if conn.rx + n as u64 > conn.tx
                || self.buf[..n] != *self.pattern.slice(conn.base + conn.rx, n)
            {
                return Err(Broken::Mismatch);
            }
            let msgs_before = conn.rx / self.size;
            conn.rx += n as u64;
            if let Some((end, sent)) = conn.probe {
                if conn.rx >= end {
                    conn.probe = None;
                    if self.measuring {
                        let micros = sent.elapsed().as_micros().max(1);
                        self.latency
                            .saturating_record(u64::try_from(micros).unwrap_or(u64::MAX));
                    }
                }
            }
            if self.measuring {
                self.msgs += conn.rx / self.size - msgs_before;
                self.bytes += n as u64;
            }
            // A short read drained the socket, and Linux raises a new edge for anything
            // that arrives later, so the extra read that would say WouldBlock is skipped.
            // (Not under TLS: a short read there is one record, the socket may hold more.)
            if n < self.buf.len() && conn.tls.is_none() {
                return Ok(());
            }
        }
    }

    fn write(&mut self, conn: &mut Conn) -> Result<(), Broken> {
        if let Some(tls) = &mut conn.tls {
            // Records left over from a full socket go first, even with nothing new to send.
            tls.flush(&conn.stream).map_err(|_| Broken::Reset)?;
        }
        while !conn.write_blocked {
            let room = room(self.mode, self.size, self.window, conn.tx, conn.rx) as usize;
            if room == 0 {
                return Ok(());
            }
            if conn.probe.is_none() {
                // Ping-pong times every message; stream samples one chunk at a time.
                let end = match self.mode {
                    Mode::Pingpong => conn.tx + self.size,
                    Mode::Stream => conn.tx + room as u64,
                };
                conn.probe = Some((end, Instant::now()));
            }
            match conn.write(self.pattern.slice(conn.base + conn.tx, room)) {
                Ok(0) => return Err(Broken::Reset),
                Ok(n) => conn.tx += n as u64,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => conn.write_blocked = true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(Broken::Reset),
            }
        }
        Ok(())
    }
}

/// Bytes a connection that has written `tx` and had `rx` echoed may write now, capped to
/// one chunk.
fn room(mode: Mode, size: u64, window: u64, tx: u64, rx: u64) -> u64 {
    let room = match mode {
        // Finish the current message, but start the next only once this one is fully
        // echoed: a closed loop, even when a large message is echoed in pieces.
        Mode::Pingpong if tx % size != 0 => size - tx % size,
        Mode::Pingpong if tx == rx => size,
        Mode::Pingpong => 0,
        Mode::Stream => window - (tx - rx).min(window),
    };
    room.min(MAX_CHUNK as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pingpong_waits_for_the_whole_echo_before_the_next_message() {
        let size = 200_000;
        assert_eq!(room(Mode::Pingpong, size, size, 0, 0), MAX_CHUNK as u64);
        // First chunk written and fully echoed: the message is not done, keep writing it.
        assert_eq!(
            room(Mode::Pingpong, size, size, 65_536, 65_536),
            MAX_CHUNK as u64
        );
        assert_eq!(room(Mode::Pingpong, size, size, 196_608, 196_608), 3_392);
        // Whole message written, echo incomplete: nothing until it is.
        assert_eq!(room(Mode::Pingpong, size, size, size, size - 1), 0);
        assert_eq!(
            room(Mode::Pingpong, size, size, size, size),
            MAX_CHUNK as u64
        );
        assert_eq!(room(Mode::Pingpong, 64, 64, 64, 0), 0);
        assert_eq!(room(Mode::Pingpong, 64, 64, 64, 64), 64);
    }

    #[test]
    fn stream_keeps_at_most_the_window_in_flight() {
        let window = 4 << 20;
        assert_eq!(room(Mode::Stream, 64, window, 0, 0), MAX_CHUNK as u64);
        assert_eq!(room(Mode::Stream, 64, window, window, 0), 0);
        assert_eq!(room(Mode::Stream, 64, window, window, 100), 100);
    }
}

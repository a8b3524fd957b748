//! The echo load: what to write next on each connection, checking every echoed byte.
use std::io;
use std::time::Instant;

use super::conn::{Broken, Counters, Flow, Link, Load};
use super::pattern::{Pattern, MAX_CHUNK};
use crate::cli::BenchMode;

/// A connection's place in its byte stream.
pub struct EchoPos {
    base: u64,
    tx: u64,
    rx: u64,
    /// `(offset, sent at)`: the timed message is fully echoed once `rx` reaches `offset`.
    probe: Option<(u64, Instant)>,
}

/// What all echo connections share: the pattern and one read buffer.
pub struct EchoLoad {
    mode: BenchMode,
    size: u64,
    window: u64,
    pattern: Pattern,
    buf: Box<[u8]>,
}

impl EchoLoad {
    /// Messages of `size` bytes; a stream connection keeps at most `window` unechoed.
    pub fn new(mode: BenchMode, size: u64, window: u64) -> Self {
        EchoLoad {
            mode,
            size,
            window,
            pattern: Pattern::new(),
            buf: vec![0; MAX_CHUNK].into_boxed_slice(),
        }
    }

    fn read(&mut self, link: &mut Link, pos: &mut EchoPos, c: &mut Counters) -> Result<(), Broken> {
        loop {
            let n = match link.read(&mut self.buf) {
                Ok(0) => return Err(Broken::Reset),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Err(Broken::Reset),
            };
            if pos.rx + n as u64 > pos.tx
                || self.buf[..n] != *self.pattern.slice(pos.base + pos.rx, n)
            {
                return Err(Broken::Mismatch);
            }
            let msgs_before = pos.rx / self.size;
            pos.rx += n as u64;
            if let Some((end, sent)) = pos.probe {
                if pos.rx >= end {
                    pos.probe = None;
                    c.record_latency(sent);
                }
            }
            if c.measuring {
                c.msgs += pos.rx / self.size - msgs_before;
                c.bytes += n as u64;
            }
            if n < self.buf.len() && link.short_read_drains() {
                return Ok(());
            }
        }
    }

    fn write(&mut self, link: &mut Link, pos: &mut EchoPos) -> Result<(), Broken> {
        link.flush_tls().map_err(|_| Broken::Reset)?;
        while !link.write_blocked {
            let room = room(self.mode, self.size, self.window, pos.tx, pos.rx) as usize;
            if room == 0 {
                return Ok(());
            }
            if pos.probe.is_none() {
                // Ping-pong times every message; stream samples one chunk at a time.
                let end = match self.mode {
                    BenchMode::Pingpong => pos.tx + self.size,
                    BenchMode::Stream => pos.tx + room as u64,
                };
                pos.probe = Some((end, Instant::now()));
            }
            match link.write(self.pattern.slice(pos.base + pos.tx, room)) {
                Ok(0) => return Err(Broken::Reset),
                Ok(n) => pos.tx += n as u64,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => link.write_blocked = true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(Broken::Reset),
            }
        }
        Ok(())
    }
}

impl Load for EchoLoad {
    type Pos = EchoPos;
    const RECONNECT_AFTER_RESET: bool = false;

    fn start(&self, index: usize) -> EchoPos {
        EchoPos {
            base: Pattern::base(index),
            tx: 0,
            rx: 0,
            probe: None,
        }
    }

    fn pump(
        &mut self,
        link: &mut Link,
        pos: &mut EchoPos,
        readable: bool,
        counters: &mut Counters,
    ) -> Result<Flow, Broken> {
        if readable {
            self.read(link, pos, counters)?;
        }
        self.write(link, pos)?;
        Ok(Flow::Continue)
    }
}

/// Bytes a connection that has written `tx` and had `rx` echoed may write now, capped to
/// one chunk.
fn room(mode: BenchMode, size: u64, window: u64, tx: u64, rx: u64) -> u64 {
    let room = match mode {
        // Finish the current message, but start the next only once this one is fully
        // echoed: a closed loop, even when a large message is echoed in pieces.
        BenchMode::Pingpong if tx % size != 0 => size - tx % size,
        BenchMode::Pingpong if tx == rx => size,
        BenchMode::Pingpong => 0,
        BenchMode::Stream => window - (tx - rx).min(window),
    };
    room.min(MAX_CHUNK as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use BenchMode::{Pingpong, Stream};

    #[test]
    fn pingpong_waits_for_the_whole_echo_before_the_next_message() {
        let size = 200_000;
        assert_eq!(room(Pingpong, size, size, 0, 0), MAX_CHUNK as u64);
        // First chunk written and fully echoed: the message is not done, keep writing it.
        assert_eq!(room(Pingpong, size, size, 65_536, 65_536), MAX_CHUNK as u64);
        assert_eq!(room(Pingpong, size, size, 196_608, 196_608), 3_392);
        // Whole message written, echo incomplete: nothing until it is.
        assert_eq!(room(Pingpong, size, size, size, size - 1), 0);
        assert_eq!(room(Pingpong, size, size, size, size), MAX_CHUNK as u64);
        assert_eq!(room(Pingpong, 64, 64, 64, 0), 0);
        assert_eq!(room(Pingpong, 64, 64, 64, 64), 64);
    }

    #[test]
    fn stream_keeps_at_most_the_window_in_flight() {
        let window = 4 << 20;
        assert_eq!(room(Stream, 64, window, 0, 0), MAX_CHUNK as u64);
        assert_eq!(room(Stream, 64, window, window, 0), 0);
        assert_eq!(room(Stream, 64, window, window, 100), 100);
    }
}

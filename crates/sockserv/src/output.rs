//! [`Output`]: what a Session wants sent — bytes, file ranges, and whether to close after.

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use crate::session::{SessionWaker, WakeCell};

mod sending;

/// What a [`Session`](crate::Session) wants sent: bytes to write, ranges of files to send,
/// and whether to close afterwards.
///
/// Everything queued is sent in the order it was queued (the driver takes it through
/// [`OutputExt`](crate::driver::OutputExt)). File ranges queued with [`send_file`](Output::send_file) go straight
/// from the file to the socket where the transport allows (`sendfile(2)` on a plain
/// socket), in bounded chunks otherwise. The connection is closed (after a half-close,
/// so the peer sees every byte and then EOF) once [`close`](Output::close) was called and
/// nothing is queued.
#[derive(Default)]
pub struct Output {
    /// The bytes at the front, ready to send.
    buf: Vec<u8>,
    /// What follows `buf`, once a file range was queued: ranges and the bytes written
    /// after them. Empty for sessions that never send files.
    rest: VecDeque<Segment>,
    /// Bytes in `rest`.
    rest_len: u64,
    /// Bytes ever removed from the front of `buf` (sent, or taken back).
    removed: u64,
    /// Bytes ever removed from the queue in any way (bytes and file ranges, sent or
    /// discarded); published through the waker for a broadcast group.
    gone: u64,
    closing: bool,
    wake: Option<Arc<WakeCell>>,
    /// A timer change the driver has not taken yet: `Some(None)` clears it.
    timer: Option<Option<Duration>>,
    high_water: HighWater,
}

/// Queued output above which a connection counts as backed up (see
/// [`Output::is_backed_up`]): the driver's setting, Netty's 64 KiB by default.
#[derive(Clone, Copy, Debug)]
struct HighWater(u64);

impl Default for HighWater {
    fn default() -> Self {
        HighWater(DEFAULT_HIGH_WATER)
    }
}

/// The default output high-water mark: 64 KiB, as Netty's (see
/// [`Builder::high_water`](crate::Builder::high_water)).
pub(crate) const DEFAULT_HIGH_WATER: u64 = 64 * 1024;

enum Segment {
    Bytes(Vec<u8>),
    File(FileRange),
}

/// A range of a file at the front of an [`Output`], for a driver that sends it directly
/// (see [`OutputExt::front_file`](crate::driver::OutputExt::front_file)).
#[derive(Debug)]
pub struct FileRange {
    file: File,
    offset: u64,
    len: u64,
}

impl FileRange {
    /// The file.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Where the unsent part starts.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// How many bytes are left to send.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing is left (never true for a range still queued).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Output {
    /// An empty output, as a driver (or a unit test) starts with.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues `data` to be sent after everything queued before.
    pub fn write(&mut self, data: &[u8]) {
        if self.rest.is_empty() {
            self.buf.extend_from_slice(data);
            return;
        }
        self.rest_len += data.len() as u64;
        match self.rest.back_mut() {
            Some(Segment::Bytes(bytes)) => bytes.extend_from_slice(data),
            _ => self.rest.push_back(Segment::Bytes(data.to_vec())),
        }
    }

    /// Queues `len` bytes of `file` from `offset`, sent after everything queued before,
    /// without reading them into memory where the transport allows (`sendfile(2)` on a
    /// plain socket; TLS and datagram replies read bounded chunks).
    ///
    /// If the file turns out shorter than `offset + len` when its turn comes (it was
    /// truncated meanwhile), the connection is closed: the peer sees a short body, never
    /// wrong bytes. A `len` of zero queues nothing.
    pub fn send_file(&mut self, file: File, offset: u64, len: u64) {
        if len == 0 {
            return;
        }
        self.rest_len += len;
        self.rest
            .push_back(Segment::File(FileRange { file, offset, len }));
    }

    /// Drops everything queued and not yet sent — bytes and file ranges — and returns how
    /// many bytes that was. For a Session whose peer has fallen too far behind (a
    /// broadcast member that stopped reading): discard, then [`close`](Output::close), and
    /// the connection ends at once instead of waiting to flush a backlog nobody reads.
    pub fn discard(&mut self) -> u64 {
        let dropped = self.queued();
        self.left(dropped);
        self.removed += self.buf.len() as u64;
        self.buf.clear();
        self.buf.shrink_to(64 * 1024);
        self.rest.clear();
        self.rest_len = 0;
        dropped
    }

    /// Asks for the connection to be closed once everything queued is sent.
    pub fn close(&mut self) {
        self.closing = true;
    }

    /// Whether [`close`](Output::close) was called.
    pub fn is_closing(&self) -> bool {
        self.closing
    }

    /// Bytes queued and not yet sent, file ranges included.
    pub fn queued(&self) -> u64 {
        self.buf.len() as u64 + self.rest_len
    }

    /// Whether the output is backed up: [`queued`](Output::queued) reached the
    /// connection's high-water mark ([`Builder::high_water`](crate::Builder::high_water)).
    /// The driver stops reading then, until the peer catches up; a Session that produces
    /// output on its own (a stream, a relay) holds back too and resumes in
    /// [`on_drained`](crate::Session::on_drained).
    pub fn is_backed_up(&self) -> bool {
        self.queued() >= self.high_water.0
    }

    /// The connection's high-water mark, in bytes (see [`is_backed_up`](Output::is_backed_up)).
    pub fn high_water(&self) -> u64 {
        self.high_water.0
    }

    /// Asks for [`Session::on_timer`](crate::Session::on_timer) once `after` has passed,
    /// replacing any timer set before (one timer per connection). Timeouts of a protocol
    /// (a request head that does not arrive in time, a keep-alive ping) are built on it.
    pub fn set_timer(&mut self, after: Duration) {
        self.timer = Some(Some(after));
    }

    /// Cancels the timer, if one is set.
    pub fn clear_timer(&mut self) {
        self.timer = Some(None);
    }

    /// Counts `n` bytes leaving the queue; a Session with a waker publishes the total.
    fn left(&mut self, n: u64) {
        self.gone += n;
        if let Some(cell) = &self.wake {
            cell.gone
                .store(self.gone, std::sync::atomic::Ordering::Release);
        }
    }

    /// Bytes that ever left the queue (sent, or discarded), file ranges included.
    pub(crate) fn gone(&self) -> u64 {
        self.gone
    }

    /// Once the pending bytes are gone, bytes queued behind them (after a finished file
    /// range) become pending.
    fn promote_bytes(&mut self) {
        if let Some(Segment::Bytes(_)) = self.rest.front() {
            if let Some(Segment::Bytes(bytes)) = self.rest.pop_front() {
                self.rest_len -= bytes.len() as u64;
                self.buf = bytes;
            }
        }
    }

    /// A waker for this connection: calling [`SessionWaker::wake`] from any thread
    /// makes the driver call [`Session::on_wake`](crate::Session::on_wake) soon. Sessions
    /// that never ask for one cost nothing extra; a session that wants wake-ups asks in
    /// [`on_open`](crate::Session::on_open).
    pub fn waker(&mut self) -> SessionWaker {
        let gone = self.gone;
        let cell = self.wake.get_or_insert_with(|| {
            let cell = Arc::new(WakeCell::default());
            cell.gone.store(gone, std::sync::atomic::Ordering::Release);
            cell
        });
        SessionWaker {
            cell: Arc::clone(cell),
        }
    }
}

/// `write!`/`writeln!` into an `Output` queue the formatted text (`io::Write` never
/// fails and writes everything; there is nothing to flush).
impl io::Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Output::write(self, buf);
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        Output::write(self, buf);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `write!` with a `fmt::Write` in scope queues the formatted text, as `io::Write` does.
impl fmt::Write for Output {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        Output::write(self, s.as_bytes());
        Ok(())
    }
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Output")
            .field("pending", &self.buf.len())
            .field("queued", &self.queued())
            .field("closing", &self.closing)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::OutputExt;
    use std::io::Write;

    fn file_with(content: &[u8]) -> File {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(content).unwrap();
        file
    }

    /// Drains `out` the way a driver without sendfile does.
    fn drain(out: &mut Output) -> Vec<u8> {
        let mut sent = Vec::new();
        loop {
            sent.extend(out.take());
            if out.load(3).unwrap() == 0 && out.pending().is_empty() {
                return sent;
            }
        }
    }

    #[test]
    fn output_keeps_order_and_consumes_front() {
        let mut out = Output::new();
        out.write(b"ab");
        out.write(b"cd");
        out.consume(1);
        assert_eq!(out.pending(), b"bcd");
        assert!(!out.is_closing());
        out.close();
        assert_eq!(out.take(), b"bcd");
        assert!(out.is_closing());
    }

    #[test]
    fn file_ranges_keep_their_place_between_writes() {
        let mut out = Output::new();
        out.write(b"head ");
        out.send_file(file_with(b"0123456789"), 2, 5);
        out.write(b" mid ");
        out.send_file(file_with(b"abcdef"), 0, 6);
        out.write(b" tail");
        assert_eq!(out.queued(), 5 + 5 + 5 + 6 + 5);
        assert_eq!(drain(&mut out), b"head 23456 mid abcdef tail");
        assert_eq!(out.queued(), 0);
    }

    #[test]
    fn a_driver_sends_the_front_file_directly() {
        let mut out = Output::new();
        out.write(b"x");
        out.send_file(file_with(b"hello"), 0, 5);
        out.write(b"y");
        assert!(out.front_file().is_none(), "bytes come first");
        out.consume(1);
        let range = out.front_file().expect("the file is at the front");
        assert_eq!((range.offset(), range.len()), (0, 5));
        out.file_sent(2);
        assert_eq!(out.front_file().map(FileRange::offset), Some(2));
        out.file_sent(3);
        assert_eq!(out.pending(), b"y");
        assert_eq!(out.queued(), 1);
    }

    #[test]
    fn a_truncated_file_is_an_error_not_wrong_bytes() {
        let mut out = Output::new();
        out.send_file(file_with(b"short"), 0, 50);
        let err = out.load(64).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(out.pending().is_empty());
    }

    #[test]
    fn write_macros_queue_text_and_discard_drops_everything() {
        let mut out = Output::new();
        writeln!(out, "OK {}", 42).unwrap();
        std::fmt::Write::write_fmt(&mut out, format_args!("x={}", 1)).unwrap();
        assert_eq!(out.pending(), b"OK 42\nx=1");
        out.send_file(file_with(b"abc"), 0, 3);
        out.write(b"tail");
        assert_eq!(out.discard(), 9 + 3 + 4);
        assert_eq!(out.queued(), 0);
        assert!(out.pending().is_empty() && out.front_file().is_none());
        assert_eq!(out.removed(), 9, "a wrapper sees the taken-back bytes");
        out.write(b"after");
        assert_eq!(drain(&mut out), b"after");
    }

    #[test]
    fn an_empty_range_queues_nothing() {
        let mut out = Output::new();
        out.send_file(file_with(b""), 0, 0);
        out.write(b"a");
        assert_eq!(out.pending(), b"a");
        assert_eq!(out.queued(), 1);
    }
}

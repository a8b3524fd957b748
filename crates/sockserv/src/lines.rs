//! Bounded line framing: [`LineBuffer`] for Sessions, [`ReadLine`] for a blocking
//! [`Conn`](crate::Conn)'s `read_line_max`, and the [`LineSession`] adapter that turns a
//! Session into one called once per line.

use std::io::{self, BufRead};

mod session;

pub use session::{BadLine, LineSession, Lines};

/// One framing event from [`LineBuffer::feed`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// A complete line, without its `\n` and without a `\r` before it.
    Complete(&'a [u8]),
    /// The current line passed the limit: it is being discarded up to its `\n`.
    /// Reported once per over-long line.
    TooLong,
}

/// Splits a byte stream into `\n`-terminated lines, never buffering more than
/// `max_line + 1` bytes of an unfinished line (the `+ 1` leaves room for a `\r`).
///
/// A line longer than `max_line` (not counting `\r\n`) is reported as [`Line::TooLong`]
/// as soon as it is known to be too long, and its remaining bytes are skipped; no input,
/// however it is split, makes the buffer grow past the limit. Lines that arrive whole
/// inside one `feed` are handed out without copying.
///
/// # Examples
///
/// ```
/// use sockserv::{Line, LineBuffer};
///
/// let mut lines = LineBuffer::new(8);
/// let mut seen = Vec::new();
/// lines.feed(b"hello\r\nwor", |l| seen.push(format!("{l:?}")));
/// lines.feed(b"ld\nthis is too long\nok\n", |l| seen.push(format!("{l:?}")));
/// assert_eq!(seen.len(), 4);
/// assert_eq!(seen[0], format!("{:?}", sockserv::Line::Complete(b"hello")));
/// assert_eq!(seen[2], "TooLong");
/// ```
#[derive(Clone, Debug)]
pub struct LineBuffer {
    partial: Vec<u8>,
    max_line: usize,
    skipping: bool,
}

impl LineBuffer {
    /// A framer for lines of at most `max_line` bytes.
    pub fn new(max_line: usize) -> Self {
        LineBuffer {
            partial: Vec::new(),
            max_line,
            skipping: false,
        }
    }

    /// The configured limit.
    pub fn max_line(&self) -> usize {
        self.max_line
    }

    /// Bytes of an unfinished line held now (at most `max_line + 1`).
    pub fn buffered(&self) -> usize {
        self.partial.len()
    }

    /// Bytes allocated for the unfinished line (bounded by the limit, give or take the
    /// allocator's rounding).
    pub fn capacity(&self) -> usize {
        self.partial.capacity()
    }

    /// Frames `data`, calling `on_line` for every complete line and every over-long one.
    pub fn feed(&mut self, mut data: &[u8], mut on_line: impl FnMut(Line<'_>)) {
        while let Some(end) = data.iter().position(|&b| b == b'\n') {
            let (line, rest) = (&data[..end], &data[end + 1..]);
            data = rest;
            if std::mem::take(&mut self.skipping) {
                continue;
            }
            if self.partial.is_empty() {
                self.complete(line, &mut on_line);
            } else if self.partial.len() + line.len() > self.max_line + 1 {
                self.partial.clear();
                on_line(Line::TooLong);
            } else {
                let mut whole = std::mem::take(&mut self.partial);
                whole.extend_from_slice(line);
                self.complete(&whole, &mut on_line);
                whole.clear();
                // Keep the allocation for the next partial line.
                self.partial = whole;
            }
        }
        self.push_partial(data, &mut on_line);
    }

    /// The input ended: a last line without `\n` is still a line.
    pub fn finish(&mut self, mut on_line: impl FnMut(Line<'_>)) {
        let skipping = std::mem::take(&mut self.skipping);
        if !skipping && !self.partial.is_empty() {
            let last = std::mem::take(&mut self.partial);
            self.complete(&last, &mut on_line);
        }
    }

    fn push_partial(&mut self, bytes: &[u8], on_line: &mut impl FnMut(Line<'_>)) {
        if self.skipping || bytes.is_empty() {
            return;
        }
        if self.partial.len() + bytes.len() > self.max_line + 1 {
            self.partial.clear();
            self.skipping = true;
            on_line(Line::TooLong);
        } else {
            self.partial.extend_from_slice(bytes);
        }
    }

    fn complete(&self, line: &[u8], on_line: &mut impl FnMut(Line<'_>)) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > self.max_line {
            on_line(Line::TooLong);
        } else {
            on_line(Line::Complete(line));
        }
    }
}

/// What [`Conn::read_line_max`](crate::Conn::read_line_max) read: Python's
/// `rfile.readline(limit)`, with the three outcomes told apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadLine {
    /// A line, without its `\n` and without a `\r` before it. At EOF, the last line
    /// even if it had no `\n`.
    Line(String),
    /// The line was longer than the limit: it was read through its `\n` and dropped,
    /// never held whole, and the next read starts on the following line.
    TooLong,
    /// The peer closed its side and every line was read.
    Eof,
}

/// Reads one line of at most `max` bytes (not counting `\r\n`) from `reader`, holding
/// at most `max + 1` bytes of it; a longer line is skipped through its `\n`.
pub(crate) fn read_line_max(reader: &mut impl BufRead, max: usize) -> io::Result<ReadLine> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            // EOF: a last line without its `\n` is still a line.
            return match (too_long, line.is_empty()) {
                (true, _) => Ok(ReadLine::TooLong),
                (false, true) => Ok(ReadLine::Eof),
                (false, false) => finish_line(line, max),
            };
        }
        let (chunk, found) = match buf.iter().position(|&b| b == b'\n') {
            Some(end) => (&buf[..end], true),
            None => (buf, false),
        };
        let used = chunk.len() + usize::from(found);
        if !too_long {
            // `max + 1` leaves room for a `\r` before the `\n`.
            if line.len() + chunk.len() > max + 1 {
                too_long = true;
                line = Vec::new();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        reader.consume(used);
        if found {
            return if too_long {
                Ok(ReadLine::TooLong)
            } else {
                finish_line(line, max)
            };
        }
    }
}

fn finish_line(mut line: Vec<u8>, max: usize) -> io::Result<ReadLine> {
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    if line.len() > max {
        return Ok(ReadLine::TooLong);
    }
    String::from_utf8(line)
        .map(ReadLine::Line)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "a line is not valid UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_line_max_tells_lines_too_long_and_eof_apart() {
        // A reader with a 3-byte buffer, so lines arrive split.
        let input: &[u8] = b"ab\r\nwaytoolongline\nabcd\nlast";
        let mut reader = io::BufReader::with_capacity(3, input);
        let mut got = Vec::new();
        loop {
            let line = read_line_max(&mut reader, 4).unwrap();
            got.push(line.clone());
            if line == ReadLine::Eof {
                break;
            }
        }
        let want = [
            ReadLine::Line("ab".into()),
            ReadLine::TooLong,
            ReadLine::Line("abcd".into()),
            ReadLine::Line("last".into()),
            ReadLine::Eof,
        ];
        assert_eq!(got, want);
    }

    fn frame(max: usize, chunks: &[&[u8]]) -> Vec<Result<Vec<u8>, ()>> {
        let mut lines = LineBuffer::new(max);
        let mut out = Vec::new();
        let mut push = |l: Line<'_>| match l {
            Line::Complete(b) => out.push(Ok(b.to_vec())),
            Line::TooLong => out.push(Err(())),
        };
        for chunk in chunks {
            lines.feed(chunk, &mut push);
            assert!(lines.buffered() <= max + 1);
        }
        lines.finish(&mut push);
        out
    }

    #[test]
    fn splits_lines_and_drops_cr() {
        let got = frame(10, &[b"a\r\nbb\n", b"c", b"c\r", b"\n\nlast"]);
        let want: Vec<Result<Vec<u8>, ()>> = vec![
            Ok(b"a".to_vec()),
            Ok(b"bb".to_vec()),
            Ok(b"cc".to_vec()),
            Ok(vec![]),
            Ok(b"last".to_vec()),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn too_long_is_reported_once_and_skipped_whatever_the_split() {
        let long = [b'x'; 25];
        for split in 1..25 {
            let (a, b) = long.split_at(split);
            let got = frame(8, &[b"ok\n", a, b, b"\nafter\n"]);
            assert_eq!(
                got,
                vec![Ok(b"ok".to_vec()), Err(()), Ok(b"after".to_vec())],
                "split {split}"
            );
        }
    }

    #[test]
    fn exactly_max_fits_with_and_without_cr() {
        assert_eq!(frame(4, &[b"abcd\n"]), vec![Ok(b"abcd".to_vec())]);
        assert_eq!(
            frame(4, &[b"ab", b"cd\r", b"\n"]),
            vec![Ok(b"abcd".to_vec())]
        );
        assert_eq!(frame(4, &[b"abcde\n"]), vec![Err(())]);
        assert_eq!(frame(4, &[b"abcd", b"e\r\n"]), vec![Err(())]);
    }
}

//! [`LineSession`]: a Session spoken in lines, and [`Lines`], the adapter that runs it.

use super::{Line, LineBuffer};
use crate::output::Output;
use crate::session::Session;

/// A [`Session`] for a line protocol: called once per line, never with a partial or an
/// over-long one. Run it by wrapping it in [`Lines`], which frames the input with a
/// [`LineBuffer`] (so a client can never make it buffer more than the limit):
/// `.session(|_peer| Lines::new(1024, MySession::default()))`.
///
/// The framing lives in the adapter, not in `self`, so `on_line` can use all of `self`
/// and the output freely (no borrow of a buffer inside `self` is held while it runs).
///
/// # Examples
///
/// ```
/// use sockserv::driver::OutputExt; // to see what was written, as a driver would
/// use sockserv::{LineSession, Lines, Output, Session};
///
/// /// Answers every line with its length.
/// struct Measure;
///
/// impl LineSession for Measure {
///     fn on_line(&mut self, line: &str, out: &mut Output) {
///         out.write(format!("{}\n", line.len()).as_bytes());
///     }
/// }
///
/// let mut session = Lines::new(16, Measure);
/// let mut out = Output::new();
/// session.on_data(b"hello\r\nwor", &mut out);
/// session.on_data(b"ld\n", &mut out);
/// session.on_eof(&mut out);
/// assert_eq!(out.take(), b"5\n5\n");
/// assert!(out.is_closing());
/// ```
pub trait LineSession: Send + 'static {
    /// The connection is open; a greeting written here is sent first.
    fn on_open(&mut self, out: &mut Output) {
        let _ = out;
    }

    /// One line, without its `\n` (or `\r\n`). At EOF, a last line without `\n` counts.
    fn on_line(&mut self, line: &str, out: &mut Output);

    /// A line that was longer than the limit (it is dropped, never held whole) or not
    /// UTF-8. The default closes the connection once what was written has been sent; a
    /// protocol that tolerates it writes an error and returns instead.
    fn on_bad_line(&mut self, line: BadLine, out: &mut Output) {
        let _ = line;
        out.close();
    }

    /// The peer closed its sending side, after its last line was handed over. The
    /// default closes the connection once everything written has been sent.
    fn on_eof(&mut self, out: &mut Output) {
        out.close();
    }

    /// As [`Session::on_wake`].
    fn on_wake(&mut self, out: &mut Output) {
        let _ = out;
    }

    /// As [`Session::on_drained`].
    fn on_drained(&mut self, out: &mut Output) {
        let _ = out;
    }

    /// As [`Session::on_timer`].
    fn on_timer(&mut self, out: &mut Output) {
        let _ = out;
    }

    /// As [`Session::on_shutdown`].
    fn on_shutdown(&mut self, out: &mut Output) {
        let _ = out;
    }

    /// As [`Session::on_close`]: the connection is gone; called once, last.
    fn on_close(&mut self) {}
}

/// Why [`LineSession::on_bad_line`] was called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BadLine {
    /// Longer than the limit given to [`Lines::new`].
    TooLong,
    /// Not valid UTF-8.
    NotUtf8,
}

/// Runs a [`LineSession`] as a [`Session`]: frames the input into lines of at most
/// `max_line` bytes and calls `on_line` for each; at EOF hands over a last unterminated
/// line, then calls `on_eof`. Once the session has closed its output, further lines are
/// not delivered.
#[derive(Debug)]
pub struct Lines<S> {
    framer: LineBuffer,
    inner: S,
}

impl<S: LineSession> Lines<S> {
    /// Wraps `inner`, accepting lines of at most `max_line` bytes (not counting `\r\n`).
    pub fn new(max_line: usize, inner: S) -> Self {
        Lines {
            framer: LineBuffer::new(max_line),
            inner,
        }
    }

    /// The wrapped session.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped session, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }
}

/// Hands one framed line to `inner`, unless its output is already closing.
fn deliver<S: LineSession>(inner: &mut S, line: Line<'_>, out: &mut Output) {
    if out.is_closing() {
        return;
    }
    match line {
        Line::Complete(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => inner.on_line(text, out),
            Err(_) => inner.on_bad_line(BadLine::NotUtf8, out),
        },
        Line::TooLong => inner.on_bad_line(BadLine::TooLong, out),
    }
}

impl<S: LineSession> Session for Lines<S> {
    fn on_open(&mut self, out: &mut Output) {
        self.inner.on_open(out);
    }

    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        let inner = &mut self.inner;
        self.framer.feed(data, |line| deliver(inner, line, out));
    }

    fn on_eof(&mut self, out: &mut Output) {
        let inner = &mut self.inner;
        self.framer.finish(|line| deliver(inner, line, out));
        self.inner.on_eof(out);
    }

    fn on_wake(&mut self, out: &mut Output) {
        self.inner.on_wake(out);
    }

    fn on_drained(&mut self, out: &mut Output) {
        self.inner.on_drained(out);
    }

    fn on_timer(&mut self, out: &mut Output) {
        self.inner.on_timer(out);
    }

    fn on_shutdown(&mut self, out: &mut Output) {
        self.inner.on_shutdown(out);
    }

    fn on_close(&mut self) {
        self.inner.on_close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::OutputExt;

    #[derive(Default)]
    struct Record(Vec<String>);

    impl LineSession for Record {
        fn on_line(&mut self, line: &str, out: &mut Output) {
            self.0.push(line.to_owned());
            if line == "quit" {
                out.close();
            }
        }

        fn on_bad_line(&mut self, line: BadLine, _out: &mut Output) {
            self.0.push(format!("{line:?}"));
        }
    }

    #[test]
    fn lines_bad_lines_and_the_last_unterminated_one_arrive_in_order() {
        let mut session = Lines::new(4, Record::default());
        let mut out = Output::new();
        session.on_data(b"ab\ntoo long\n\xff\nla", &mut out);
        session.on_data(b"st", &mut out);
        session.on_eof(&mut out);
        assert_eq!(
            session.get_ref().0,
            ["ab", "TooLong", "NotUtf8", "last"].map(String::from)
        );
        assert!(out.is_closing());
        assert!(out.pending().is_empty());
    }

    #[test]
    fn nothing_is_delivered_after_the_session_closes() {
        let mut session = Lines::new(8, Record::default());
        let mut out = Output::new();
        session.on_data(b"one\nquit\ntwo\nthree", &mut out);
        session.on_eof(&mut out);
        assert_eq!(session.get_ref().0, ["one", "quit"].map(String::from));
    }

    #[test]
    fn the_default_bad_line_closes() {
        struct Strict;
        impl LineSession for Strict {
            fn on_line(&mut self, line: &str, out: &mut Output) {
                out.write(line.as_bytes());
            }
        }
        let mut session = Lines::new(2, Strict);
        let mut out = Output::new();
        session.on_data(b"ok\nlonger\nnever\n", &mut out);
        assert_eq!(out.take(), b"ok");
        assert!(out.is_closing());
    }
}

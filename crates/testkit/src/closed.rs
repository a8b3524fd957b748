//! "The server closed this connection": EOF (or a reset) within a bound, never a read
//! that merely timed out, and no bytes the test did not expect.

use std::io::{self, Read};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use crate::{is_timeout, Client};

/// A stream whose reads can be bounded: what [`read_until_closed`] needs to turn "the
/// server never closed" into a failure instead of a long read that returns nothing.
pub trait ReadTimeout: Read {
    /// Bounds each read (`None`: unbounded).
    fn set_read_bound(&mut self, bound: Option<Duration>) -> io::Result<()>;
}

impl ReadTimeout for TcpStream {
    fn set_read_bound(&mut self, bound: Option<Duration>) -> io::Result<()> {
        self.set_read_timeout(bound)
    }
}

impl ReadTimeout for UnixStream {
    fn set_read_bound(&mut self, bound: Option<Duration>) -> io::Result<()> {
        self.set_read_timeout(bound)
    }
}

impl ReadTimeout for Client {
    fn set_read_bound(&mut self, bound: Option<Duration>) -> io::Result<()> {
        self.set_timeout(bound);
        Ok(())
    }
}

/// Reads until the peer closes the connection — EOF, or a reset (`ECONNRESET`, which
/// Linux reports when unread data was discarded on close) — and returns what came
/// before. Panics, naming `what`, when the connection is still open after `within`: a
/// server that hangs must not pass as one that closed.
pub fn read_until_closed<S: ReadTimeout + ?Sized>(
    stream: &mut S,
    within: Duration,
    what: &str,
) -> Vec<u8> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            panic!(
                "{what}: the connection was still open after {within:?} ({} bytes read)",
                got.len()
            );
        }
        stream
            .set_read_bound(Some(left))
            .expect("set the read timeout");
        match stream.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if is_timeout(&e) => {}
            Err(e) if is_reset(&e) => return got,
            Err(e) => panic!("{what}: reading until the close: {e}"),
        }
    }
}

/// Asserts the peer closes the connection within `within` without sending a byte: a
/// refused, rejected or cut-off client. Fails on a timeout and on any data.
pub fn expect_closed<S: ReadTimeout + ?Sized>(stream: &mut S, within: Duration, what: &str) {
    let got = read_until_closed(stream, within, what);
    assert!(
        got.is_empty(),
        "{what}: expected the connection closed without data, got {} bytes: {:?}",
        got.len(),
        String::from_utf8_lossy(&got[..got.len().min(200)])
    );
}

/// Whether a read failed because the peer reset the connection.
fn is_reset(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
    )
}

impl<S: ReadTimeout> ReadTimeout for std::io::BufReader<S> {
    fn set_read_bound(&mut self, bound: Option<Duration>) -> io::Result<()> {
        self.get_mut().set_read_bound(bound)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::time::Duration;

    use super::{expect_closed, read_until_closed};

    const SHORT: Duration = Duration::from_millis(50);

    #[test]
    fn a_closed_peer_passes_with_what_it_sent() {
        let (mut ours, mut theirs) = UnixStream::pair().unwrap();
        theirs.write_all(b"bye").unwrap();
        drop(theirs);
        assert_eq!(read_until_closed(&mut ours, SHORT, "closed"), b"bye");
    }

    #[test]
    fn a_peer_that_stays_open_fails_instead_of_passing_as_closed() {
        let (mut ours, _theirs) = UnixStream::pair().unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| expect_closed(&mut ours, SHORT, "open")));
        let message = *outcome.unwrap_err().downcast::<String>().unwrap();
        assert!(message.contains("still open"), "{message}");
    }

    #[test]
    fn bytes_before_the_close_fail_expect_closed() {
        let (mut ours, mut theirs) = UnixStream::pair().unwrap();
        theirs.write_all(b"late echo").unwrap();
        drop(theirs);
        let outcome = catch_unwind(AssertUnwindSafe(|| expect_closed(&mut ours, SHORT, "data")));
        let message = *outcome.unwrap_err().downcast::<String>().unwrap();
        assert!(message.contains("late echo"), "{message}");
    }
}

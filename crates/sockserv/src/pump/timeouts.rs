//! [`ConnSettings`]: a connection's timeouts and output bound, as the builder sets them
//! and every driver keeps them (a blocking socket's own timeouts, or the pump's clocks).

use std::io;
use std::time::Duration;

use crate::output::DEFAULT_HIGH_WATER;

/// Per-connection settings the server applies before a handler or Session runs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConnSettings {
    pub(crate) read_timeout: Option<Duration>,
    pub(crate) write_timeout: Option<Duration>,
    pub(crate) idle_timeout: Option<Duration>,
    /// Queued output above which a Session's connection stops reading.
    pub(crate) high_water: u64,
}

impl Default for ConnSettings {
    fn default() -> Self {
        ConnSettings {
            read_timeout: None,
            write_timeout: None,
            idle_timeout: None,
            high_water: DEFAULT_HIGH_WATER,
        }
    }
}

impl ConnSettings {
    /// The socket timeouts a blocking driver runs with: a blocked read or write is
    /// bounded by its own timeout and by the idle timeout, whichever is shorter.
    pub(crate) fn socket_timeouts(&self) -> (Option<Duration>, Option<Duration>) {
        let min = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        (
            min(self.read_timeout, self.idle_timeout),
            min(self.write_timeout, self.idle_timeout),
        )
    }
}

/// A socket timeout surfaces as `WouldBlock` (EAGAIN); say what it is.
pub(crate) fn name_timeout(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::WouldBlock {
        io::Error::new(
            io::ErrorKind::TimedOut,
            "the peer stayed silent (or did not read) past the timeout",
        )
    } else {
        e
    }
}

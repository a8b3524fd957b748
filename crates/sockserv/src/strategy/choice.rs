//! [`Strategy`]: how many clients are served at once, as a value; what `close` does with
//! the ones still running ([`ClosePolicy`]) and what it found ([`CloseReport`]).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// How a server serves many clients at once (Python's mix-ins, as a value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Strategy {
    /// One request at a time, in the serving thread (Python's plain `TCPServer`). A second
    /// client waits until the first is done: the server is "deaf" while a handler runs.
    Sequential,
    /// A new thread per connection or datagram (`ThreadingMixIn`), without a bound.
    /// Finished threads are forgotten as they finish (never kept until close).
    Threads,
    /// A fixed pool of `workers` threads. While all are busy, new connections wait in the
    /// listen backlog (none is dropped) and are accepted as workers free up.
    Pool {
        /// Number of worker threads (at least 1).
        workers: usize,
    },
    /// A new process per connection or datagram (`ForkingMixIn`), at most `max_children`
    /// at once; beyond that, new connections wait in the backlog. Children are reaped as
    /// they exit (only the ones this server forked). Processes share no memory: a
    /// handler's changes to shared state are lost. See the crate docs for what a child may
    /// do after fork.
    Fork {
        /// Most child processes alive at once (at least 1; the CLI's default is 64).
        max_children: usize,
    },
    /// `loops` event-loop threads (mio), each owning its connections: tens of thousands
    /// of clients on a few threads. Runs [`Session`](crate::Session) handlers only (a
    /// blocking `handle()` would stall every client of its loop).
    Events {
        /// Number of loop threads (at least 1; default: one per core).
        loops: usize,
    },
}

impl Default for Strategy {
    /// [`Strategy::Threads`], the usual choice for blocking handlers.
    fn default() -> Self {
        Strategy::Threads
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Strategy::Sequential => f.write_str("sequential"),
            Strategy::Threads => f.write_str("threads"),
            Strategy::Pool { workers } => write!(f, "pool:{workers}"),
            Strategy::Fork { max_children } => write!(f, "fork:{max_children}"),
            Strategy::Events { loops } => write!(f, "events:{loops}"),
        }
    }
}

impl Strategy {
    /// Workers of `pool` without a count.
    pub const DEFAULT_POOL_WORKERS: usize = 16;
    /// `max_children` of `fork` without a count.
    pub const DEFAULT_MAX_CHILDREN: usize = 64;

    /// One event loop per core: the loops of `events` without a count.
    pub fn default_loops() -> usize {
        std::thread::available_parallelism().map_or(1, usize::from)
    }

    /// [`Strategy::Events`] with one loop per core (`events` on the command line).
    pub fn events() -> Strategy {
        Strategy::Events {
            loops: Strategy::default_loops(),
        }
    }

    /// [`Strategy::Pool`] with [`DEFAULT_POOL_WORKERS`](Strategy::DEFAULT_POOL_WORKERS).
    pub fn pool() -> Strategy {
        Strategy::Pool {
            workers: Strategy::DEFAULT_POOL_WORKERS,
        }
    }
}

impl FromStr for Strategy {
    type Err = ParseStrategyError;

    /// Parses `sequential`, `threads`, `pool`, `pool:N`, `fork`, `fork:N`, `events`,
    /// `events:N`.
    fn from_str(text: &str) -> Result<Self, ParseStrategyError> {
        let (name, count) = match text.split_once(':') {
            Some((name, n)) => {
                let n: usize = n.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                    ParseStrategyError::InvalidCount {
                        input: text.to_owned(),
                        count: n.to_owned(),
                    }
                })?;
                (name, Some(n))
            }
            None => (text, None),
        };
        match (name, count) {
            ("sequential", None) => Ok(Strategy::Sequential),
            ("threads", None) => Ok(Strategy::Threads),
            ("pool", n) => Ok(Strategy::Pool {
                workers: n.unwrap_or(Strategy::DEFAULT_POOL_WORKERS),
            }),
            ("fork", n) => Ok(Strategy::Fork {
                max_children: n.unwrap_or(Strategy::DEFAULT_MAX_CHILDREN),
            }),
            ("events", n) => Ok(Strategy::Events {
                loops: n.unwrap_or_else(Strategy::default_loops),
            }),
            ("sequential" | "threads", Some(_)) => Err(ParseStrategyError::CountNotTaken {
                mode: name.to_owned(),
            }),
            _ => Err(ParseStrategyError::UnknownMode {
                input: text.to_owned(),
            }),
        }
    }
}

/// Why a string is not a [`Strategy`]. Its `Display` is one line naming the input and
/// what is expected, fit for a command-line error.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseStrategyError {
    /// The text after `:` is not a whole number above 0 (`pool:0`, `fork:x`).
    InvalidCount {
        /// The whole text.
        input: String,
        /// The text after `:`.
        count: String,
    },
    /// A mode that takes no count was given one (`threads:4`).
    CountNotTaken {
        /// The mode's name.
        mode: String,
    },
    /// Not one of the modes.
    UnknownMode {
        /// The whole text.
        input: String,
    },
}

impl fmt::Display for ParseStrategyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseStrategyError::InvalidCount { input, count } => write!(
                f,
                "invalid count {count:?} in mode {input:?}: expected a whole number above 0"
            ),
            ParseStrategyError::CountNotTaken { mode } => write!(f, "mode {mode:?} takes no count"),
            ParseStrategyError::UnknownMode { input } => write!(
                f,
                "unknown mode {input:?}: expected sequential, threads, pool[:N], fork[:N] or events[:N]"
            ),
        }
    }
}

impl std::error::Error for ParseStrategyError {}

/// What `close` does with requests still being served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ClosePolicy {
    /// Wait for every one to finish (Python's `block_on_close = True`). The default.
    #[default]
    Join,
    /// Wait at most this long; then leave threads running, kill and reap children.
    JoinTimeout(Duration),
    /// A graceful stop with a deadline: wait at most this long for requests to finish by
    /// themselves, then close the connections still open — a blocking handler's reads
    /// see EOF and its writes fail, an event loop's connections are closed, children are
    /// killed — and wait briefly (a second) for their handlers to return. What finished
    /// and what was cut are both in the [`CloseReport`]. This is what
    /// [`Server::serve_until_signal`](crate::Server::serve_until_signal) does. Every
    /// Session being served hears [`on_shutdown`](crate::Session::on_shutdown) as the
    /// drain begins, under every strategy (a Session with nothing in flight closes there,
    /// so idle connections do not hold the drain up); a blocking handler is not told, and
    /// sees its connection closed at the deadline. Under
    /// [`Strategy::Sequential`] the drain begins at the stop, since the connection being
    /// served holds `serve` (see [`ShutdownHandle`](crate::ShutdownHandle)).
    Drain(Duration),
    /// Do not wait (Python's `daemon_threads` / `block_on_close = False`): threads run on
    /// untracked and die with the process; children are reaped in the background.
    Detach,
}

/// What `close` found: how many requests finished in time, how many were cut at the
/// deadline, and how many were left running.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CloseReport {
    /// Requests still running when close began that finished by themselves before the
    /// deadline.
    pub finished: usize,
    /// Requests whose connection [`ClosePolicy::Drain`] closed at its deadline (and
    /// whose handler then returned).
    pub cut: usize,
    /// Requests still running when close returned (detached threads, killed children, a
    /// handler that did not return after its connection was cut).
    pub left: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_mode_and_prints_it_back() {
        for text in ["sequential", "threads", "pool:3", "fork:2", "events:4"] {
            let strategy: Strategy = text.parse().unwrap();
            assert_eq!(strategy.to_string(), text);
        }
        assert_eq!(
            "pool".parse(),
            Ok(Strategy::Pool {
                workers: Strategy::DEFAULT_POOL_WORKERS
            })
        );
    }

    #[test]
    fn refuses_bad_modes_with_a_typed_one_line_error() {
        let cases = [
            ("pool:0", "whole number above 0"),
            ("fork:x", "whole number above 0"),
            ("threads:4", "takes no count"),
            ("forks", "unknown mode"),
        ];
        for (text, needle) in cases {
            let err = text.parse::<Strategy>().unwrap_err();
            let message = err.to_string();
            assert!(message.contains(needle), "{text}: {message}");
            assert!(!message.contains('\n'), "{text}: {message}");
        }
        assert_eq!(
            "pool:0".parse::<Strategy>(),
            Err(ParseStrategyError::InvalidCount {
                input: "pool:0".into(),
                count: "0".into()
            })
        );
        assert_eq!(
            "threads:4".parse::<Strategy>(),
            Err(ParseStrategyError::CountNotTaken {
                mode: "threads".into()
            })
        );
    }
}

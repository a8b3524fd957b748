//! The typed errors of setup and lifecycle, and the report of a failed connection.

use std::fmt;
use std::io;

use crate::{Endpoint, PeerAddr};

/// Why a server could not be built, bound, served or closed.
///
/// Socket work inside a connection uses `io::Result`; this type is for the server itself.
/// Every variant's `Display` is one line naming what failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Creating, configuring, binding or listening on the endpoint failed; the socket was
    /// closed again (nothing leaks).
    Bind {
        /// The endpoint that could not be bound.
        endpoint: Endpoint,
        /// The OS error.
        source: io::Error,
    },
    /// The combination asked for does not make sense (for example `reuse_port` on a Unix
    /// socket, or a stream handler on a datagram endpoint).
    Unsupported {
        /// What was asked for.
        what: String,
        /// Why it is refused.
        reason: String,
    },
    /// The builder was not given a handler.
    NoHandler,
    /// An I/O error of the serve loop itself (its poller failed), not of a connection.
    Io {
        /// What the server was doing.
        context: &'static str,
        /// The OS error.
        source: io::Error,
    },
}

impl Error {
    pub(crate) fn unsupported(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Unsupported {
            what: what.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn io(context: &'static str, source: io::Error) -> Self {
        Error::Io { context, source }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Bind { endpoint, source } => write!(f, "cannot listen on {endpoint}: {source}"),
            Error::Unsupported { what, reason } => write!(f, "{what} is not supported: {reason}"),
            Error::NoHandler => f.write_str(
                "the server has no handler: call .handler(), .datagram_handler() or .session()",
            ),
            Error::Io { context, source } => write!(f, "{context}: {source}"),
        }
    }
}

/// `source()` is `None`: `Display` already ends with the OS error, and returning it here
/// too would print it twice in error chains (`anyhow`'s `{:#}`). The `io::Error` stays
/// reachable through the variants' `source` fields.
impl std::error::Error for Error {}

/// What went wrong with one connection or datagram, as given to the error hook.
#[derive(Debug)]
#[non_exhaustive]
pub enum Failure {
    /// The handler (or its setup/finish) returned an error.
    Handler(io::Error),
    /// The handler panicked; the payload's message when it was a string.
    Panic(String),
    /// The verify hook panicked; the connection was closed.
    VerifyPanic(String),
    /// Behind a PROXY-protocol balancer: the connection did not start with a valid
    /// header in time; it was closed before any handler ran.
    Proxy(io::Error),
    /// The worker for this connection could not be started (thread spawn or fork failed);
    /// the connection was closed.
    Spawn(io::Error),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Handler(e) => write!(f, "handler error: {e}"),
            Failure::Panic(msg) => write!(f, "handler panicked: {msg}"),
            Failure::VerifyPanic(msg) => write!(f, "verify hook panicked: {msg}"),
            Failure::Spawn(e) => write!(f, "cannot start a worker: {e}"),
            Failure::Proxy(e) => write!(f, "no valid PROXY header: {e}"),
        }
    }
}

/// A failed connection or datagram: who it came from and what went wrong.
#[derive(Debug)]
pub struct ConnError {
    /// The peer the request came from.
    pub peer: PeerAddr,
    /// What went wrong.
    pub failure: Failure,
}

impl fmt::Display for ConnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request from {}: {}", self.peer, self.failure)
    }
}

impl std::error::Error for ConnError {}

/// The message of a panic payload, for reports.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

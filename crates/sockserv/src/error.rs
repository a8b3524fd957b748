//! The typed errors of setup and lifecycle, and the report of a failed connection.

use std::fmt;
use std::io;

use crate::endpoint::{Endpoint, ParseEndpointError, PeerAddr};
use crate::strategy::choice::Strategy;

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
    /// socket, or a stream handler on a datagram endpoint). Refused before any socket is
    /// created.
    Unsupported(Unsupported),
    /// The value given as the endpoint (to [`Server::builder`](crate::Server::builder))
    /// is not one.
    InvalidEndpoint(ParseEndpointError),
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
    pub(crate) fn io(context: &'static str, source: io::Error) -> Self {
        Error::Io { context, source }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Bind { endpoint, source } => write!(f, "cannot listen on {endpoint}: {source}"),
            Error::Unsupported(refused) => fmt::Display::fmt(refused, f),
            Error::InvalidEndpoint(e) => fmt::Display::fmt(e, f),
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

impl From<ParseEndpointError> for Error {
    fn from(e: ParseEndpointError) -> Self {
        Error::InvalidEndpoint(e)
    }
}

/// For [`Server::builder`](crate::Server::builder) given an [`Endpoint`] (or another
/// value whose conversion cannot fail).
impl From<std::convert::Infallible> for Error {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

impl From<Unsupported> for Error {
    fn from(refused: Unsupported) -> Self {
        Error::Unsupported(refused)
    }
}

/// A combination of endpoint, handler, strategy and options that sockserv refuses, and
/// why: the payload of [`Error::Unsupported`]. `Display` says what was asked for and why
/// it cannot work, in one line.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unsupported {
    /// `reuse_port` on a Unix socket: `SO_REUSEPORT` applies to TCP and UDP only.
    ReusePortOnUnix {
        /// The Unix endpoint.
        endpoint: Endpoint,
    },
    /// A handler that shares state between connections
    /// ([`needs_shared_state`](crate::Builder::needs_shared_state)) under
    /// [`Strategy::Fork`]: forked processes share no memory.
    SharedStateUnderFork {
        /// The fork strategy asked for.
        strategy: Strategy,
    },
    /// A worker count of zero (`pool`, `fork` or `events` with no worker).
    NoWorkers {
        /// The strategy asked for.
        strategy: Strategy,
    },
    /// A blocking stream handler under [`Strategy::Events`]: it would stall every client
    /// of its loop.
    BlockingHandlerUnderEvents,
    /// A stream handler on a datagram endpoint.
    StreamHandlerOnDatagram {
        /// The datagram endpoint.
        endpoint: Endpoint,
    },
    /// A datagram handler on a stream endpoint.
    DatagramHandlerOnStream {
        /// The stream endpoint.
        endpoint: Endpoint,
    },
    /// The PROXY protocol on a datagram endpoint (headers are read on streams only).
    ProxyProtocolOnDatagram {
        /// The datagram endpoint.
        endpoint: Endpoint,
    },
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unsupported::ReusePortOnUnix { endpoint } => write!(
                f,
                "reuse_port on {endpoint} is not supported: SO_REUSEPORT applies to TCP and UDP \
                 only (Linux refuses it on Unix sockets)"
            ),
            Unsupported::SharedStateUnderFork { strategy } => write!(
                f,
                "strategy {strategy} for a handler that shares state between connections is not \
                 supported: forked processes share no memory: what one child changes (a \
                 broadcast group, a counter) the others never see"
            ),
            Unsupported::NoWorkers { strategy } => write!(
                f,
                "strategy {strategy} is not supported: it needs at least one worker"
            ),
            Unsupported::BlockingHandlerUnderEvents => f.write_str(
                "a blocking handler under the events strategy is not supported: event loops run \
                 Sessions (.session()); a blocking handle() would stall every client of its loop",
            ),
            Unsupported::StreamHandlerOnDatagram { .. } => f.write_str(
                "a stream handler on a datagram endpoint is not supported: use \
                 .datagram_handler() or .session()",
            ),
            Unsupported::DatagramHandlerOnStream { .. } => f.write_str(
                "a datagram handler on a stream endpoint is not supported: use .handler() or \
                 .session()",
            ),
            Unsupported::ProxyProtocolOnDatagram { .. } => f.write_str(
                "the PROXY protocol on a datagram endpoint is not supported: sockserv reads PROXY \
                 headers on stream connections only",
            ),
        }
    }
}

impl std::error::Error for Unsupported {}

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
    /// The peer left while the handler was reading or writing (`EPIPE`, `ECONNRESET`):
    /// how the connection ended, not a fault of the handler. It is not reported to the
    /// error hook nor counted as a handler error; the close hook sees it
    /// ([`Closed::reason`](crate::report::Closed::reason) is `disconnected`).
    Disconnected(io::Error),
    /// The worker for this connection could not be started (thread spawn or fork failed);
    /// the connection was closed.
    Spawn(io::Error),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Handler(e) => write!(f, "handler error: {e}"),
            Failure::Disconnected(e) => write!(f, "the peer left: {e}"),
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

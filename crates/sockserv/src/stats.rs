//! [`Stats`]: what a server has done, counted cheaply, readable from any thread.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::endpoint::PeerAddr;
use crate::error::Failure;

/// Counters of one server, shared by its workers and readable at any time (for metrics).
///
/// Each counter is one relaxed atomic add per connection event — never per message: bytes
/// are counted by the connection itself and added when it closes. Under
/// [`Strategy::Fork`](crate::Strategy::Fork) the parent sees connections accepted,
/// rejected and closed, but bytes and handler failures happen in the children and are
/// not counted here.
#[derive(Debug, Default)]
pub struct Stats {
    accepted: AtomicU64,
    rejected: AtomicU64,
    proxy_rejected: AtomicU64,
    closed: AtomicU64,
    handler_errors: AtomicU64,
    panics: AtomicU64,
    timeouts: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
}

/// A copy of a server's [`Stats`] at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// Connections (or datagrams) taken from the socket.
    pub accepted: u64,
    /// Of those, refused by the verify hook (closed at once, never served).
    pub rejected: u64,
    /// Of those, refused by the PROXY protocol check: not from a trusted balancer, or
    /// without a valid header.
    pub proxy_rejected: u64,
    /// Served and closed, for any reason.
    pub closed: u64,
    /// Served right now: accepted − rejected − proxy_rejected − closed.
    pub active: u64,
    /// Closed by a handler error (timeouts and panics not included).
    pub handler_errors: u64,
    /// Closed by a handler panic.
    pub panics: u64,
    /// Closed by an idle, read or write timeout.
    pub timeouts: u64,
    /// Bytes received from closed connections (and datagrams).
    pub bytes_in: u64,
    /// Bytes sent to closed connections (and datagram replies).
    pub bytes_out: u64,
}

impl Stats {
    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let accepted = self.accepted.load(Relaxed);
        let rejected = self.rejected.load(Relaxed);
        let proxy_rejected = self.proxy_rejected.load(Relaxed);
        let closed = self.closed.load(Relaxed);
        StatsSnapshot {
            accepted,
            rejected,
            proxy_rejected,
            closed,
            active: accepted
                .saturating_sub(rejected)
                .saturating_sub(proxy_rejected)
                .saturating_sub(closed),
            handler_errors: self.handler_errors.load(Relaxed),
            panics: self.panics.load(Relaxed),
            timeouts: self.timeouts.load(Relaxed),
            bytes_in: self.bytes_in.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
        }
    }

    pub(crate) fn accepted(&self) {
        self.accepted.fetch_add(1, Relaxed);
    }

    pub(crate) fn rejected(&self) {
        self.rejected.fetch_add(1, Relaxed);
    }

    pub(crate) fn proxy_rejected(&self) {
        self.proxy_rejected.fetch_add(1, Relaxed);
    }

    /// One served request ended (in this process).
    pub(crate) fn closed(&self, closed: &Closed<'_>) {
        self.bytes_in.fetch_add(closed.bytes_in, Relaxed);
        self.bytes_out.fetch_add(closed.bytes_out, Relaxed);
        match closed.failure {
            None | Some(Failure::Disconnected(_)) => {}
            Some(Failure::Panic(_)) => {
                self.panics.fetch_add(1, Relaxed);
            }
            Some(Failure::Handler(e)) if e.kind() == std::io::ErrorKind::TimedOut => {
                self.timeouts.fetch_add(1, Relaxed);
            }
            Some(_) => {
                self.handler_errors.fetch_add(1, Relaxed);
            }
        }
        self.closed.fetch_add(1, Relaxed);
    }

    /// A request ended somewhere this process cannot see into (a forked child).
    pub(crate) fn closed_elsewhere(&self) {
        self.closed.fetch_add(1, Relaxed);
    }
}

/// One finished connection (or datagram), as the close hook sees it.
#[derive(Debug)]
#[non_exhaustive]
pub struct Closed<'a> {
    /// Who it was.
    pub peer: &'a PeerAddr,
    /// From accept to close.
    pub duration: Duration,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// Why it ended, if not normally (the peer or the handler closed it).
    pub failure: Option<&'a Failure>,
}

impl Closed<'_> {
    /// A short reason for logs: `closed`, `disconnected` (the peer left while the handler
    /// was writing or reading: EPIPE, ECONNRESET), `timeout`, `panic` or `error`.
    pub fn reason(&self) -> &'static str {
        match self.failure {
            None => "closed",
            Some(Failure::Disconnected(_)) => "disconnected",
            Some(Failure::Handler(e)) if e.kind() == std::io::ErrorKind::TimedOut => "timeout",
            Some(Failure::Panic(_)) => "panic",
            Some(_) => "error",
        }
    }
}

impl fmt::Display for Closed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} after {:.3}s, {} bytes in, {} bytes out",
            self.peer,
            self.reason(),
            self.duration.as_secs_f64(),
            self.bytes_in,
            self.bytes_out
        )?;
        if let Some(failure) = self.failure {
            write!(f, " ({failure})")?;
        }
        Ok(())
    }
}

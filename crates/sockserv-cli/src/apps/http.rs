//! The HTTP file server: Python's `http.server` as a sans-IO [`Session`], with HTTP/1.1
//! keep-alive, pipelining, ranges, validators and optional gzip.
//!
//! One [`HttpSession`] per connection parses request heads with httparse
//! ([`head`]), resolves paths under the served directory ([`path`]), and answers GET and
//! HEAD ([`files`]): files through [`Output::send_file`](sockserv::Output::send_file)
//! (never read whole), directory listings ([`listing`]), ranges ([`range`]),
//! conditional requests ([`conditional`]), gzip ([`gzip`]). Every other method is 501.
//! Memory per connection is bounded: the unparsed input (a head is at most
//! [`head::MAX_HEAD`] bytes), request bodies are skipped, never kept, and pipelined
//! requests wait while more than [`session::PAUSE_ABOVE`] bytes of output are queued.
//! Responses built in memory are bounded too: error pages, gzip (at most
//! [`gzip::MAX_GZIP_FILE`] of input); a directory listing is one page, as in Python.

pub mod conditional;
pub mod files;
pub mod gzip;
pub mod head;
pub mod listing;
pub mod path;
pub mod range;
pub mod response;
pub mod session;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sockserv::{PeerAddr, SessionFactory};

pub use self::path::Root;
pub use self::session::HttpSession;

/// What the server serves and how.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// The served directory.
    pub root: Root,
    /// Compress text types for clients that accept gzip (`--gzip`).
    pub gzip: bool,
    /// Longest time a request head may take to arrive once it has started; `None`: no
    /// limit (the connection's idle and read timeouts still apply).
    pub header_timeout: Option<Duration>,
}

/// Requests answered, by status class (1xx to 5xx), for `--metrics`.
#[derive(Debug, Default)]
pub struct HttpCounters {
    classes: [AtomicU64; 5],
}

impl HttpCounters {
    /// Counts one response with `status`.
    pub fn count(&self, status: u16) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.classes[class].fetch_add(1, Ordering::Relaxed);
    }

    /// Responses so far: `[1xx, 2xx, 3xx, 4xx, 5xx]`.
    pub fn by_class(&self) -> [u64; 5] {
        std::array::from_fn(|i| self.classes[i].load(Ordering::Relaxed))
    }
}

/// The file server: a cheap handle (`Clone`) making one [`HttpSession`] per connection.
#[derive(Clone)]
pub struct Http {
    config: Arc<HttpConfig>,
    counters: Arc<HttpCounters>,
}

impl Http {
    /// A server for `config`.
    pub fn new(config: HttpConfig) -> Http {
        Http {
            config: Arc::new(config),
            counters: Arc::default(),
        }
    }

    /// Its counters, shared by every session.
    pub fn counters(&self) -> Arc<HttpCounters> {
        Arc::clone(&self.counters)
    }
}

impl SessionFactory for Http {
    type Session = HttpSession;

    fn open(&self, peer: &PeerAddr) -> HttpSession {
        HttpSession::new(
            Arc::clone(&self.config),
            Arc::clone(&self.counters),
            peer.clone(),
        )
    }
}

#[cfg(test)]
mod tests;

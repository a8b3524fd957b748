//! [`Http`]: a handler and its settings, making one [`HttpSession`] per connection (the
//! [`SessionFactory`] a `sockserv::Builder` takes), and the [`Counters`] they share.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sockserv::{PeerAddr, SessionFactory};

use crate::handler::{FnHandler, Handler};
use crate::offload::Offload;
use crate::request::{Request, MAX_HEAD};
use crate::response::Response;
use crate::session::{HttpSession, MAX_BODY};
use crate::status::Status;
use crate::writer::Protocol;

/// HTTP/1.1 over any stream endpoint, answering with `H`: Python's `HTTPServer` with its
/// `RequestHandlerClass`, as a sockserv [`SessionFactory`] (so it runs under every
/// strategy, the event loops included, and behind TLS).
///
/// A cheap handle: cloning it shares the handler and the counters.
///
/// # Examples
///
/// ```no_run
/// use sockserv::Server;
/// use sockserv_http::{Http, Response, Status};
///
/// let http = Http::from_fn(|request, _peer| match request.target {
///     "/" => Response::new(Status::OK).with_body("hello\n"),
///     _ => Response::error(Status::NOT_FOUND, "Nothing here"),
/// });
/// let mut server = Server::builder("tcp://127.0.0.1:8080").session_factory(http).bind()?;
/// server.serve()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Http<H> {
    shared: Arc<Shared<H>>,
}

/// What every session of one [`Http`] reads.
pub(crate) struct Shared<H> {
    pub(crate) handler: H,
    pub(crate) header_timeout: Option<Duration>,
    pub(crate) max_head: usize,
    pub(crate) max_body: u64,
    pub(crate) protocol: Protocol,
    pub(crate) offload: Option<Offload>,
    pub(crate) counters: Arc<Counters>,
}

impl<H: Handler> Http<H> {
    /// Serves `handler`, with no header timeout and a head limit of [`MAX_HEAD`] bytes.
    pub fn new(handler: H) -> Http<H> {
        Http {
            shared: Arc::new(Shared {
                handler,
                header_timeout: None,
                max_head: MAX_HEAD,
                max_body: 0,
                protocol: Protocol::Http11,
                offload: None,
                counters: Arc::default(),
            }),
        }
    }

    /// Answers a head still incomplete `timeout` after it started arriving with 408 and
    /// closes (slowloris); `None` (the default): no limit, the connection's own idle and
    /// read timeouts still apply.
    ///
    /// # Panics
    ///
    /// If clones of this `Http` exist already (set it up before cloning).
    pub fn header_timeout(self, timeout: Option<Duration>) -> Http<H> {
        self.configure(|shared| shared.header_timeout = timeout)
    }

    /// Refuses a request head longer than `bytes` with 431 and closes (default
    /// [`MAX_HEAD`]).
    ///
    /// # Panics
    ///
    /// If clones of this `Http` exist already (set it up before cloning).
    pub fn max_head(self, bytes: usize) -> Http<H> {
        self.configure(|shared| shared.max_head = bytes)
    }

    /// Reads a request body of at most `bytes` (capped at [`MAX_BODY`]) whole before the
    /// handler runs, and gives it in [`Request::content`] (Python's `rfile`). Default 0:
    /// bodies are skipped, never kept. A larger body, or a chunked one, reaches the
    /// handler as [`Request::body`] only, with an empty `content` (answer 413 if it
    /// matters). The header timeout covers the body too.
    ///
    /// # Panics
    ///
    /// If clones of this `Http` exist already (set it up before cloning).
    pub fn max_body(self, bytes: u64) -> Http<H> {
        self.configure(|shared| shared.max_body = bytes.min(MAX_BODY))
    }

    /// Answers as `protocol` (default [`Protocol::Http11`]). [`Protocol::Http10`] is
    /// Python's default: `HTTP/1.0` status lines and one request per connection, every
    /// response closing it with `Connection: close`.
    ///
    /// # Panics
    ///
    /// If clones of this `Http` exist already (set it up before cloning).
    pub fn protocol(self, protocol: Protocol) -> Http<H> {
        self.configure(|shared| shared.protocol = protocol)
    }

    /// Decides responses on `pool`'s workers instead of the connection's thread, so a
    /// slow decision (a large directory listing, gzip, a cold disk) never stalls the
    /// other connections of an event loop. For the event-loop strategies: under the
    /// blocking ones each connection has a thread of its own already.
    ///
    /// # Panics
    ///
    /// If clones of this `Http` exist already (set it up before cloning).
    pub fn offload(self, pool: Offload) -> Http<H> {
        self.configure(|shared| shared.offload = Some(pool))
    }

    fn configure(mut self, f: impl FnOnce(&mut Shared<H>)) -> Http<H> {
        let shared = Arc::get_mut(&mut self.shared)
            .expect("configure an Http before cloning it: the clones share its settings");
        f(shared);
        self
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.shared.handler
    }

    /// The responses counted so far, by every session (shared: read it while serving).
    pub fn counters(&self) -> Arc<Counters> {
        Arc::clone(&self.shared.counters)
    }
}

impl<F> Http<FnHandler<F>>
where
    F: Fn(&Request<'_>, &PeerAddr) -> Response + Send + Sync + 'static,
{
    /// Serves a closure from a request and the peer's address to a response.
    pub fn from_fn(f: F) -> Http<FnHandler<F>> {
        Http::new(FnHandler(f))
    }
}

impl<H> Clone for Http<H> {
    fn clone(&self) -> Self {
        Http {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<H> fmt::Debug for Http<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Http")
            .field("header_timeout", &self.shared.header_timeout)
            .field("max_head", &self.shared.max_head)
            .field("max_body", &self.shared.max_body)
            .field("protocol", &self.shared.protocol)
            .finish_non_exhaustive()
    }
}

impl<H: Handler> SessionFactory for Http<H> {
    type Session = HttpSession<H>;

    fn open(&self, peer: &PeerAddr) -> HttpSession<H> {
        HttpSession::new(Arc::clone(&self.shared), peer.clone())
    }
}

/// Responses sent, by status class (1xx to 5xx): for a metrics page.
#[derive(Debug, Default)]
pub struct Counters {
    classes: [AtomicU64; 5],
}

impl Counters {
    /// Counts one response with `status`.
    pub fn count(&self, status: Status) {
        let class = usize::from(status.0 / 100).clamp(1, 5) - 1;
        self.classes[class].fetch_add(1, Ordering::Relaxed);
    }

    /// Responses so far: `[1xx, 2xx, 3xx, 4xx, 5xx]`.
    pub fn by_class(&self) -> [u64; 5] {
        std::array::from_fn(|i| self.classes[i].load(Ordering::Relaxed))
    }
}

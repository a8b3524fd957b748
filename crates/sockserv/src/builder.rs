//! [`Builder`]: endpoint, handler, strategy, options and hooks, then `bind`.

mod plan;

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use crate::acl::AccessList;
use crate::conn::Conn;
use crate::endpoint::{Endpoint, PeerAddr};
use crate::error::{ConnError, Error};
use crate::handler::{Datagram, DatagramHandler, StreamHandler};
use crate::proxied::ProxyConfig;
use crate::pump::ConnSettings;
use crate::request::{CloseHook, ErrorHook, TickHook, TimeoutHook, VerifyFn};
use crate::server::Server;
use crate::session::{self, OpenFn, Session, SessionFactory};
use crate::stats::Closed;
use crate::strategy::{ClosePolicy, Strategy};
use crate::transport::{Listener, SocketOptions};

use self::plan::Target;

/// What serves each request, as registered: one variant per kind of handler.
enum Handler {
    Stream(Arc<dyn StreamHandler>),
    Datagram(Arc<dyn DatagramHandler>),
    Session(OpenFn),
}

enum Source {
    /// An endpoint to bind, or why the value given for it is not one (reported by `bind`).
    Endpoint(Result<Endpoint, Error>),
    Listener(Listener),
}

impl Server {
    /// Starts configuring a server on `endpoint`: an [`Endpoint`], or anything that
    /// converts to one, such as `"tcp://127.0.0.1:9000"` or a `SocketAddr`. A string that
    /// is not an endpoint is reported by [`bind`](Builder::bind) as
    /// [`Error::InvalidEndpoint`].
    pub fn builder<E>(endpoint: E) -> Builder
    where
        E: TryInto<Endpoint>,
        Error: From<E::Error>,
    {
        Builder::with_source(Source::Endpoint(endpoint.try_into().map_err(Error::from)))
    }

    /// Starts configuring a server on an already-bound listener (two-phase construction,
    /// socket activation).
    pub fn from_listener(listener: Listener) -> Builder {
        Builder::with_source(Source::Listener(listener))
    }
}

/// Configures a [`Server`]; [`bind`](Builder::bind) makes it.
///
/// Defaults: [`Strategy::Threads`], [`ClosePolicy::Join`], [`SocketOptions::default`], no
/// per-connection timeouts, `max_packet_size` 8192, failed requests reported as `tracing`
/// error events (a library does not print; install a subscriber to see them).
#[must_use = "a builder does nothing until .bind()"]
pub struct Builder {
    source: Source,
    options: SocketOptions,
    strategy: Strategy,
    close_policy: ClosePolicy,
    settings: ConnSettings,
    max_packet_size: usize,
    max_connections: Option<usize>,
    shared_state: bool,
    proxy: Option<ProxyConfig>,
    handler: Option<Handler>,
    verify: Option<Arc<VerifyFn>>,
    on_error: ErrorHook,
    on_close: Option<CloseHook>,
    on_timeout: Option<TimeoutHook>,
    on_tick: Option<(Duration, TickHook)>,
}

impl Builder {
    fn with_source(source: Source) -> Builder {
        Builder {
            source,
            options: SocketOptions::default(),
            strategy: Strategy::default(),
            close_policy: ClosePolicy::default(),
            settings: ConnSettings::default(),
            max_packet_size: 8192,
            max_connections: None,
            shared_state: false,
            proxy: None,
            handler: None,
            verify: None,
            on_error: Arc::new(|err: &ConnError| {
                tracing::error!(peer = %err.peer, error = %err.failure, "request failed");
            }),
            on_close: None,
            on_timeout: None,
            on_tick: None,
        }
    }

    /// Serves each stream connection with a blocking handler written as a closure over
    /// the connection: `.handler(|conn| { ... })` (Python's `handle()`). The closure's
    /// types are inferred from this method, so no annotation is needed. A handler type
    /// with `setup`/`finish` (a [`StreamHandler`] "subclass") goes to
    /// [`stream_handler`](Builder::stream_handler).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::io::{BufRead, Write};
    ///
    /// let server = sockserv::Server::builder("127.0.0.1:0")
    ///     .handler(|conn| {
    ///         let mut line = String::new();
    ///         conn.read_line(&mut line)?;
    ///         conn.write_all(line.as_bytes())
    ///     })
    ///     .bind();
    /// ```
    pub fn handler<F>(self, handler: F) -> Self
    where
        F: Fn(&mut Conn) -> io::Result<()> + Send + Sync + 'static,
    {
        self.stream_handler(handler)
    }

    /// Serves each stream connection with a [`StreamHandler`] value (a type with
    /// `handle`, and optionally `setup`/`finish`).
    pub fn stream_handler(mut self, handler: impl StreamHandler) -> Self {
        self.handler = Some(Handler::Stream(Arc::new(handler)));
        self
    }

    /// Serves each datagram with a blocking handler written as a closure over the
    /// datagram and the reply: `.datagram_handler(|request, reply| { ... })` (Python's
    /// `DatagramRequestHandler.handle()`, `reply` its `wfile`). The closure's types are
    /// inferred from this method. A [`DatagramHandler`] type of yours goes in as
    /// `move |request, reply| handler.handle(request, reply)`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// // An upper-casing UDP echo: what comes back is one datagram per request.
    /// let server = sockserv::Server::builder("udp://127.0.0.1:0")
    ///     .datagram_handler(|request, reply| {
    ///         reply.extend(request.data().to_ascii_uppercase());
    ///         Ok(())
    ///     })
    ///     .bind();
    /// ```
    pub fn datagram_handler<F>(mut self, handler: F) -> Self
    where
        F: Fn(&Datagram<'_>, &mut Vec<u8>) -> io::Result<()> + Send + Sync + 'static,
    {
        self.handler = Some(Handler::Datagram(Arc::new(handler)));
        self
    }

    /// Serves each connection (or datagram) with a fresh [`Session`] made by `open`:
    /// `.session(|_peer| Echo)`. The closure's types are inferred from this method. Works
    /// on stream and datagram endpoints and under every strategy. A [`SessionFactory`]
    /// value (a type holding shared state, a TLS wrapper) goes to
    /// [`session_factory`](Builder::session_factory).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use sockserv::{Output, Session};
    ///
    /// struct Echo;
    ///
    /// impl Session for Echo {
    ///     fn on_data(&mut self, data: &[u8], out: &mut Output) {
    ///         out.write(data);
    ///     }
    /// }
    ///
    /// let server = sockserv::Server::builder("127.0.0.1:0").session(|_peer| Echo).bind();
    /// ```
    pub fn session<F, S>(self, open: F) -> Self
    where
        F: Fn(&PeerAddr) -> S + Send + Sync + 'static,
        S: Session,
    {
        self.session_factory(open)
    }

    /// Serves each connection (or datagram) with a fresh [`Session`] from `factory`.
    pub fn session_factory(mut self, factory: impl SessionFactory) -> Self {
        self.handler = Some(Handler::Session(session::erase(factory)));
        self
    }

    /// How many clients are served at once.
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// What `close` does with requests still running.
    pub fn close_policy(mut self, policy: ClosePolicy) -> Self {
        self.close_policy = policy;
        self
    }

    /// All socket options at once.
    pub fn socket_options(mut self, options: SocketOptions) -> Self {
        self.options = options;
        self
    }

    /// `SO_REUSEADDR` on TCP (default true; see [`SocketOptions::reuse_address`]).
    pub fn reuse_address(mut self, on: bool) -> Self {
        self.options.reuse_address = on;
        self
    }

    /// `SO_REUSEPORT` (TCP/UDP only; default false).
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.options.reuse_port = on;
        self
    }

    /// The listen backlog (default `SOMAXCONN`).
    pub fn backlog(mut self, backlog: i32) -> Self {
        self.options.backlog = backlog;
        self
    }

    /// `TCP_NODELAY` on accepted connections (default true).
    pub fn nodelay(mut self, on: bool) -> Self {
        self.options.nodelay = on;
        self
    }

    /// Bounds every read of a connection (Python's `StreamRequestHandler.timeout`): a
    /// client silent for longer is disconnected and the error hook is told. `None` (the
    /// default) waits forever — under [`Strategy::Sequential`] one idle client then holds
    /// the whole server, so set one there.
    pub fn read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.settings.read_timeout = timeout;
        self
    }

    /// Closes a connection after `timeout` with no bytes either way (reported to the error
    /// hook as a timeout). Under the blocking strategies it bounds every read and write
    /// like the two timeouts above; event loops check it on a timer. `None` (the default):
    /// no limit.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.settings.idle_timeout = timeout;
        self
    }

    /// Bounds every write of a connection (a client that does not read).
    pub fn write_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.settings.write_timeout = timeout;
        self
    }

    /// The output high-water mark of a Session's connection, in bytes (default 64 KiB,
    /// as Netty's): once that much output waits for a peer that does not read, the
    /// connection stops reading until the peer catches up, so a client that sends and
    /// never reads holds about this much memory, plain or TLS
    /// ([`Output::is_backed_up`](crate::Output::is_backed_up)). Values below 1 KiB are
    /// raised to 1 KiB.
    pub fn high_water(mut self, bytes: u64) -> Self {
        self.settings.high_water = bytes.max(1024);
        self
    }

    /// Largest datagram delivered whole (default 8192); longer ones are cut to it and
    /// marked [`Datagram::is_truncated`](crate::Datagram::is_truncated).
    pub fn max_packet_size(mut self, size: usize) -> Self {
        self.max_packet_size = size.max(1);
        self
    }

    /// Serves at most `limit` connections (or datagrams) at once. The next client waits in
    /// the listen backlog — it is not accepted, so never dropped — and is accepted as soon
    /// as one ends. Default: no limit beyond the strategy's own (`pool:N`, `fork:N`).
    pub fn max_connections(mut self, limit: usize) -> Self {
        self.max_connections = Some(limit.max(1));
        self
    }

    /// Declares that the handler shares state between connections (a broadcast
    /// [`Group`](crate::Group), a shared counter), so it must not run under
    /// [`Strategy::Fork`]: `bind` then refuses fork with [`Error::Unsupported`] instead of
    /// serving a room whose members can never reach each other (Python's docs leave this
    /// to "use your head").
    pub fn needs_shared_state(mut self) -> Self {
        self.shared_state = true;
        self
    }

    /// Serves behind load balancers that speak the PROXY protocol (v1 or v2, detected):
    /// only peers in `trusted` may connect (others are closed at once), and each
    /// connection must start with a valid header within 5 s (else it is closed). The
    /// client address in the header is the one the verify hook, the handler, the error
    /// and close hooks see. The verify hook then runs on the worker, after the header.
    /// Stream endpoints only; Unix-socket peers are trusted (file permissions decide).
    pub fn proxy_protocol(mut self, trusted: AccessList) -> Self {
        self.proxy = Some(ProxyConfig { trusted });
        self
    }

    /// Accepts or rejects each peer before any handler runs (Python's `verify_request`).
    /// A rejected connection is closed at once (the client reads EOF); a panic in the
    /// hook rejects too and is reported.
    pub fn verify(mut self, verify: impl Fn(&PeerAddr) -> bool + Send + Sync + 'static) -> Self {
        self.verify = Some(Arc::new(verify));
        self
    }

    /// Called with the peer and the failure when a handler errs or panics (Python's
    /// `handle_error`); the server goes on. Runs on the worker that served the request.
    pub fn on_error(mut self, hook: impl Fn(&ConnError) + Send + Sync + 'static) -> Self {
        self.on_error = Arc::new(hook);
        self
    }

    /// Called once for every connection (or datagram) served, when it ends, with its
    /// peer, duration, traffic and failure if any: one log line per connection. Runs on
    /// the worker that served it (under fork: in the child).
    pub fn on_close(mut self, hook: impl Fn(&Closed<'_>) + Send + Sync + 'static) -> Self {
        self.on_close = Some(Arc::new(hook));
        self
    }

    /// Called when [`Server::handle_one`] times out (Python's `handle_timeout`).
    pub fn on_timeout(mut self, hook: impl FnMut() + Send + 'static) -> Self {
        self.on_timeout = Some(Box::new(hook));
        self
    }

    /// Called in the serving thread every `interval` while idle and after each batch of
    /// requests (Python's `service_actions`). The interval only paces this hook; shutdown
    /// never waits for it.
    pub fn on_tick(mut self, interval: Duration, hook: impl FnMut() + Send + 'static) -> Self {
        self.on_tick = Some((interval, Box::new(hook)));
        self
    }

    /// Checks the combination asked for, binds the endpoint (or takes the given listener)
    /// and starts the strategy's workers.
    ///
    /// # Errors
    ///
    /// Before any socket is created (a listener given to [`Server::from_listener`] is closed
    /// again): [`Error::InvalidEndpoint`]; [`Error::NoHandler`];
    /// [`Error::Unsupported`] for a combination that cannot work (a stream handler on UDP,
    /// a zero worker count, `reuse_port` on a Unix socket, ...). Then [`Error::Bind`]
    /// naming the endpoint and the OS error. On error every socket opened so far is closed.
    pub fn bind(self) -> Result<Server, Error> {
        let (target, plan) = self.validate()?;
        let listener = match target {
            Target::Bind(endpoint) => Listener::bind(&endpoint, &plan.options)?,
            Target::Adopt(listener) => listener,
        };
        plan.wire(listener)
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source: &dyn fmt::Debug = match &self.source {
            Source::Endpoint(Ok(endpoint)) => endpoint,
            Source::Endpoint(Err(e)) => e,
            Source::Listener(listener) => listener,
        };
        f.debug_struct("Builder")
            .field("source", source)
            .field("strategy", &self.strategy)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

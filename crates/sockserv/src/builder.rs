//! [`Builder`]: endpoint, handler, strategy, options and hooks, then `bind`.

use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use mio::{Poll, Waker};

use crate::drive::Blocking;
use crate::error::ConnError;
use crate::handler::ConnSettings;
use crate::proxied::ProxyConfig;
use crate::server::{Hooks, Server, VerifyFn, LISTENER, WAKE};
use crate::shutdown::Control;
use crate::stats::{Closed, Stats};
use crate::strategy::{dispatcher, CloseHook, Context, ErrorHook, OpenFn, Service};
use crate::{
    AccessList, ClosePolicy, DatagramHandler, Endpoint, Error, Listener, PeerAddr, Session,
    SessionFactory, SocketOptions, Strategy, StreamHandler,
};

enum Handler {
    Stream(Arc<dyn StreamHandler>),
    Datagram(Arc<dyn DatagramHandler>),
    Session {
        stream: Arc<dyn StreamHandler>,
        datagram: Arc<dyn DatagramHandler>,
        open: OpenFn,
    },
}

enum Source {
    Endpoint(Endpoint),
    Listener(Listener),
}

/// Configures a [`Server`]; [`bind`](Builder::bind) makes it.
///
/// Defaults: [`Strategy::Threads`], [`ClosePolicy::Join`], [`SocketOptions::default`], no
/// per-connection timeouts, `max_packet_size` 8192, errors printed to stderr.
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
    on_timeout: Option<Box<dyn FnMut() + Send>>,
    on_tick: Option<(Duration, Box<dyn FnMut() + Send>)>,
}

impl Builder {
    pub(crate) fn new(endpoint: Endpoint) -> Builder {
        Builder::with_source(Source::Endpoint(endpoint))
    }

    pub(crate) fn from_listener(listener: Listener) -> Builder {
        Builder::with_source(Source::Listener(listener))
    }

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
            on_error: Arc::new(|err: &ConnError| eprintln!("sockserv: {err}")),
            on_close: None,
            on_timeout: None,
            on_tick: None,
        }
    }

    /// Serves each stream connection with a blocking handler.
    pub fn handler(mut self, handler: impl StreamHandler) -> Self {
        self.handler = Some(Handler::Stream(Arc::new(handler)));
        self
    }

    /// Serves each datagram with a blocking datagram handler.
    pub fn datagram_handler(mut self, handler: impl DatagramHandler) -> Self {
        self.handler = Some(Handler::Datagram(Arc::new(handler)));
        self
    }

    /// Serves each connection (or datagram) with a fresh [`Session`](crate::Session) from
    /// `factory`. Works on stream and datagram endpoints and under every strategy.
    pub fn session(mut self, factory: impl SessionFactory) -> Self {
        let driver = Arc::new(Blocking(factory));
        let factory = Arc::clone(&driver);
        let open: OpenFn =
            Arc::new(move |peer: &PeerAddr| -> Box<dyn Session> { Box::new(factory.0.open(peer)) });
        self.handler = Some(Handler::Session {
            stream: driver.clone(),
            datagram: driver,
            open,
        });
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

    /// Binds the endpoint (or takes the given listener) and starts the strategy's workers.
    ///
    /// # Errors
    ///
    /// [`Error::NoHandler`]; [`Error::Unsupported`] for a handler that does not fit the
    /// endpoint (a stream handler on UDP) or a zero worker count; [`Error::Bind`] naming the
    /// endpoint and the OS error. On error every socket opened so far is closed.
    pub fn bind(self) -> Result<Server, Error> {
        let Builder {
            source,
            options,
            strategy,
            close_policy,
            settings,
            max_packet_size,
            max_connections,
            shared_state,
            proxy,
            handler,
            verify,
            on_error,
            on_close,
            on_timeout,
            on_tick,
        } = self;
        let handler = handler.ok_or(Error::NoHandler)?;
        if let (true, Strategy::Fork { .. }) = (shared_state, strategy) {
            return Err(Error::unsupported(
                format!("strategy {strategy} for a handler that shares state between connections"),
                "forked processes share no memory: what one child changes (a broadcast group, \
                 a counter) the others never see",
            ));
        }
        if matches!(
            strategy,
            Strategy::Pool { workers: 0 } | Strategy::Fork { max_children: 0 }
        ) {
            return Err(Error::unsupported(
                format!("strategy {strategy}"),
                "it needs at least one worker",
            ));
        }
        let datagram = match &source {
            Source::Endpoint(ep) => ep.is_datagram(),
            Source::Listener(l) => l.is_datagram(),
        };
        let open = match &handler {
            Handler::Session { open, .. } => Some(Arc::clone(open)),
            _ => None,
        };
        if let (Strategy::Events { .. }, None, false) = (strategy, &open, datagram) {
            return Err(Error::unsupported(
                "a blocking handler under the events strategy",
                "event loops run Sessions (.session()); a blocking handle() would stall every client of its loop",
            ));
        }
        let service = match (handler, datagram) {
            (Handler::Stream(h), false) | (Handler::Session { stream: h, .. }, false) => {
                Service::Stream(h)
            }
            (Handler::Datagram(h), true) | (Handler::Session { datagram: h, .. }, true) => {
                Service::Datagram(h)
            }
            (Handler::Stream(_), true) => {
                return Err(Error::unsupported(
                    "a stream handler on a datagram endpoint",
                    "use .datagram_handler() or .session()",
                ))
            }
            (Handler::Datagram(_), false) => {
                return Err(Error::unsupported(
                    "a datagram handler on a stream endpoint",
                    "use .handler() or .session()",
                ))
            }
        };
        let listener = match source {
            Source::Endpoint(ep) => Listener::bind(&ep, &options)?,
            Source::Listener(l) => l,
        };
        let endpoint = listener.local_endpoint().clone();
        let io = |source| Error::Bind {
            endpoint: endpoint.clone(),
            source,
        };
        listener.set_nonblocking(true).map_err(io)?;
        let poll = Poll::new().map_err(io)?;
        let control = Control::new(Waker::new(poll.registry(), WAKE).map_err(io)?);
        poll.registry()
            .register(
                &mut mio::unix::SourceFd(&listener.as_raw_fd()),
                LISTENER,
                mio::Interest::READABLE,
            )
            .map_err(io)?;
        let reply = if datagram {
            Some(listener.datagram_socket().map_err(io)?)
        } else {
            None
        };
        let stats = Arc::new(Stats::default());
        if proxy.is_some() && datagram {
            return Err(Error::unsupported(
                "the PROXY protocol on a datagram endpoint",
                "sockserv reads PROXY headers on stream connections only",
            ));
        }
        let ctx = Arc::new(Context {
            verify: if proxy.is_some() {
                verify.clone()
            } else {
                None
            },
            proxy: proxy.clone(),
            service,
            on_error: Arc::clone(&on_error),
            on_close,
            stats: Arc::clone(&stats),
            settings,
            reply,
        });
        let wake = {
            let control = Arc::clone(&control);
            Arc::new(move || control.wake())
        };
        let dispatch = dispatcher(
            strategy,
            ctx,
            wake,
            listener.as_raw_fd(),
            open,
            max_connections,
        )
        .map_err(io)?;
        let hooks = Hooks {
            verify,
            proxy,
            on_error,
            on_timeout,
            on_tick,
        };
        Ok(Server::new(
            listener,
            poll,
            control,
            dispatch,
            hooks,
            strategy,
            close_policy,
            max_packet_size,
            stats,
        ))
    }
}

//! [`Server`]: the serve loop, `handle_one` and shutdown (closing is in `close.rs`, the
//! listener's hand-over in `handover.rs`).

use std::io::ErrorKind;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};

use crate::backoff::Backoff;
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::request::{Context, TickHook, TimeoutHook};
use crate::shutdown::{Control, ShutdownHandle};
use crate::stats::Stats;
use crate::strategy::{dispatcher, ClosePolicy, CloseReport, Dispatch, Strategy};
use crate::transport::Listener;

mod accept;
mod close;
pub(crate) mod drain;
mod handover;
mod signals;

pub use handover::ListenerHandle;
use handover::Slot;
pub use signals::StopOnSignals;

const LISTENER: Token = Token(0);
const WAKE: Token = Token(1);

/// What the builder hands the serve loop once every check has passed and the listener
/// is bound.
pub(crate) struct Setup {
    pub(crate) ctx: Arc<Context>,
    pub(crate) strategy: Strategy,
    pub(crate) close_policy: ClosePolicy,
    pub(crate) max_packet_size: usize,
    pub(crate) max_connections: Option<usize>,
    pub(crate) on_timeout: Option<TimeoutHook>,
    pub(crate) on_tick: Option<(Duration, TickHook)>,
}

/// What [`Server::handle_one`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// A request was taken and handed to the strategy (under `Sequential` it has been
    /// served when this returns; otherwise it may still be running).
    Handled,
    /// A connection was refused by the verify hook and closed.
    Rejected,
    /// No request came within the timeout; the timeout hook ran.
    TimedOut,
    /// A shutdown was requested (the request stays pending for `serve`).
    ShutDown,
}

/// A bound server: an endpoint, a handler and a strategy (Python's `BaseServer` family).
///
/// Lifecycle: [`Server::builder`] → [`bind`](crate::Builder::bind) → [`serve`](Server::serve) (or
/// [`handle_one`](Server::handle_one) in your own loop) → shutdown through a
/// [`ShutdownHandle`] → [`close`](Server::close). Dropping a server closes it without
/// waiting for running requests (as [`ClosePolicy::Detach`]); call `close` to wait.
///
/// # Examples
///
/// ```
/// use std::io::{BufRead, Read, Write};
/// use sockserv::{Conn, Server, Strategy};
///
/// let mut server = Server::builder("127.0.0.1:0")
///     .strategy(Strategy::Threads)
///     .handler(|conn: &mut Conn| {
///         let mut line = String::new();
///         conn.read_line(&mut line)?;
///         conn.write_all(line.as_bytes())
///     })
///     .bind()
///     .unwrap();
/// let addr = server.local_endpoint().socket_addr().unwrap();
/// let stop = server.shutdown_handle();
/// let serving = std::thread::spawn(move || {
///     server.serve().unwrap();
///     server.close().unwrap();
/// });
///
/// let mut client = std::net::TcpStream::connect(addr).unwrap();
/// client.write_all(b"hello world\n").unwrap();
/// let mut reply = String::new();
/// client.read_to_string(&mut reply).unwrap();
/// assert_eq!(reply, "hello world\n");
///
/// stop.shutdown();
/// serving.join().unwrap();
/// ```
pub struct Server {
    listener: Option<Listener>,
    /// What [`ListenerHandle`]s see of the listener.
    slot: Arc<Slot>,
    endpoint: Endpoint,
    poll: Poll,
    events: Events,
    control: Arc<Control>,
    dispatch: Box<dyn Dispatch>,
    /// The hooks and counters shared with the workers.
    ctx: Arc<Context>,
    on_timeout: Option<TimeoutHook>,
    on_tick: Option<(Duration, TickHook)>,
    strategy: Strategy,
    recv_buf: Vec<u8>,
    max_packet_size: usize,
    listener_ready: bool,
    backoff: Backoff,
    last_tick: Instant,
}

impl Server {
    /// Wires a bound listener to a poller, a shutdown waker and the strategy's workers.
    /// On error everything made so far, the listener included, is closed.
    pub(crate) fn start(listener: Listener, setup: Setup) -> Result<Server, Error> {
        let endpoint = listener.local_endpoint().clone();
        let io = |source| Error::Bind {
            endpoint: endpoint.clone(),
            source,
        };
        listener.set_nonblocking(true).map_err(io)?;
        let poll = Poll::new().map_err(io)?;
        let served_inline =
            (setup.strategy == Strategy::Sequential).then(|| Arc::clone(&setup.ctx));
        let control = Control::new(
            Waker::new(poll.registry(), WAKE).map_err(io)?,
            setup.close_policy,
            served_inline,
        );
        poll.registry()
            .register(
                &mut SourceFd(&listener.as_raw_fd()),
                LISTENER,
                Interest::READABLE,
            )
            .map_err(io)?;
        let wake = {
            let control = Arc::clone(&control);
            Arc::new(move || control.wake())
        };
        let dispatch = dispatcher(
            setup.strategy,
            Arc::clone(&setup.ctx),
            wake,
            listener.as_raw_fd(),
            setup.max_connections,
        )
        .map_err(io)?;
        let recv_buf = if listener.is_datagram() {
            vec![0; setup.max_packet_size + 1]
        } else {
            Vec::new()
        };
        Ok(Server {
            endpoint,
            slot: Slot::new(listener.as_raw_fd(), listener.owns_socket_file()),
            listener: Some(listener),
            poll,
            events: Events::with_capacity(256),
            control,
            dispatch,
            ctx: setup.ctx,
            on_timeout: setup.on_timeout,
            on_tick: setup.on_tick,
            strategy: setup.strategy,
            recv_buf,
            max_packet_size: setup.max_packet_size,
            listener_ready: true,
            backoff: Backoff::default(),
            last_tick: Instant::now(),
        })
    }

    /// The endpoint served, with the real port when bound to port 0.
    pub fn local_endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The strategy this server runs.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// A handle that stops [`serve`](Server::serve) from any thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            control: Arc::clone(&self.control),
        }
    }

    /// The server's counters (accepted, rejected, closed, failures, bytes), shared: keep
    /// the `Arc` to read them from another thread while it serves.
    pub fn stats(&self) -> Arc<Stats> {
        Arc::clone(&self.ctx.stats)
    }

    /// Requests being served right now by workers (threads, pool, fork); finished ones
    /// are never counted.
    pub fn active_workers(&self) -> usize {
        self.dispatch.active()
    }

    /// Serves requests until a [`ShutdownHandle`] asks it to stop (Python's
    /// `serve_forever`). After a shutdown it returns at once, accepts nothing more, and can
    /// be called again.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] only if the poller itself fails. Handler failures go to the error
    /// hook; accept failures (EMFILE and the like) are logged and backed off.
    pub fn serve(&mut self) -> Result<(), Error> {
        self.listener_ready = true;
        let result = self.serve_loop();
        self.control.reset();
        result
    }

    fn serve_loop(&mut self) -> Result<(), Error> {
        loop {
            if self.control.stop_requested() {
                return Ok(());
            }
            let mut served = 0;
            while let Some(_outcome) = self.take_one() {
                served += 1;
                if self.control.stop_requested() {
                    return Ok(());
                }
            }
            if served > 0 {
                self.tick(true);
            }
            let wait = self
                .tick_wait()
                .into_iter()
                .chain(self.backoff.remaining())
                .min();
            self.poll_once(wait)?;
            self.tick(false);
        }
    }

    /// Serves until SIGINT (Ctrl-C) or SIGTERM — or a [`ShutdownHandle`] — asks it to
    /// stop, then closes gracefully: stops accepting at once, lets running requests
    /// finish for up to `drain`, closes the connections still open after that
    /// ([`ClosePolicy::Drain`]), removes the Unix socket file, and reports what finished
    /// and what was cut. A second Ctrl-C during the drain ends the process at once. This
    /// is the `serve_forever()` of a program whose only job is this server.
    ///
    /// # Errors
    ///
    /// The signal handlers could not be installed, or [`serve`](Server::serve) failed
    /// (the server is closed either way).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::io::Write;
    /// use std::time::Duration;
    ///
    /// # fn main() -> Result<(), sockserv::Error> {
    /// let server = sockserv::Server::builder("unix:/tmp/echo.sock")
    ///     .handler(|conn| {
    ///         while let Some(line) = conn.next_line(1024)? {
    ///             writeln!(conn, "{line}")?;
    ///         }
    ///         Ok(())
    ///     })
    ///     .bind()?;
    /// let report = server.serve_until_signal(Duration::from_secs(5))?;
    /// eprintln!("{} finished, {} cut", report.finished, report.cut);
    /// # Ok(())
    /// # }
    /// ```
    pub fn serve_until_signal(mut self, drain: Duration) -> Result<CloseReport, Error> {
        let signals = StopOnSignals::install([self.shutdown_handle()])
            .map_err(|e| Error::io("installing the SIGINT/SIGTERM handlers", e))?;
        // Known before the stop: under the sequential strategy the drain begins with it.
        self.control.set_policy(ClosePolicy::Drain(drain));
        let served = self.serve();
        let report = self.close_with(self.control.policy());
        drop(signals);
        served.map(|()| report)
    }

    /// Waits up to `timeout` (`None`: forever) for one request and hands it to the
    /// strategy (Python's `handle_request`). The timeout bounds the wait for a request,
    /// not the handler.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] only if the poller fails.
    pub fn handle_one(&mut self, timeout: Option<Duration>) -> Result<Outcome, Error> {
        let deadline = timeout.map(|t| Instant::now() + t);
        self.listener_ready = true;
        loop {
            if self.control.stop_requested() {
                return Ok(Outcome::ShutDown);
            }
            if let Some(outcome) = self.take_one() {
                self.tick(true);
                return Ok(outcome);
            }
            let left = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) => Some(left),
                    None => {
                        if let Some(hook) = &mut self.on_timeout {
                            hook();
                        }
                        return Ok(Outcome::TimedOut);
                    }
                },
                None => None,
            };
            let wait = left.into_iter().chain(self.backoff.remaining()).min();
            self.poll_once(wait)?;
        }
    }

    fn poll_once(&mut self, timeout: Option<Duration>) -> Result<(), Error> {
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(Error::io("waiting for requests", e)),
        }
        for event in self.events.iter() {
            match event.token() {
                LISTENER => self.listener_ready = true,
                WAKE => {}
                token => self.dispatch.on_event(token, self.poll.registry()),
            }
        }
        Ok(())
    }

    fn tick_wait(&self) -> Option<Duration> {
        let (interval, _) = self.on_tick.as_ref()?;
        Some(interval.saturating_sub(self.last_tick.elapsed()))
    }

    fn tick(&mut self, after_request: bool) {
        if let Some((interval, hook)) = &mut self.on_tick {
            if after_request || self.last_tick.elapsed() >= *interval {
                self.last_tick = Instant::now();
                hook();
            }
        }
    }
}

impl AsFd for Server {
    /// The listening socket (Python's `fileno()`), e.g. to multiplex several servers.
    ///
    /// # Panics
    ///
    /// Never: a server is closed only by consuming it.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.listener
            .as_ref()
            .expect("open until close() consumes the server")
            .as_fd()
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("endpoint", &self.endpoint)
            .field("strategy", &self.strategy)
            .finish_non_exhaustive()
    }
}
